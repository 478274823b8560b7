"""Every seed endpoint through HeymarketClient against the sandbox, and the client's answer
to each fault kind on a single send."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, ScheduledContent
from heymarket_async.errors import (
    BadRequestError,
    NotFoundError,
    ReconciliationError,
    ServerError,
)
from heymarket_async.sandbox import Fault, Sandbox

SEND = "POST /v1/message/send"
PHONE = "15105553344"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


@pytest.fixture
async def hm(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with HeymarketClient(
        **sandbox.client_kwargs(),
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=4, deadline=20.0),
    ) as client:
        yield client


async def test_send_history_iter_all_and_count(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """A sent message shows up in its conversation, in team history and in the count."""
    before = await hm.messages.count()
    sent = await hm.messages.send(
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phone_number=PHONE,
        text="Hello",
    )
    assert sent.id > 0
    assert sent.request_id
    history = await hm.messages.history(phone_number=PHONE, inbox_id=sandbox.default_inbox_id)
    assert history[0].id == sent.id
    assert history[0].local_id == sent.local_id
    walked = [m.id async for m in hm.messages.iter_all(limit=7)]
    assert sent.id in walked
    assert len(walked) == len(set(walked))
    assert await hm.messages.count() == before + 1


async def test_list_broadcast_fans_out_once_per_member(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """A list is created, updated, broadcast to (one message per member) and deleted."""
    created = await hm.lists.create(
        title="April", local_id="april-list", phones=["15105550001", "15105550002"]
    )
    updated = await hm.lists.update(created.id, add_phones=["15105550003"])
    assert updated.id == created.id
    await hm.messages.send(
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        list_id=created.id,
        local_id="april-send",
        text="Hi {{first_name}}",
    )
    counts = sandbox.ledger_counts_by_recipient()
    assert counts == {"15105550001": 1, "15105550002": 1, "15105550003": 1}
    deleted = await hm.lists.delete(created.id)
    assert deleted.deleted
    with pytest.raises(NotFoundError):
        await hm.lists.delete(created.id)


async def test_email_send(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """An email to two addresses is sent once and answered with a conversation id."""
    sent = await hm.email.send(
        creator_id=sandbox.default_creator_id,
        inbox=sandbox.email_inbox_id,
        text="<p>Hi</p>",
        targets=["to:a@example.com,b@example.com", "cc:c@example.com"],
    )
    assert sent.convo_id
    assert len(sandbox.ledger) == 1


async def test_schedule_lifecycle(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """A schedule is created on a 15-minute boundary, read back, moved and cancelled."""
    now = datetime.now(UTC)
    slot = now.replace(second=0, microsecond=0) + timedelta(minutes=30)
    slot = slot.replace(minute=15 * math.floor(slot.minute / 15))
    if slot < now + timedelta(minutes=16):
        slot += timedelta(minutes=15)
    created = await hm.schedules.create(
        inbox_id=sandbox.default_inbox_id,
        execute_at=slot,
        phone_number=PHONE,
        content=ScheduledContent(text="Later", to=PHONE),
    )
    assert created.id is not None
    got = await hm.schedules.get(created.id)
    assert got.execute == slot
    moved = slot + timedelta(minutes=15)
    await hm.schedules.update(
        created.id,
        inbox_id=sandbox.default_inbox_id,
        execute_at=moved,
        phone_number=PHONE,
        content=ScheduledContent(text="Later still", to=PHONE),
    )
    assert (await hm.schedules.get(created.id)).execute == moved
    await hm.schedules.delete(created.id)
    with pytest.raises(NotFoundError):
        await hm.schedules.get(created.id)


async def _send(hm: HeymarketClient, sandbox: Sandbox, phone: str = PHONE) -> int:
    sent = await hm.messages.send(
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phone_number=phone,
        text="Hi",
    )
    return sent.id


async def test_commit_then_drop_is_reconciled_not_resent(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """A send committed then dropped is found by local_id in history; nothing is resent."""
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    message_id = await _send(hm, sandbox)
    assert sandbox.stats.requests(SEND) == 1
    assert [e.message_id for e in sandbox.ledger] == [message_id]


async def test_reset_before_processing_is_resent_after_lookup(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """A connection reset before processing: the lookup finds nothing, one resend lands it."""
    sandbox.faults.next(Fault.reset(), route=SEND)
    await _send(hm, sandbox)
    assert sandbox.stats.requests(SEND) == 2
    assert sandbox.ledger_counts_by_recipient() == {PHONE: 1}


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500),
        Fault.server_error(503, body="html"),
        Fault.bad_gateway(),
        Fault.rate_limited(retry_after=None),
        Fault.rate_limited(retry_after=0.01),
        Fault.latency(0.01),
    ],
    ids=["500", "503-html", "502-html", "429", "429-retry-after", "latency"],
)
async def test_transient_faults_end_in_exactly_one_send(
    hm: HeymarketClient, sandbox: Sandbox, fault: Fault
) -> None:
    """Each transient fault on a single send ends with the message sent exactly once."""
    sandbox.faults.next(fault, route=SEND)
    await _send(hm, sandbox)
    assert sandbox.ledger_counts_by_recipient() == {PHONE: 1}


async def test_history_down_after_a_drop_raises_reconciliation_error(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """If history cannot be read after an ambiguous failure, the send is not blindly repeated."""
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    sandbox.faults.random(Fault.server_error(503), probability=1.0, route="GET /v1/messages")
    with pytest.raises(ReconciliationError, match="could not look up local_id") as info:
        await _send(hm, sandbox)
    assert isinstance(info.value.__cause__, ServerError)
    assert sandbox.stats.requests(SEND) == 1
    assert len(sandbox.ledger) == 1  # it did land: resending would have doubled it


async def test_validation_error_from_the_server_is_not_retried(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """An opted-out number is a 400 answered once, with its request id."""
    sandbox.opt_out(PHONE)
    with pytest.raises(BadRequestError) as info:
        await _send(hm, sandbox)
    assert info.value.code == "unsubscribed_number"
    assert info.value.request_id
    assert sandbox.stats.requests(SEND) == 1


async def test_blocked_contact_cannot_be_texted(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """After set_status(blocked) a send to that phone is refused with 400 blocked_number."""
    await hm.contacts.set_status(phone=PHONE, status="blocked")
    with pytest.raises(BadRequestError) as info:
        await _send(hm, sandbox)
    assert info.value.code == "blocked_number"
    assert len(sandbox.ledger) == 0
