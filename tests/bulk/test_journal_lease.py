"""The journal's per-job lease: one live run per job, takeover after the holder died."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, SendMessage
from heymarket_async.bulk import BatchSender, Journal, broadcast
from heymarket_async.bulk._journal import KEYLESS_JOB
from heymarket_async.errors import BulkSendError
from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

from ..helpers import worker_process
from .conftest import phones, sends
from .test_batch_sender import assert_exactly_once

SEND = "POST /v1/message/send"


def expire_leases(path: Path) -> None:
    """Make every lease in the journal at ``path`` expired, as if its ttl had passed."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE leases SET expires_at = 0")


def take_over(path: Path, job: str, owner: str) -> float:
    """Hand ``job``'s lease to ``owner`` in one transaction, as a run taking over an expired
    lease would; returns the time after it committed."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(
            "UPDATE leases SET owner = ?, run_id = NULL, expires_at = ? WHERE job = ?",
            (owner, time.time() + 30, job),
        )
    return time.time()


def run_endings(path: Path) -> dict[str, str | None]:
    """How each run recorded in the journal at ``path`` ended, by run id."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT run_id, ending FROM runs"))


def slow_sends(sb: Sandbox, seconds: float = 0.05, *, after_commit: bool = False) -> None:
    """Every send takes ``seconds`` (before, or after, the server commits it)."""
    sb.faults = FaultPlan()
    sb.faults.random(Fault.latency(seconds, after_commit=after_commit), probability=1.0, route=SEND)


# --- the lease itself ------------------------------------------------------------------


async def test_a_live_lease_refuses_a_second_owner_and_names_the_holder(tmp_path: Path) -> None:
    """While one owner holds a job's lease, another is refused with the holder and expiry."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        held = await journal.acquire_lease("april", owner="host-a:1:aa", ttl=30, now=1000.0)
        assert (held.owner, held.expires_at) == ("host-a:1:aa", 1030.0)
        with pytest.raises(BulkSendError) as refused:
            await journal.acquire_lease("april", owner="host-b:2:bb", ttl=30, now=1010.0)
        message = str(refused.value)
        assert "'april' is already running" in message
        assert "host-a:1:aa" in message
        assert "1970-01-01 00:17:10 UTC" in message  # when the holder's lease expires
        other = await journal.acquire_lease("may", owner="host-b:2:bb", ttl=30, now=1010.0)
        assert other.job == "may"  # leases are per job


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(
    tmp_path: Path,
) -> None:
    """A lease not renewed in time passes to the next owner; the old one learns it lost."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        await journal.acquire_lease("april", owner="dead", ttl=10, now=1000.0)
        taken = await journal.acquire_lease("april", owner="next", ttl=10, now=1011.0)
        assert taken.owner == "next"
        with pytest.raises(BulkSendError, match=r"'april' lost its lease.*next holds it"):
            await journal.renew_lease("april", owner="dead", ttl=10, now=1012.0)
        renewed = await journal.renew_lease("april", owner="next", ttl=10, now=1015.0)
        assert renewed.expires_at == 1025.0


async def test_release_frees_the_job_only_for_its_owner(tmp_path: Path) -> None:
    """Releasing someone else's lease does nothing; the owner's release frees the job."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        await journal.acquire_lease("april", owner="a", ttl=30)
        await journal.release_lease("april", owner="b")
        with pytest.raises(BulkSendError, match="already running"):
            await journal.acquire_lease("april", owner="b", ttl=30)
        await journal.release_lease("april", owner="a")
        assert (await journal.acquire_lease("april", owner="b", ttl=30)).owner == "b"


async def test_a_claim_is_refused_once_another_run_took_the_lease(tmp_path: Path) -> None:
    """A run whose lease was taken over cannot claim another send; nothing is written."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal, Journal(path) as other:
        await journal.acquire_lease("april", owner="slow", ttl=10, run_id="r1", now=1000.0)
        await journal.claim("before", run_id="r1")
        await other.acquire_lease("april", owner="fast", ttl=10, now=time.time() + 20)
        with pytest.raises(BulkSendError, match=r"lost its lease.*fast holds it"):
            await journal.claim("after", run_id="r1")
        assert await journal.get("after") is None
        assert await journal.get("before") is not None


async def test_a_claim_under_an_expired_unclaimed_lease_extends_it(tmp_path: Path) -> None:
    """A claim made after the lease expired, before anyone took over, renews it first, so
    no other run can take the job while that send is in flight."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal, Journal(path) as other:
        await journal.acquire_lease("april", owner="slow", ttl=30, run_id="r1", now=1000.0)
        await journal.claim("late", run_id="r1")  # now is far past 1030
        with pytest.raises(BulkSendError, match="already running"):
            await other.acquire_lease("april", owner="fast", ttl=30)


async def test_the_heartbeat_keeps_the_lease_alive_past_its_ttl(tmp_path: Path) -> None:
    """A job that runs for several ttls keeps its lease: the heartbeat renews it."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path, lease_ttl=0.3) as journal, Journal(path) as other:
        async with journal.lease("april", owner="holder"):
            await asyncio.sleep(1.2)  # four ttls
            with pytest.raises(BulkSendError, match="holder"):
                await other.acquire_lease("april", owner="intruder")
        assert (await other.acquire_lease("april", owner="intruder")).owner == "intruder"


