"""The Redis journal with the bulk machinery, against the sandbox and a real redis-server.

The journal contract shared with SQLite is in tests/bulk/test_journal_contract.py; here:
exactly once under faults, one live run per job across processes, a SIGKILLed worker taken
over by another process, Redis failures as typed errors, and the journal's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from heymarket_async import HeymarketClient
from heymarket_async.bulk import BatchSender, broadcast
from heymarket_async.errors import BulkSendError, RequestValidationError
from heymarket_async.redis import RedisJournal
from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

from ..bulk.conftest import client_for, phones, sends
from ..bulk.test_batch_sender import assert_exactly_once
from ..helpers import worker_process
from ..redis_server import RedisServer

SEND = "POST /v1/message/send"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with client_for(sandbox) as hm:
        yield hm


def slow_sends(sb: Sandbox, seconds: float, *, after_commit: bool = False) -> None:
    sb.faults = FaultPlan()
    sb.faults.random(Fault.latency(seconds, after_commit=after_commit), probability=1.0, route=SEND)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- exactly once through the bulk machinery ---------------------------------------------


async def test_a_batch_under_faults_lands_exactly_once_and_a_rerun_sends_nothing(
    sandbox: Sandbox, client: HeymarketClient, redis_url: str
) -> None:
    """1,000 sends under a 20 % mix of every fault, journaled in Redis: each recipient once,
    the journal counts them all sent, and a rerun on a new connection sends nothing."""
    sandbox.faults = FaultPlan.chaos(0.2, seed=11, max_delay=0.01)
    numbers = list(phones(1000))
    async with RedisJournal(redis_url, namespace="april") as journal:
        report = await BatchSender(client, concurrency=16, key="april", journal=journal).send_all(
            sends(sandbox, numbers)
        )
        assert (report.sent, report.failed, report.unknown) == (1000, 0, 0)
        assert await journal.counts() == {"sent": 1000}
        assert await journal.leases() == []  # released at the end
    assert_exactly_once(sandbox, numbers)
    sandbox.faults = FaultPlan()
    async with RedisJournal(redis_url, namespace="april") as again:
        rerun = await BatchSender(client, key="april", journal=again).send_all(
            sends(sandbox, numbers)
        )
    assert (rerun.sent, rerun.skipped) == (0, 1000)
    assert_exactly_once(sandbox, numbers)


async def test_a_broadcast_under_faults_lands_exactly_once_and_a_rerun_sends_nothing(
    sandbox: Sandbox, client: HeymarketClient, redis_url: str
) -> None:
    """A list broadcast of 2,500 phones in lists of 400 under faults on every route,
    journaled in Redis: each phone once; a rerun creates no list and sends nothing."""
    sandbox.faults = FaultPlan.chaos(0.2, seed=5, max_delay=0.01)
    numbers = list(phones(2500))
    job = {
        "inbox_id": sandbox.default_inbox_id,
        "creator_id": sandbox.default_creator_id,
        "phones": numbers,
        "text": "Spring sale",
        "key": "spring",
        "list_size": 400,
    }
    async with RedisJournal(redis_url, namespace="spring") as journal:
        report = await broadcast(client, journal=journal, **job)  # type: ignore[arg-type]
    assert report.unknown == 0
    assert report.sent + report.skipped + report.failed == 2500
    if report.failed:  # a list that could not be created: certainly not sent; a rerun does it
        sandbox.faults = FaultPlan()
        async with RedisJournal(redis_url, namespace="spring") as journal:
            await broadcast(client, journal=journal, **job)  # type: ignore[arg-type]
    counts = sandbox.ledger_counts_by_recipient()
    assert set(counts) == set(numbers)
    assert set(counts.values()) == {1}
    sandbox.faults = FaultPlan()
    lists_before = sandbox.stats.requests("POST /v2/lists")
    async with RedisJournal(redis_url, namespace="spring") as journal:
        again = await broadcast(client, journal=journal, **job)  # type: ignore[arg-type]
    assert (again.sent, again.skipped, again.lists_created) == (0, 2500, 0)
    assert sandbox.stats.requests("POST /v2/lists") == lists_before
    assert set(sandbox.ledger_counts_by_recipient().values()) == {1}


async def test_a_second_live_sender_on_the_job_is_refused(
    sandbox: Sandbox, client: HeymarketClient, redis_url: str
) -> None:
    """Two senders of one job on two connections to one Redis journal, at once: the second
    is refused naming the first's owner and sends nothing; the first sends each once."""
    numbers = list(phones(200))
    slow_sends(sandbox, 0.02)
    first_journal = RedisJournal(redis_url, namespace="april")
    second_journal = RedisJournal(redis_url, namespace="april")
    first = asyncio.create_task(
        BatchSender(client, concurrency=4, key="april", journal=first_journal).send_all(
            sends(sandbox, numbers)
        )
    )
    async with asyncio.timeout(30):
        while not sandbox.ledger:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    sent_before = len(sandbox.ledger)
    with pytest.raises(BulkSendError, match=rf"'april' is already running.*:{os.getpid()}:"):
        await BatchSender(client, key="april", journal=second_journal).send_all(
            sends(sandbox, numbers)
        )
    assert len(sandbox.ledger) >= sent_before
    report = await asyncio.wait_for(first, 60)
    assert report.sent == 200
    await first_journal.close()
    await second_journal.close()
    assert_exactly_once(sandbox, numbers)


