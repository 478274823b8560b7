"""``skip_opted_out``: BatchSender and broadcast() read each recipient's status first and never
send to an opted-out or blocked phone (the sandbox ledger is the ground truth)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from heymarket_async import HeymarketClient, RetryPolicy
from heymarket_async.bulk import BatchSender, OutcomeStatus, broadcast
from heymarket_async.errors import NotFoundError, RequestValidationError, ServerError
from heymarket_async.resources.contacts import MessagingStatus
from heymarket_async.sandbox import ROUTES, ApiFailure, Call, Fault, Route, Sandbox, SandboxState

from .conftest import client_for, phones, sends

STATUS = "POST /v1/contact/status"
SEND = "POST /v1/message/send"


def list_phones(sandbox: Sandbox) -> list[list[str]]:
    """The phones of every list the sandbox holds, list by list."""
    state = sandbox.state
    return [
        [state.contacts[contact_id].phone or "" for contact_id in record.members]
        for record in state.lists.values()
    ]


# --- BatchSender ----------------------------------------------------------------------------


async def test_batch_sender_skips_opted_out_and_blocked_recipients(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Opted-out and blocked phones are reported skipped with the reason and never sent."""
    numbers = list(phones(5))
    opted_out, blocked = numbers[1], numbers[3]
    sandbox.opt_out(opted_out)
    await client.contacts.set_status(phone=blocked, status="blocked")
    sender = BatchSender(client, key="spring", skip_opted_out=True)
    outcomes = [o async for o in sender.stream(sends(sandbox, numbers))]
    by_phone = {o.request.phone_number: o for o in outcomes if o.request is not None}
    assert (by_phone[opted_out].status, by_phone[opted_out].reason) == (
        OutcomeStatus.SKIPPED,
        "opted out",
    )
    assert (by_phone[blocked].status, by_phone[blocked].reason) == (
        OutcomeStatus.SKIPPED,
        "blocked",
    )
    sent = [p for p in numbers if p not in {opted_out, blocked}]
    assert all(by_phone[p].status is OutcomeStatus.SENT for p in sent)
    assert dict(sandbox.ledger_counts_by_recipient()) == dict.fromkeys(sent, 1)
    assert sandbox.stats.requests(STATUS) == 5
    assert sandbox.stats.requests(SEND) == 3