async def test_losing_the_lease_cancels_the_body_and_raises_bulk_send_error(
    tmp_path: Path,
) -> None:
    """When another run takes the lease over, the holder's body is stopped and the block
    raises BulkSendError naming the new holder; the run is recorded as having lost it."""
    path = tmp_path / "j.sqlite3"
    stopped = asyncio.Event()
    async with Journal(path, lease_ttl=0.3) as journal, Journal(path) as other:

        async def body() -> None:
            async with journal.lease("april", owner="stalled", run_id="r1"):
                try:
                    await asyncio.sleep(60)
                finally:
                    stopped.set()

        job = asyncio.create_task(body())
        await asyncio.sleep(0.05)
        expire_leases(path)
        await other.acquire_lease("april", owner="intruder", ttl=30)
        with pytest.raises(BulkSendError, match=r"'april' lost its lease.*intruder holds it"):
            await asyncio.wait_for(job, 10)
        assert stopped.is_set()
        assert not job.cancelled()
    assert run_endings(path) == {"r1": "lost its lease"}


async def test_cancellation_releases_the_lease_and_still_propagates(tmp_path: Path) -> None:
    """A job cancelled from outside releases its lease at once and stays cancelled."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal:
        entered = asyncio.Event()

        async def body() -> None:
            async with journal.lease("april", owner="holder", run_id="r1"):
                entered.set()
                await asyncio.sleep(60)

        job = asyncio.create_task(body())
        await entered.wait()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert await journal.leases() == []
        assert (await journal.acquire_lease("april", owner="next")).owner == "next"
    assert run_endings(path) == {"r1": "cancelled"}


# --- jobs in one process ---------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["one-journal-object", "two-connections"])
async def test_a_second_sender_on_a_running_job_is_refused(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path, *, shared: bool
) -> None:
    """Two BatchSenders with one journal and key at once: the second is refused before it
    sends anything, and every recipient gets exactly one message."""
    path = tmp_path / "j.sqlite3"
    numbers = list(phones(60))
    slow_sends(sandbox)
    first_journal = Journal(path)
    second_journal: Journal | Path = first_journal if shared else path
    first = BatchSender(client, concurrency=4, key="april", journal=first_journal)
    second = BatchSender(client, concurrency=4, key="april", journal=second_journal)
    outcomes = 0
    async with contextlib.aclosing(first.stream(sends(sandbox, numbers))) as stream:
        async for _ in stream:
            outcomes += 1
            if outcomes == 1:
                before = sandbox.stats.total_requests
                with pytest.raises(BulkSendError, match=r"'april' is already running.*held by"):
                    await second.send_all(sends(sandbox, numbers))
                assert sandbox.stats.total_requests - before <= 4  # only the first's sends
    await first_journal.close()
    assert outcomes == len(numbers)
    assert_exactly_once(sandbox, numbers)


async def test_senders_without_a_key_share_one_job_name(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Keyless senders on one journal are one job: a second one at once is refused."""
    path = tmp_path / "j.sqlite3"
    slow_sends(sandbox)
    numbers = list(phones(20))
    requests = [
        SendMessage(
            inbox_id=sandbox.default_inbox_id,
            creator_id=sandbox.default_creator_id,
            phone_number=number,
            text="Hi",
            local_id=f"crm-{number}",
        )
        for number in numbers
    ]
    started = asyncio.Event()
    first = BatchSender(client, journal=path, on_outcome=lambda _: started.set())
    job = asyncio.create_task(first.send_all(requests))
    await started.wait()
    with pytest.raises(BulkSendError, match=re.escape(f"{KEYLESS_JOB!r} is already running")):
        await BatchSender(client, journal=path).send_all(requests)
    report = await job
    assert report.sent == len(numbers)
    assert_exactly_once(sandbox, numbers)