async def test_a_sender_that_loses_its_lease_stops_and_claims_nothing_more(
    sandbox: Sandbox, client: HeymarketClient, redis_url: str
) -> None:
    """A run whose lease another run takes over mid-job stops with BulkSendError naming the
    new holder, claims no send after the takeover, and leaves its unsettled sends in flight;
    the next run finishes the job, each recipient once."""
    numbers = list(phones(200))
    slow_sends(sandbox, 0.05)
    journal = RedisJournal(redis_url, namespace="april", lease_ttl=0.3)
    sender = BatchSender(client, concurrency=4, key="april", journal=journal)
    taken_at = 0.0
    async with (
        RedisJournal(redis_url, namespace="april") as intruder,
        aioredis.Redis.from_url(redis_url, decode_responses=True) as raw,
    ):

        async def consume() -> None:
            nonlocal taken_at
            async for outcome in sender.stream(sends(sandbox, numbers)):
                if outcome.index >= 10 and not taken_at:
                    # A run whose clock says the lease expired long ago takes it over.
                    await intruder.acquire_lease("april", owner="intruder", now=time.time() + 60)
                    seconds, micros = await raw.time()
                    taken_at = seconds + micros / 1e6

        with pytest.raises(BulkSendError, match=r"'april' lost its lease.*intruder") as stopped:
            await consume()
        await journal.close()
        [run_id] = await raw.hkeys("{april}:runs")
        entries = {
            local_id: json.loads(entry)
            for local_id, entry in (await raw.hgetall("{april}:sends")).items()
        }
        late = [e for e in entries.values() if e["r"] == run_id and e["f"] > taken_at]
        assert late == []
        assert len(sandbox.ledger) < len(numbers)
        # The error lists exactly what this run left in flight (possibly nothing, when its
        # last sends finished before the refused claim).
        left = {i for i, e in entries.items() if e["r"] == run_id and e["s"] == "inflight"}
        assert set(stopped.value.inflight) == left
        await intruder.release_lease("april", owner="intruder")
    sandbox.faults = FaultPlan()
    async with RedisJournal(redis_url, namespace="april") as again:
        report = await BatchSender(client, key="april", journal=again).send_all(
            sends(sandbox, numbers)
        )
    assert report.ok
    assert report.skipped == len(sandbox.ledger) - report.sent
    assert_exactly_once(sandbox, numbers)


