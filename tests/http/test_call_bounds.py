"""A closed client and a call's deadline never hide a send that may have gone out, and a
send's history lookups end with the send's own deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, _retry
from heymarket_async._retry import is_ambiguous
from heymarket_async.errors import ClientClosedError, ReconciliationError
from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

from ..hostile import Answer, HostileServer, Seen

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
async def test_close_during_backoff_after_a_lost_answer_says_the_send_may_be_out() -> None:
    """The first send is committed and its answer lost; closing the client while the send
    waits to retry raises a ClientClosedError that says it may have been sent."""
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        sb.faults = FaultPlan()
        sb.faults.next(Fault.commit_then_drop(), route=f"POST {SEND}")
        hm = HeymarketClient(
            **sb.client_kwargs(),
            rate_limit_per_minute=None,
            retry=RetryPolicy(attempts=4, initial_wait=30.0, jitter=0),
        )
        async with hm:
            call = asyncio.create_task(
                hm.messages.send(
                    inbox_id=sb.default_inbox_id,
                    creator_id=sb.default_creator_id,
                    phone_number="15105550001",
                    text="Hi",
                    local_id="single-1",
                )
            )
            while not sb.ledger_counts_by_recipient():  # noqa: ASYNC110 - the server's record
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # the answer was lost; the send waits to retry
        with pytest.raises(ClientClosedError, match="may have") as caught:
            await asyncio.wait_for(call, 10)
        assert caught.value.possibly_sent
        assert is_ambiguous(caught.value)
        assert caught.value.__cause__ is not None
        assert dict(sb.ledger_counts_by_recipient()) == {"15105550001": 1}


async def test_closed_client_without_an_earlier_attempt_is_not_ambiguous() -> None:
    error = ClientClosedError("closed")
    assert not error.possibly_sent
    assert not is_ambiguous(error)


async def test_send_that_reconciles_ends_within_its_retry_deadline() -> None:
    """Every history page is full and slow: the lookup stops at the send's deadline with
    ReconciliationError instead of reading 50 pages (15 s)."""
    pages = 0

    def history(_seen: Seen) -> Answer:
        nonlocal pages
        pages += 1
        newest = datetime.now(UTC) - timedelta(seconds=pages)
        messages = [
            {
                "id": pages * 100 + i,
                "local_id": f"other-{pages}-{i}",
                "date": (newest - timedelta(milliseconds=10 * i)).isoformat(),
            }
            for i in range(50)
        ]
        return Answer.json(messages, delay=0.3)

    async with HostileServer() as server:
        server.script("POST", SEND, then=Answer.json({"error": "x"}, status=503))
        server.script("GET", "/v1/messages", then=history)
        policy = RetryPolicy(attempts=2, deadline=1.0, initial_wait=0)
        async with server.client(retry=policy) as hm:
            send = hm.messages.send(
                inbox_id=42,
                creator_id=7,
                phone_number="15105550001",
                text="Hi",
                local_id="x-1",
                timeout=5,
            )
            with pytest.raises(ReconciliationError, match="deadline"):
                await asyncio.wait_for(send, 6)
        assert len(server.seen("GET", "/v1/messages")) < 10
        assert len(server.seen("POST", SEND)) == 1