async def test_a_second_broadcast_of_a_running_job_is_refused(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Two broadcast() runs of one key and journal at once: the second is refused."""
    path = tmp_path / "j.sqlite3"
    numbers = list(phones(30))
    slow_sends(sandbox, 0.3)
    job = asyncio.create_task(
        broadcast(
            client,
            inbox_id=sandbox.default_inbox_id,
            creator_id=sandbox.default_creator_id,
            phones=numbers,
            text="Hi",
            key="spring",
            list_size=10,
            journal=path,
        )
    )
    while not sandbox.stats.total_requests:  # noqa: ASYNC110 - the first run has started
        await asyncio.sleep(0.01)
    with pytest.raises(BulkSendError, match="'spring' is already running"):
        await broadcast(
            client,
            inbox_id=sandbox.default_inbox_id,
            creator_id=sandbox.default_creator_id,
            phones=numbers,
            text="Hi",
            key="spring",
            list_size=10,
            journal=path,
        )
    report = await job
    assert report.sent == len(numbers)
    assert_exactly_once(sandbox, numbers)


async def test_a_sender_that_loses_its_lease_stops_and_claims_nothing_more(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A run whose lease is taken over mid-job stops with BulkSendError naming the new
    holder and claims no send afterwards; the new holder finishes, each recipient once."""
    path = tmp_path / "j.sqlite3"
    numbers = list(phones(200))
    slow_sends(sandbox)
    journal = Journal(path, lease_ttl=0.3)
    sender = BatchSender(client, concurrency=4, key="april", journal=journal)
    taken_at = 0.0

    async def consume() -> None:
        nonlocal taken_at
        async for outcome in sender.stream(sends(sandbox, numbers)):
            if outcome.index >= 10 and not taken_at:
                taken_at = take_over(path, "april", "intruder")

    with pytest.raises(BulkSendError, match=r"'april' lost its lease.*intruder") as stopped:
        await consume()
    await journal.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        [(run_id,)] = db.execute("SELECT run_id FROM runs")
        late = db.execute(
            "SELECT COUNT(*) FROM sends WHERE run_id = ? AND first_attempt_at > ?",
            (run_id, taken_at),
        ).fetchone()[0]
        states = dict(db.execute("SELECT local_id, state FROM sends"))
    assert late == 0
    assert len(sandbox.ledger) < len(numbers)
    assert all(states[local_id] == "inflight" for local_id in stopped.value.inflight)
    expire_leases(path)  # the intruder was only a stand-in; let a real run take over
    sandbox.faults = FaultPlan()
    report = await BatchSender(client, key="april", journal=path).send_all(sends(sandbox, numbers))
    assert report.ok
    assert report.skipped == len(sandbox.ledger) - report.sent
    assert_exactly_once(sandbox, numbers)


# --- jobs in separate processes --------------------------------------------------------


def worker(
    sb: Sandbox, journal: Path, count: int, key: str, ttl: float
) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """A BatchSender job in a child process (``tests.bulk._lease_worker``)."""
    return worker_process(
        sb,
        "tests.bulk._lease_worker",
        str(journal),
        str(count),
        key,
        str(sb.default_inbox_id),
        str(sb.default_creator_id),
        str(ttl),
    )


async def _until_sent(sb: Sandbox, child: asyncio.subprocess.Process, count: int) -> None:
    async with asyncio.timeout(60):
        while len(sb.ledger) < count and child.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert child.returncode is None, "the worker ended before it had sent enough"


async def test_a_second_process_on_a_running_job_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A job running in one process refuses the same job started in another process, which
    names the holder's pid and sends nothing; the first finishes, each recipient once."""
    path = tmp_path / "j.sqlite3"
    count = 600
    slow_sends(sandbox, 0.2)  # the first job lasts long enough to start the second
    async with worker(sandbox, path, count, "april", ttl=30) as first:
        await _until_sent(sandbox, first, 1)
        async with worker(sandbox, path, count, "april", ttl=30) as second:
            out, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 3, (out + err).decode()[-2000:]
        message = json.loads(out)["error"]
        assert "'april' is already running" in message
        assert f":{first.pid}:" in message
        sandbox.faults = FaultPlan()
        out, err = await asyncio.wait_for(first.communicate(), 60)
        assert first.returncode == 0, err.decode()[-2000:]  # it was running all along
    assert json.loads(out) == {"sent": count, "skipped": 0}
    assert_exactly_once(sandbox, list(phones(count)))


async def test_a_killed_holder_is_taken_over_once_its_lease_expires(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """SIGKILL the holder mid-job: a rerun is refused while the dead run's lease lasts, then
    takes over, looks up the sends left in flight, and each recipient gets one message."""
    path = tmp_path / "j.sqlite3"
    count = 300
    ttl = 4.0
    numbers = list(phones(count))
    # Committed, then answered late: at the kill, sends are in flight yet already delivered.
    slow_sends(sandbox, 0.2, after_commit=True)
    async with worker(sandbox, path, count, "april", ttl=ttl) as holder:
        await _until_sent(sandbox, holder, 40)
        holder.kill()
        await holder.wait()
    delivered = len(sandbox.ledger)
    async with Journal(path) as book:
        assert (await book.counts()).get("inflight", 0) > 0
    sandbox.faults = FaultPlan()
    rerun = BatchSender(client, concurrency=8, key="april", journal=path)
    with pytest.raises(BulkSendError, match=r"'april' is already running.*held by"):
        await rerun.send_all(sends(sandbox, numbers))
    assert len(sandbox.ledger) == delivered
    await asyncio.sleep(ttl)  # the dead run's lease runs out
    report = await rerun.send_all(sends(sandbox, numbers))
    assert report.ok
    assert report.skipped == delivered  # in-flight sends were found in history, not resent
    assert report.sent == count - delivered
    assert_exactly_once(sandbox, numbers)