async def test_lease_expiry_follows_the_servers_clock_not_the_machines(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder whose machine clock runs an hour behind still holds its lease for its ttl on
    the server's clock: a machine with a right clock is refused, then takes over after."""
    real_time = time.time
    async with (
        RedisJournal(redis_url, namespace="clocks") as behind,
        RedisJournal(redis_url, namespace="clocks") as right,
    ):
        monkeypatch.setattr(time, "time", lambda: real_time() - 3600)
        await behind.acquire_lease("april", owner="behind", ttl=1.0)
        monkeypatch.setattr(time, "time", real_time)
        with pytest.raises(BulkSendError, match="held by behind"):
            await right.acquire_lease("april", owner="right", ttl=1.0)
        await asyncio.sleep(1.1)
        assert (await right.acquire_lease("april", owner="right", ttl=1.0)).owner == "right"


# --- a worker killed mid-shard -----------------------------------------------------------


def worker(
    sb: Sandbox, url: str, count: int, key: str, ttl: float
) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """A BatchSender job journaled in Redis, in a child process."""
    return worker_process(
        sb,
        "tests.redis._journal_worker",
        url,
        "campaign",
        str(count),
        key,
        str(sb.default_inbox_id),
        str(sb.default_creator_id),
        str(ttl),
    )


async def test_a_killed_worker_is_taken_over_by_another_process_after_its_lease(
    sandbox: Sandbox, redis_url: str
) -> None:
    """SIGKILL a worker process mid-shard: another process is refused while the dead lease
    lasts; once it expired a new worker process takes the shard over, looks up what was in
    flight, and finishes it: every recipient exactly once, none lost."""
    count, ttl = 300, 3.0
    numbers = list(phones(count))
    # Committed, answered late: at the kill, some sends are in flight yet delivered.
    slow_sends(sandbox, 0.2, after_commit=True)
    async with worker(sandbox, redis_url, count, "shard-1", ttl) as holder:
        async with asyncio.timeout(60):
            while len(sandbox.ledger) < 40 and holder.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert holder.returncode is None, "the worker ended before it had sent enough"
        holder.kill()
        await holder.wait()
        holder_pid = holder.pid
    delivered = len(sandbox.ledger)
    async with RedisJournal(redis_url, namespace="campaign") as journal:
        assert (await journal.counts()).get("inflight", 0) > 0
    sandbox.faults = FaultPlan()
    # This test's own process, at once: refused while the dead worker's lease lasts.
    async with (
        client_for(sandbox) as hm,
        RedisJournal(redis_url, namespace="campaign") as journal,
    ):
        early = BatchSender(hm, key="shard-1", journal=journal)
        with pytest.raises(BulkSendError, match=rf"'shard-1' is already running.*:{holder_pid}:"):
            await early.send_all(sends(sandbox, numbers))
    assert len(sandbox.ledger) == delivered
    await asyncio.sleep(ttl)  # the dead worker's lease runs out
    async with worker(sandbox, redis_url, count, "shard-1", ttl) as successor:
        out, err = await asyncio.wait_for(successor.communicate(), 60)
    assert successor.returncode == 0, err.decode()[-2000:]
    # In-flight sends were found in history (skipped), not sent again.
    assert json.loads(out) == {"sent": count - delivered, "skipped": delivered}
    assert_exactly_once(sandbox, numbers)
    async with RedisJournal(redis_url, namespace="campaign") as journal:
        assert await journal.counts() == {"sent": count}


# --- Redis failing -----------------------------------------------------------------------


async def test_an_unreachable_server_is_a_bulk_send_error_without_the_password() -> None:
    """Opening a journal on a server that is not there fails promptly with BulkSendError
    naming the server, never with a redis exception, and never shows the password."""
    url = f"redis://user:s3cret-pass@127.0.0.1:{free_port()}/0"
    journal = RedisJournal(url, timeout=1.0)
    with pytest.raises(BulkSendError, match="cannot open the Redis journal") as failed:
        await asyncio.wait_for(journal.open(), 10)
    assert "s3cret-pass" not in str(failed.value)
    assert "s3cret-pass" not in repr(journal)
    with pytest.raises(BulkSendError, match="not open"):
        await journal.get("a")


async def test_a_namespace_holding_other_data_is_refused_untouched(redis_url: str) -> None:
    """A namespace whose mark key is another application's, or another journal format's,
    is refused before anything is written."""
    async with aioredis.Redis.from_url(redis_url, decode_responses=True) as raw:
        await raw.set("{theirs}:meta", "x")
        await raw.hset("{newer}:meta", "mark", "heymarket-journal 99")
        await raw.hset("{nomark}:meta", "other", "1")
        for namespace, reason in (
            ("theirs", "is a Redis string"),
            ("newer", "another format"),
            ("nomark", "is a Redis hash"),
        ):
            with pytest.raises(BulkSendError, match=reason):
                await RedisJournal(redis_url, namespace=namespace).open()
        assert await raw.get("{theirs}:meta") == "x"
        assert await raw.hgetall("{nomark}:meta") == {"other": "1"}


async def test_redis_stopping_mid_job_stops_it_with_bulk_send_error(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Redis gone mid-job: the job stops with BulkSendError (no redis exception escapes),
    and nothing is sent after the journal failed."""
    numbers = list(phones(400))
    slow_sends(sandbox, 0.02)
    server = RedisServer().start()
    try:
        journal = RedisJournal(server.url, namespace="april", timeout=1.0)
        sender = BatchSender(client, concurrency=4, key="april", journal=journal)
        stopped_at = -1

        async def consume() -> None:
            nonlocal stopped_at
            async for outcome in sender.stream(sends(sandbox, numbers)):
                if outcome.index >= 20 and stopped_at < 0:
                    server.stop()
                    stopped_at = len(sandbox.ledger)

        with pytest.raises(BulkSendError, match="the Redis journal 'april'"):
            await asyncio.wait_for(consume(), 60)
        await journal.close()
    finally:
        server.stop()
    # At most the sends already claimed (concurrency 4) landed after the stop.
    assert len(sandbox.ledger) <= stopped_at + 4
    assert len(sandbox.ledger) < len(numbers)


async def test_options_are_validated() -> None:
    """Bad options are typed errors before any connection."""
    with pytest.raises(RequestValidationError, match="url"):
        RedisJournal("http://example.invalid")
    with pytest.raises(RequestValidationError, match="namespace"):
        RedisJournal("redis://127.0.0.1:1/0", namespace="has space")
    with pytest.raises(RequestValidationError, match="lease_ttl"):
        RedisJournal("redis://127.0.0.1:1/0", lease_ttl=0)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2secret@127.0.0.1:99999/0",
        "redis://:hunter2secret@[::1/0",
        "redis://:hunter2secret@127.0.0.1/0?socket_timeout=soon",
    ],
)
async def test_a_malformed_url_is_a_typed_error_that_hides_the_url(url: str) -> None:
    """Refused when built, before any connection, and never echoing the password."""
    with pytest.raises(RequestValidationError, match="not a valid Redis URL") as refused:
        RedisJournal(url)
    assert "hunter2secret" not in str(refused.value)
    assert "127.0.0.1" not in str(refused.value)


# --- the journal's lifetime --------------------------------------------------------------


async def test_delete_and_expire_drop_every_key_but_not_while_a_job_runs(
    sandbox: Sandbox, client: HeymarketClient, redis_url: str
) -> None:
    """A finished campaign's journal can be deleted or set to expire, all its keys at once;
    both are refused while a job of it holds a live lease. Other namespaces stay."""
    numbers = list(phones(30))
    async with aioredis.Redis.from_url(redis_url, decode_responses=True) as raw:
        for namespace in ("done", "kept"):
            async with RedisJournal(redis_url, namespace=namespace) as journal:
                await broadcast(
                    client,
                    inbox_id=sandbox.default_inbox_id,
                    creator_id=sandbox.default_creator_id,
                    phones=numbers,
                    text="Hi",
                    key=f"job-{namespace}",
                    list_size=10,
                    journal=journal,
                )
        assert set(await raw.keys("{done}:*")) >= {
            "{done}:sends",
            "{done}:recipients:job-done",
            "{done}:chunks",
        }
        async with RedisJournal(redis_url, namespace="done") as journal:
            await journal.acquire_lease("job-done", owner="live", ttl=30)
            for action in (journal.delete(), journal.expire(60)):
                with pytest.raises(BulkSendError, match="'job-done' is running"):
                    await action
            await journal.release_lease("job-done", owner="live")
            await journal.expire(60)
            ttls = [await raw.ttl(key) for key in await raw.keys("{done}:*")]
            assert ttls
            assert all(0 < ttl <= 60 for ttl in ttls)
            await journal.delete()
        assert await raw.keys("{done}:*") == []
        assert await raw.keys("{kept}:*") != []
        assert all([await raw.ttl(key) == -1 for key in await raw.keys("{kept}:*")])
