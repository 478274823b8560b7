"""The journal contract, run against both implementations: SQLite and Redis.

Each test opens the same journal through ``connect`` (a SQLite file, or a Redis namespace on
a real redis-server); two calls give two connections to one journal, as two processes have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from heymarket_async.bulk import Journal, JournalStore
from heymarket_async.bulk import _journal as sqlite_journal
from heymarket_async.bulk._journal import ChunkRecord
from heymarket_async.errors import BulkSendError
from heymarket_async.redis import RedisJournal
from heymarket_async.redis import _journal as redis_journal

Connect = Callable[..., JournalStore]


@pytest.fixture(params=["sqlite", "redis"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connect:
    """A factory of connections to one journal of the parametrized kind."""
    if request.param == "sqlite":
        path = tmp_path / "j.sqlite3"
        return lambda **options: Journal(path, **options)
    url: str = request.getfixturevalue("redis_url")
    return lambda **options: RedisJournal(url, namespace="contract", **options)


async def opened(connect: Connect, **options: Any) -> JournalStore:
    return await connect(**options).open()


# --- claims ----------------------------------------------------------------------------


async def test_claim_commits_inflight_once_per_run(connect: Connect) -> None:
    """A first claim writes an in-flight entry; a second claim in the same run is a repeat."""
    journal = await opened(connect)
    try:
        prior, first = await journal.claim("a", run_id="r1", now=100.0)
        assert (prior, first) == (None, 100.0)
        again, first_again = await journal.claim("a", run_id="r1", now=101.0)
        assert again is not None
        assert (again.state, again.run_id, first_again) == ("inflight", "r1", 100.0)
        assert await journal.counts() == {"inflight": 1}
    finally:
        await journal.close()


async def test_a_new_run_reclaims_inflight_and_keeps_first_attempt(connect: Connect) -> None:
    """An entry left in flight is reclaimed by the next connection's run, first attempt kept."""
    journal = await opened(connect)
    await journal.claim("a", run_id="r1", now=100.0)
    await journal.close()
    journal = await opened(connect)
    try:
        prior, first = await journal.claim("a", run_id="r2", now=200.0)
        assert prior is not None
        assert (prior.state, first) == ("inflight", 100.0)
        entry = await journal.get("a")
        assert entry is not None
        assert entry.run_id == "r2"
        assert await journal.counts() == {"inflight": 1}
    finally:
        await journal.close()


async def test_sent_entries_are_never_reclaimed(connect: Connect) -> None:
    """Once sent, an entry stays sent with its message id, whatever run asks."""
    journal = await opened(connect)
    try:
        await journal.claim("a", run_id="r1")
        await journal.finish("a", "sent", run_id="r1", message_id=9)
        prior, _ = await journal.claim("a", run_id="r2")
        assert prior is not None
        assert (prior.state, prior.message_id) == ("sent", 9)
        assert await journal.counts() == {"sent": 1}
    finally:
        await journal.close()


async def test_a_stale_run_cannot_undo_what_a_newer_run_sent(connect: Connect) -> None:
    """Run A's late failure, after run B took the entry over and sent it, changes nothing:
    the entry stays B's ``sent`` with its id, and a third run does not send it again."""
    journal = await opened(connect)
    try:
        await journal.claim("x", run_id="A")
        await journal.claim("x", run_id="B")
        await journal.finish("x", "sent", run_id="B", message_id=777)
        await journal.finish("x", "failed", run_id="A", error="BadRequestError: late")
        await journal.finish("x", "sent", run_id="A", message_id=None)
        entry = await journal.get("x")
        assert entry is not None
        assert (entry.state, entry.message_id, entry.error) == ("sent", 777, None)
        prior, _ = await journal.claim("x", run_id="C")
        assert prior is not None
        assert (prior.state, prior.message_id) == ("sent", 777)
        assert await journal.counts() == {"sent": 1}
    finally:
        await journal.close()


async def test_a_stale_run_cannot_fail_an_entry_another_run_holds(connect: Connect) -> None:
    """``failed`` is written only by the run holding the entry; its ``sent`` is evidence
    and is recorded whatever run reports it."""
    journal = await opened(connect)
    try:
        await journal.claim("x", run_id="A")
        await journal.claim("x", run_id="B")
        await journal.finish("x", "failed", run_id="A", error="BadRequestError: late")
        entry = await journal.get("x")
        assert entry is not None
        assert (entry.state, entry.run_id) == ("inflight", "B")
        await journal.finish("x", "sent", run_id="A", message_id=5)
        entry = await journal.get("x")
        assert entry is not None
        assert (entry.state, entry.message_id) == ("sent", 5)
        assert await journal.counts() == {"sent": 1}
    finally:
        await journal.close()