async def test_batch_sender_report_counts_the_skips(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """send_all counts opted-out recipients as skipped and the job as ok."""
    numbers = list(phones(4))
    sandbox.opt_out(numbers[0], numbers[2])
    report = await BatchSender(client, skip_opted_out=True).send_all(sends(sandbox, numbers))
    assert (report.total, report.sent, report.skipped, report.failed) == (4, 2, 2, 0)
    assert report.ok
    assert set(sandbox.ledger_counts_by_recipient()) == {numbers[1], numbers[3]}


async def test_without_the_option_nothing_is_checked(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """By default no status is read and the API's refusal of an opted-out phone is a failure."""
    numbers = list(phones(2))
    sandbox.opt_out(numbers[0])
    report = await BatchSender(client).send_all(sends(sandbox, numbers))
    assert (report.sent, report.failed, report.skipped) == (1, 1, 0)
    assert sandbox.stats.requests(STATUS) == 0


async def test_an_unreadable_status_fails_the_send_without_sending(sandbox: Sandbox) -> None:
    """When the status cannot be read (5xx after retries) the send is failed, never made."""
    numbers = list(phones(3))
    sandbox.faults.next(Fault.server_error(503), route=STATUS, times=2)
    async with client_for(sandbox, retry=RetryPolicy(attempts=2, deadline=10.0)) as hm:
        sender = BatchSender(hm, concurrency=1, skip_opted_out=True)
        outcomes = [o async for o in sender.stream(sends(sandbox, numbers))]
    [failed] = [o for o in outcomes if o.status is OutcomeStatus.FAILED]
    assert failed.request is not None
    assert failed.request.phone_number == numbers[0]
    assert isinstance(failed.error, ServerError)
    assert failed.reason is not None
    assert "opt-out status" in failed.reason
    assert set(sandbox.ledger_counts_by_recipient()) == set(numbers[1:])


def unknown_contact(_state: SandboxState, _call: Call) -> Any:
    raise ApiFailure.not_found("contact")


async def test_an_unknown_contact_counts_as_not_opted_out() -> None:
    """A 404 from the status endpoint means the phone never opted out, so it is sent to."""
    route = Route("POST", "/v1/contact/status", unknown_contact)
    async with (
        Sandbox(rate_limit_per_minute=None, extra_routes=[route]) as sandbox,
        client_for(sandbox) as hm,
    ):
        with pytest.raises(NotFoundError):
            await hm.contacts.status(phone="15100000000")
        report = await BatchSender(hm, skip_opted_out=True).send_all(
            sends(sandbox, list(phones(2)))
        )
        assert (report.sent, report.skipped) == (2, 0)
        assert sandbox.stats.requests(STATUS) == 3


def test_skip_opted_out_must_be_a_bool(client: HeymarketClient) -> None:
    """A truthy non-bool is refused rather than guessed."""
    with pytest.raises(RequestValidationError, match="skip_opted_out"):
        BatchSender(client, skip_opted_out="yes")  # type: ignore[arg-type]


# --- broadcast() ------------------------------------------------------------------------------


async def test_broadcast_keeps_excluded_phones_off_the_lists(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Lists hold only sendable phones; the others are skipped, listed with the reason, and
    never reach the ledger."""
    numbers = list(phones(25))
    sandbox.opt_out(numbers[0], numbers[11])
    await client.contacts.set_status(phone=numbers[20], status="blocked")
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Spring sale",
        key="spring",
        list_size=10,
        skip_opted_out=True,
    )
    excluded = {numbers[0], numbers[11], numbers[20]}
    sendable = [p for p in numbers if p not in excluded]
    assert (report.recipients, report.sent, report.skipped, report.failed) == (25, 22, 3, 0)
    assert [(e.index, e.phone, e.reason) for e in report.excluded] == [
        (0, numbers[0], "opted out"),
        (11, numbers[11], "opted out"),
        (20, numbers[20], "blocked"),
    ]
    assert list_phones(sandbox) == [sendable[:10], sendable[10:20], sendable[20:]]
    assert dict(sandbox.ledger_counts_by_recipient()) == dict.fromkeys(sendable, 1)
    assert sandbox.stats.requests(STATUS) == 25


async def test_broadcast_checks_each_new_phone_once(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """A phone repeated in the input is skipped as a repeat without a second status read."""
    numbers = ["15105550001", "15105550002", "15105550001"]
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="repeat",
        list_size=10,
        skip_opted_out=True,
    )
    assert (report.sent, report.skipped, report.excluded) == (2, 1, ())
    assert sandbox.stats.requests(STATUS) == 2


async def test_broadcast_checks_are_bounded_and_streamed(
    sandbox: Sandbox, client: HeymarketClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most 8 status reads run at once, and the first list goes out before the input is
    read to the end (the check streams in batches)."""
    in_flight = 0
    most = 0
    checked: list[str] = []
    checked_when_first_list: list[int] = []
    real_status = client.contacts.status
    real_create = client.lists.create

    async def status(*, phone: str | None = None, **kwargs: Any) -> MessagingStatus:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.001)
            checked.append(phone or "")
            return await real_status(phone=phone, **kwargs)
        finally:
            in_flight -= 1

    async def create(**kwargs: Any) -> Any:
        if not checked_when_first_list:
            checked_when_first_list.append(len(checked))
        return await real_create(**kwargs)

    monkeypatch.setattr(client.contacts, "status", status)
    monkeypatch.setattr(client.lists, "create", create)
    numbers = list(phones(1200))
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="bounded",
        list_size=100,
        skip_opted_out=True,
    )
    assert report.sent == 1200
    assert sorted(checked) == numbers
    assert most == 8
    assert checked_when_first_list == [500]


def failing_status_for(phone: str) -> Route:
    """The sandbox's status route, except that it always answers 503 for ``phone``."""
    real = next(route.handler for route in ROUTES if route.key == STATUS)

    def handler(state: SandboxState, call: Call) -> Any:
        if isinstance(call.body, dict) and call.body.get("phone") == phone:
            raise ApiFailure(503, "internal_error", "status store unavailable")
        return real(state, call)

    return Route("POST", "/v1/contact/status", handler)


async def test_broadcast_fails_phones_whose_status_cannot_be_read() -> None:
    """A status read that keeps failing counts the phone as failed and keeps it off the lists."""
    numbers = list(phones(3))
    async with (
        Sandbox(rate_limit_per_minute=None, extra_routes=[failing_status_for(numbers[1])]) as sb,
        client_for(sb, retry=RetryPolicy(attempts=2, deadline=10.0)) as hm,
    ):
        report = await broadcast(
            hm,
            inbox_id=sb.default_inbox_id,
            creator_id=sb.default_creator_id,
            phones=numbers,
            text="Hi",
            key="flaky",
            list_size=10,
            skip_opted_out=True,
        )
        assert (report.sent, report.failed, report.skipped) == (2, 1, 0)
        [excluded] = report.excluded
        assert (excluded.index, excluded.phone) == (1, numbers[1])
        assert isinstance(excluded.error, ServerError)
        assert sb.stats.requests(STATUS) == 4  # the failing phone was read twice (retried)
        assert list_phones(sb) == [[numbers[0], numbers[2]]]
        assert set(sb.ledger_counts_by_recipient()) == {numbers[0], numbers[2]}


async def test_a_rerun_sends_to_a_phone_that_opted_back_in(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Excluded phones are not marked handled: after opting back in, a rerun of the job sends
    to them and to nobody else."""
    numbers = list(phones(4))
    sandbox.opt_out(numbers[2])
    options: dict[str, Any] = {
        "inbox_id": sandbox.default_inbox_id,
        "creator_id": sandbox.default_creator_id,
        "text": "Hi",
        "key": "comeback",
        "list_size": 10,
        "journal": tmp_path / "j.sqlite3",
        "skip_opted_out": True,
    }
    first = await broadcast(client, phones=numbers, **options)
    assert (first.sent, first.skipped) == (3, 1)
    await client.contacts.set_status(phone=numbers[2], status="subscribed")
    second = await broadcast(client, phones=numbers, **options)
    assert (second.sent, second.skipped, second.excluded) == (1, 3, ())
    assert dict(sandbox.ledger_counts_by_recipient()) == dict.fromkeys(numbers, 1)
