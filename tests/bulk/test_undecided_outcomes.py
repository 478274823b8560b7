"""A send that may have gone out is never reported ``failed`` nor released: a close of the
client, a refused resend or a stalled run leave it in flight for a lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage, _retry
from heymarket_async.bulk import BatchSender, Journal, OutcomeStatus, broadcast
from heymarket_async.errors import ClientClosedError, ConflictError
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