@pytest.mark.parametrize("message_id", [123456789012345, 2**53 + 1, 2**63 - 1])
async def test_message_ids_are_kept_exactly(connect: Connect, message_id: int) -> None:
    """Large message and list ids come back digit for digit (no float rounding)."""
    journal = await opened(connect)
    try:
        await journal.claim("a", run_id="r1")
        await journal.finish("a", "sent", run_id="r1", message_id=message_id)
        entry = await journal.get("a")
        assert entry is not None
        assert entry.message_id == message_id
        prior, _ = await journal.claim("a", run_id="r2")
        assert prior is not None
        assert prior.message_id == message_id
        record = ChunkRecord(send_local_id="b", list_local_id="l", list_id=None, size=1)
        await journal.record_chunk("june", record, ["15105550100"], run_id="r1")
        await journal.set_chunk_list("b", message_id)
        assert [r.list_id for r in await journal.chunks("june")] == [message_id]
    finally:
        await journal.close()


async def test_failed_entries_are_retried_by_a_later_run(connect: Connect) -> None:
    """A failed entry goes back in flight when a new run claims it; counts follow."""
    journal = await opened(connect)
    try:
        await journal.claim("a", run_id="r1")
        await journal.claim("b", run_id="r1")
        await journal.finish("a", "failed", run_id="r1", error="BadRequestError: x")
        assert await journal.counts() == {"failed": 1, "inflight": 1}
        failed = await journal.get("a")
        assert failed is not None
        assert (failed.state, failed.error) == ("failed", "BadRequestError: x")
        prior, _ = await journal.claim("a", run_id="r2")
        assert prior is not None
        assert prior.state == "failed"
        again = await journal.get("a")
        assert again is not None
        assert (again.state, again.error) == ("inflight", None)
        await journal.finish("a", "sent", run_id="r2")  # accepted, id unknown
        entry = await journal.get("a")
        assert entry is not None
        assert (entry.state, entry.message_id) == ("sent", None)
        assert await journal.counts() == {"inflight": 1, "sent": 1}
    finally:
        await journal.close()


async def test_concurrent_claims_of_one_send_write_it_once(connect: Connect) -> None:
    """Two connections claiming the same send in two runs at once: exactly one sees it new."""
    first, second = await opened(connect), await opened(connect)
    try:
        results = await asyncio.gather(
            *(
                journal.claim(f"s{i}", run_id=run)
                for i in range(50)
                for journal, run in ((first, "r1"), (second, "r2"))
            )
        )
        fresh = [prior for prior, _ in results if prior is None]
        assert len(fresh) == 50
        assert await first.counts() == {"inflight": 50}
    finally:
        await first.close()
        await second.close()


# --- leases ----------------------------------------------------------------------------


async def test_a_live_lease_refuses_a_second_owner_and_names_the_holder(connect: Connect) -> None:
    """While one owner holds a job's lease, another is refused with the holder and expiry."""
    journal = await opened(connect)
    try:
        held = await journal.acquire_lease("april", owner="host-a:1:aa", ttl=30, now=1000.0)
        assert (held.owner, held.expires_at) == ("host-a:1:aa", 1030.0)
        with pytest.raises(BulkSendError) as refused:
            await journal.acquire_lease("april", owner="host-b:2:bb", ttl=30, now=1010.0)
        message = str(refused.value)
        assert "'april' is already running" in message
        assert "host-a:1:aa" in message
        assert "1970-01-01 00:17:10 UTC" in message
        other = await journal.acquire_lease("may", owner="host-b:2:bb", ttl=30, now=1010.0)
        assert other.job == "may"
    finally:
        await journal.close()


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(
    connect: Connect,
) -> None:
    """A lease not renewed in time passes to the next owner; the old one learns it lost."""
    journal = await opened(connect)
    try:
        await journal.acquire_lease("april", owner="dead", ttl=10, now=1000.0)
        taken = await journal.acquire_lease("april", owner="next", ttl=10, now=1011.0)
        assert taken.owner == "next"
        with pytest.raises(BulkSendError, match=r"'april' lost its lease.*next holds it"):
            await journal.renew_lease("april", owner="dead", ttl=10, now=1012.0)
        renewed = await journal.renew_lease("april", owner="next", ttl=10, now=1015.0)
        assert renewed.expires_at == 1025.0
        assert [(lease.job, lease.owner) for lease in await journal.leases()] == [("april", "next")]
    finally:
        await journal.close()


