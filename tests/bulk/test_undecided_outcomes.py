"""A send that may have gone out is never reported ``failed`` nor released: a close of the
client, a refused resend or a stalled run leave it in flight for a lookup."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage, _retry
from heymarket_async.bulk import BatchReport, BatchSender, Journal, OutcomeStatus, broadcast
from heymarket_async.bulk._journal import LeaseScope
from heymarket_async.errors import BulkSendError, ClientClosedError, ConflictError
from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

from ..hostile import Answer, HostileServer

SEND = "/v1/message/send"


@pytest.fixture
def retry_waits() -> Iterator[None]:
    """Real retry backoff for this test (the suite turns it off by default)."""
    previous, _retry._waits_enabled = _retry._waits_enabled, True
    try:
        yield
    finally:
        _retry._waits_enabled = previous


@pytest.mark.usefixtures("retry_waits")
async def test_close_during_backoff_leaves_the_send_in_flight_and_the_rerun_finds_it(
    tmp_path: Path,
) -> None:
    """The first send is committed and its answer lost; the client closes while the send
    waits to retry. The outcome is unknown (not failed), and the rerun finds it sent."""
    journal = tmp_path / "j.sqlite3"
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        sb.faults = FaultPlan()
        sb.faults.next(Fault.commit_then_drop(), route=f"POST {SEND}")
        send = SendMessage(
            inbox_id=sb.default_inbox_id,
            creator_id=sb.default_creator_id,
            phone_number="15105550001",
            text="Hi",
        )
        hm = HeymarketClient(
            **sb.client_kwargs(),
            rate_limit_per_minute=None,
            retry=RetryPolicy(attempts=4, initial_wait=30.0, jitter=0),
        )
        async with hm:
            job = asyncio.create_task(BatchSender(hm, key="k", journal=journal).send_all([send]))
            while not sb.ledger_counts_by_recipient():  # noqa: ASYNC110 - the server's record
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # the answer was lost; the send waits to retry
        report = await asyncio.wait_for(job, 10)
        assert (report.failed, report.unknown) == (0, 1)
        assert isinstance(report.problems[0].error, ClientClosedError)
        assert "next run looks it up" in (report.problems[0].reason or "")
        async with Journal(journal) as book:
            assert await book.counts() == {"inflight": 1}
        async with HeymarketClient(**sb.client_kwargs(), rate_limit_per_minute=None) as again:
            rerun = await BatchSender(again, key="k", journal=journal).send_all([send])
        assert (rerun.sent, rerun.skipped) == (0, 1)
        assert dict(sb.ledger_counts_by_recipient()) == {"15105550001": 1}


async def _broadcast_with_refused_resends(later: Answer, journal: Path) -> tuple[object, int]:
    """A list broadcast whose first send is taken and its answer dropped; probes see
    nothing, and every resend with the same local_id gets ``later``."""
    phones = [f"151055500{i:02d}" for i in range(5)]
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": 10}))
        server.script("POST", "/v2/lists", then=Answer.json({"id": 501, "rev": 1, "uuid": "u"}))
        server.script("POST", SEND, Answer.dropped(), then=later)
        server.script("GET", "/v1/messages", then=Answer.json({"messages": []}))
        async with server.client() as hm:
            report = await broadcast(
                hm,
                inbox_id=42,
                creator_id=7,
                text="Hi",
                key="dup",
                phones=phones,
                journal=journal,
            )
        return report, len(server.seen("POST", SEND))


async def test_broadcast_resend_refused_as_a_conflict_reads_as_already_sent(
    tmp_path: Path,
) -> None:
    later = Answer.json({"error": "duplicate_local_id"}, status=409)
    report, sends = await _broadcast_with_refused_resends(later, tmp_path / "b.sqlite3")
    assert (report.sent, report.failed, report.unknown) == (5, 0, 0)  # type: ignore[attr-defined]
    (chunk,) = report.chunks  # type: ignore[attr-defined]
    assert chunk.status is OutcomeStatus.SENT
    assert chunk.message_id is None
    assert "409" in chunk.reason
    assert sends == 2
    async with Journal(tmp_path / "b.sqlite3") as book:
        assert await book.counts() == {"sent": 1}


async def test_broadcast_resend_rate_limited_after_a_lost_answer_is_unknown(
    tmp_path: Path,
) -> None:
    later = Answer.json({"error": "rate_limited"}, status=429, headers={"Retry-After": "0"})
    report, _ = await _broadcast_with_refused_resends(later, tmp_path / "b.sqlite3")
    assert (report.sent, report.failed, report.unknown) == (0, 0, 5)  # type: ignore[attr-defined]
    (chunk,) = report.chunks  # type: ignore[attr-defined]
    assert chunk.status is OutcomeStatus.UNKNOWN
    async with Journal(tmp_path / "b.sqlite3") as book:
        assert await book.counts() == {"inflight": 1}  # kept, with its chunk, for a lookup
        assert len(await book.chunks("dup")) == 1


async def test_a_conflict_without_an_earlier_ambiguous_attempt_still_fails(
    tmp_path: Path,
) -> None:
    """A 409 to a first attempt says nothing went out: failed, as before."""
    async with HostileServer() as server:
        server.script("POST", SEND, then=Answer.json({"error": "conflict"}, status=409))
        send = SendMessage(inbox_id=42, creator_id=7, phone_number="15105550001", text="Hi")
        async with server.client() as hm:
            report = await BatchSender(hm, key="k", journal=tmp_path / "j.sqlite3").send_all([send])
    assert report.failed == 1
    assert isinstance(report.problems[0].error, ConflictError)


def _serve(ready: threading.Event, stop: threading.Event, holder: dict[str, Sandbox]) -> None:
    """A sandbox on its own thread and loop, so it keeps answering while a run stalls."""

    async def main() -> None:
        async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
            holder["sb"] = sb
            ready.set()
            while not stop.is_set():  # noqa: ASYNC110 - a thread's stop flag
                await asyncio.sleep(0.02)

    asyncio.run(main())


@pytest.mark.timeout(60)
async def test_a_run_that_stalled_past_its_lease_sends_nothing_after_the_takeover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A claims sends that wait for pacing slots (2 at once, then one per 3 s), then
    its loop stalls past the lease ttl (a slow synchronous callback) while run B takes the
    job over and sends them. When A resumes, its waiting sends must not go out: A stops
    with BulkSendError, nobody twice.

    A's heartbeat is made late (it notices a lost lease only up to ttl/3 after the loop
    resumes, a race a waiting send can win): the sends themselves must check the lease.
    """

    async def late_heartbeat(_scope: object) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(LeaseScope, "_beat", late_heartbeat)
    ready, stop, stalled = threading.Event(), threading.Event(), threading.Event()
    holder: dict[str, Sandbox] = {}
    server = threading.Thread(target=_serve, args=(ready, stop, holder))
    server.start()
    try:
        assert ready.wait(10)
        sb = holder["sb"]
        path = tmp_path / "j.sqlite3"
        numbers = [f"1510{i:07d}" for i in range(8)]
        requests = [
            SendMessage(
                inbox_id=sb.default_inbox_id,
                creator_id=sb.default_creator_id,
                phone_number=number,
                text="Hi",
            )
            for number in numbers
        ]
        results: dict[str, object] = {}

        def run_b() -> None:
            async def b() -> None:
                async with HeymarketClient(**sb.client_kwargs(), rate_limit_per_minute=None) as hm:
                    sender = BatchSender(hm, key="job", journal=Journal(path, lease_ttl=1.0))
                    results["B"] = await sender.send_all(requests)

            asyncio.run(b())

        decided: list[object] = []

        def on_outcome(outcome: object) -> None:
            decided.append(outcome)
            # The pacing burst (2) is decided and nothing else has a slot: no request of
            # A is on its way to the wire while it stalls.
            if len(decided) == 2 and not stalled.is_set():
                stalled.set()
                time.sleep(1.5)  # A's lease (1 s) expires while its loop is blocked
                other = threading.Thread(target=run_b)
                other.start()
                other.join(30)  # B takes the job over and finishes it

        async with HeymarketClient(
            **sb.client_kwargs(), rate_limit_per_minute=20, retry=RetryPolicy(attempts=3)
        ) as hm:
            sender = BatchSender(
                hm,
                key="job",
                journal=Journal(path, lease_ttl=1.0),
                concurrency=8,
                on_outcome=on_outcome,
            )
            with pytest.raises(BulkSendError, match="lease"):
                await asyncio.wait_for(sender.send_all(requests), 30)
        report = results["B"]
        assert isinstance(report, BatchReport)
        assert report.sent + report.skipped == len(numbers)
        counts = sb.ledger_counts_by_recipient()
        assert {n: c for n, c in counts.items() if c > 1} == {}
        assert sorted(counts) == numbers
    finally:
        stop.set()
        server.join(10)