async def test_release_frees_the_job_only_for_its_owner(connect: Connect) -> None:
    """Releasing someone else's lease does nothing; the owner's release frees the job."""
    journal = await opened(connect)
    try:
        await journal.acquire_lease("april", owner="a", ttl=30)
        await journal.release_lease("april", owner="b")
        with pytest.raises(BulkSendError, match="already running"):
            await journal.acquire_lease("april", owner="b", ttl=30)
        await journal.release_lease("april", owner="a")
        assert (await journal.acquire_lease("april", owner="b", ttl=30)).owner == "b"
    finally:
        await journal.close()


async def test_a_claim_is_refused_once_another_run_took_the_lease(connect: Connect) -> None:
    """A run whose lease was taken over cannot claim another send; nothing is written."""
    journal, other = await opened(connect), await opened(connect)
    try:
        await journal.acquire_lease("april", owner="slow", ttl=10, run_id="r1", now=1000.0)
        await journal.claim("before", run_id="r1")
        await other.acquire_lease("april", owner="fast", ttl=10, now=time.time() + 20)
        with pytest.raises(BulkSendError, match=r"lost its lease.*fast holds it"):
            await journal.claim("after", run_id="r1")
        assert await journal.get("after") is None
        assert await journal.get("before") is not None
    finally:
        await journal.close()
        await other.close()


async def test_a_claim_under_an_expired_unclaimed_lease_extends_it(connect: Connect) -> None:
    """A claim made after the lease expired, before anyone took over, renews it first."""
    journal, other = await opened(connect), await opened(connect)
    try:
        await journal.acquire_lease("april", owner="slow", ttl=30, run_id="r1", now=1000.0)
        await journal.claim("late", run_id="r1")  # now is far past 1030
        with pytest.raises(BulkSendError, match="already running"):
            await other.acquire_lease("april", owner="fast", ttl=30)
    finally:
        await journal.close()
        await other.close()


async def test_the_heartbeat_keeps_the_lease_alive_past_its_ttl(connect: Connect) -> None:
    """A job that runs for several ttls keeps its lease: the heartbeat renews it."""
    journal, other = await opened(connect, lease_ttl=0.3), await opened(connect)
    try:
        async with journal.lease("april", owner="holder"):
            await asyncio.sleep(1.2)  # four ttls
            with pytest.raises(BulkSendError, match="holder"):
                await other.acquire_lease("april", owner="intruder")
        assert (await other.acquire_lease("april", owner="intruder")).owner == "intruder"
    finally:
        await journal.close()
        await other.close()


async def test_losing_the_lease_cancels_the_body_and_raises_bulk_send_error(
    connect: Connect,
) -> None:
    """When another run takes the lease over, the holder's body is stopped and the block
    raises BulkSendError naming the new holder, listing what it left in flight."""
    journal, other = await opened(connect, lease_ttl=0.3), await opened(connect)
    stopped = asyncio.Event()
    claimed = asyncio.Event()

    async def body() -> None:
        async with journal.lease("april", owner="stalled", run_id="r1"):
            await journal.claim("flying", run_id="r1")
            await journal.claim("landed", run_id="r1")
            await journal.finish("landed", "sent", run_id="r1", message_id=1)
            claimed.set()
            try:
                await asyncio.sleep(60)
            finally:
                stopped.set()

    try:
        job = asyncio.create_task(body())
        await claimed.wait()
        # A run whose clock says the lease expired long ago takes it over.
        await other.acquire_lease("april", owner="intruder", ttl=30, now=time.time() + 60)
        with pytest.raises(BulkSendError, match=r"'april' lost its lease.*intruder") as lost:
            await asyncio.wait_for(job, 10)
        assert stopped.is_set()
        assert lost.value.inflight == ("flying",)
    finally:
        await journal.close()
        await other.close()


async def test_cancellation_releases_the_lease_and_still_propagates(connect: Connect) -> None:
    """A job cancelled from outside releases its lease at once and stays cancelled."""
    journal = await opened(connect)
    entered = asyncio.Event()

    async def body() -> None:
        async with journal.lease("april", owner="holder", run_id="r1"):
            entered.set()
            await asyncio.sleep(60)

    try:
        job = asyncio.create_task(body())
        await entered.wait()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert await journal.leases() == []
        assert (await journal.acquire_lease("april", owner="next")).owner == "next"
    finally:
        await journal.close()


# --- broadcast bookkeeping -------------------------------------------------------------


def chunk(key: str, n: int, size: int) -> ChunkRecord:
    return ChunkRecord(
        send_local_id=f"{key}-b-{n}", list_local_id=f"{key}-l-{n}", list_id=None, size=size
    )


async def test_recipients_and_chunks_tell_sent_duplicate_and_released(connect: Connect) -> None:
    """Phones met in a run are duplicates in that run only; a sent chunk's phones are sent for
    every run; a released chunk forgets its phones and its unsent entry."""
    journal = await opened(connect)
    phones = [f"1510555{i:04d}" for i in range(1200)]  # more than one script batch
    try:
        await journal.claim_recipients("april", phones[:10], run_id="r1")
        assert await journal.recipient_states("april", phones[:12], run_id="r1") == dict.fromkeys(
            phones[:10], "duplicate"
        )
        assert await journal.recipient_states("april", phones[:12], run_id="r2") == {}
        big, small = chunk("april", 1, 1000), chunk("april", 2, 200)
        await journal.record_chunk("april", big, phones[:1000], run_id="r1")
        await journal.record_chunk("april", small, phones[1000:], run_id="r1")
        await journal.set_chunk_list(big.send_local_id, 77)
        records = await journal.chunks("april")
        assert [(r.send_local_id, r.list_id, r.size) for r in records] == [
            (big.send_local_id, 77, 1000),
            (small.send_local_id, None, 200),
        ]
        assert await journal.chunks("may") == []
        assert await journal.chunk_phones(big.send_local_id, limit=3) == phones[:3]
        assert len(await journal.chunk_phones(big.send_local_id, limit=5000)) == 1000
        for record in (big, small):
            await journal.claim(record.send_local_id, run_id="r1")
        await journal.finish(big.send_local_id, "sent", run_id="r1", message_id=5)
        states = await journal.recipient_states("april", phones, run_id="r2")
        assert states == dict.fromkeys(phones[:1000], "sent")
        await journal.release_chunk(small.send_local_id)
        assert await journal.get(small.send_local_id) is None
        assert await journal.chunk_phones(small.send_local_id, limit=10) == []
        assert [r.send_local_id for r in await journal.chunks("april")] == [big.send_local_id]
        assert await journal.counts() == {"sent": 1}
        # Released phones are still known as met in run r1, and only there.
        mine = await journal.recipient_states("april", phones[1000:], run_id="r1")
        assert mine == dict.fromkeys(phones[1000:], "duplicate")
        assert await journal.recipient_states("april", phones[1000:], run_id="r2") == {}
        # Releasing a sent chunk keeps its send (it went out).
        await journal.release_chunk(big.send_local_id)
        sent = await journal.get(big.send_local_id)
        assert sent is not None
        assert sent.state == "sent"
    finally:
        await journal.close()


async def test_ensure_lease_extends_a_lapsed_lease_and_refuses_after_a_takeover(
    connect: Connect,
) -> None:
    """The check before each send: free while the lease is fresh, renews a lease that lapsed
    with nobody taking it, and refuses once another run took the job over."""
    journal, other = await opened(connect), await opened(connect)
    try:
        await journal.acquire_lease("april", owner="slow", ttl=0.6, run_id="r1")
        await journal.ensure_lease("r1")
        await journal.ensure_lease("no-such-run")  # a run without a lease: nothing to check
        await asyncio.sleep(0.7)  # lapsed, nobody took it
        await journal.ensure_lease("r1")
        with pytest.raises(BulkSendError, match="already running"):
            await other.acquire_lease("april", owner="fast", ttl=30)
        await asyncio.sleep(0.7)
        await other.acquire_lease("april", owner="fast", ttl=30)
        with pytest.raises(BulkSendError, match=r"lost its lease.*fast"):
            await journal.ensure_lease("r1")
        with pytest.raises(BulkSendError, match="lost its lease"):
            await journal.claim("after", run_id="r1")
    finally:
        await journal.close()
        await other.close()


async def test_ensure_lease_is_not_fooled_by_a_wall_clock_stepping_back(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local expiry runs on the monotonic clock: after the lease lapsed and another run
    took the job over, a wall clock set back an hour does not make it look fresh."""
    journal, other = await opened(connect), await opened(connect)
    try:
        await journal.acquire_lease("april", owner="slow", ttl=0.6, run_id="r1")
        await asyncio.sleep(0.7)
        await other.acquire_lease("april", owner="fast", ttl=30)
        stepped = SimpleNamespace(time=lambda: time.time() - 3600, monotonic=time.monotonic)
        monkeypatch.setattr(sqlite_journal, "time", stepped)
        monkeypatch.setattr(redis_journal, "time", stepped)
        with pytest.raises(BulkSendError, match=r"lost its lease.*fast"):
            await journal.ensure_lease("r1")
    finally:
        await journal.close()
        await other.close()
