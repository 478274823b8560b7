from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, SendMessage
from heymarket_async._ratelimit import SlidingWindowLimiter
from heymarket_async.bulk import BatchSender, Journal, OutcomeStatus, derive_local_id
from heymarket_async.errors import BadRequestError, BulkSendError, RequestValidationError
from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

from .conftest import client_for, phones, sends


def assert_exactly_once(sb: Sandbox, numbers: list[str]) -> None:
    counts = sb.ledger_counts_by_recipient()
    missing = [n for n in numbers if counts[n] == 0]
    doubled = {n: c for n, c in counts.items() if c > 1}
    assert not missing, f"{len(missing)} recipients never sent, e.g. {missing[:3]}"
    assert not doubled, f"{len(doubled)} recipients sent twice or more, e.g. {list(doubled)[:3]}"
    assert set(counts) == set(numbers)


async def test_two_thousand_sends_under_a_fault_mix_land_exactly_once(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """2,000 sends under a 20% mix of every fault, with server dedupe off, land once each."""
    sandbox.faults = FaultPlan.chaos(0.2, seed=7, max_delay=0.01)
    numbers = list(phones(2000))
    report = await BatchSender(client, concurrency=16, key="chaos").send_all(
        sends(sandbox, numbers)
    )
    problems = [(o.status, repr(o.error)) for o in report.problems[:5]]
    counts = (report.total, report.sent, report.failed, report.unknown)
    assert counts == (2000, 2000, 0, 0), problems
    assert report.ok
    assert_exactly_once(sandbox, numbers)
    # The mix really hit: drops happened and some sends were settled by a history lookup.
    assert sandbox.stats.dropped > 50
    assert report.reconciled > 0


async def test_outcomes_stream_one_per_request_and_failures_do_not_stop_the_rest(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """An opted-out number fails with 400 (not retried) while every other request is sent."""
    numbers = list(phones(50))
    sandbox.opt_out(numbers[10])
    seen = [o async for o in BatchSender(client, concurrency=4).stream(sends(sandbox, numbers))]
    assert sorted(o.index for o in seen) == list(range(50))
    failed = [o for o in seen if o.status is OutcomeStatus.FAILED]
    assert [o.request.phone_number for o in failed] == [numbers[10]]  # type: ignore[union-attr]
    assert isinstance(failed[0].error, BadRequestError)
    assert sandbox.stats.requests("POST /v1/message/send") == 50
    assert sum(o.status is OutcomeStatus.SENT for o in seen) == 49
    assert all(o.message_id for o in seen if o.status is OutcomeStatus.SENT)


async def test_non_request_items_are_reported_not_dropped(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """An input item that is not a SendMessage becomes a failed outcome; counts add up."""
    items: list[object] = [*sends(sandbox, list(phones(3))), {"phone_number": "1"}]
    report = await BatchSender(client).send_all(items)  # type: ignore[arg-type]
    assert (report.total, report.sent, report.failed) == (4, 3, 1)
    assert isinstance(report.problems[0].error, RequestValidationError)


async def test_repeated_recipient_in_one_job_is_sent_once(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """With a job key, the same phone twice in the input is sent once and reported skipped."""
    numbers = ["15105550001", "15105550002", "15105550001"]
    report = await BatchSender(client, key="dup").send_all(sends(sandbox, numbers))
    assert (report.sent, report.skipped) == (2, 1)
    assert_exactly_once(sandbox, ["15105550001", "15105550002"])


async def test_rerun_with_journal_sends_nothing_new(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Running the same job again with its journal skips every request."""
    numbers = list(phones(30))
    journal = tmp_path / "job.sqlite3"
    first = await BatchSender(client, key="again", journal=journal).send_all(
        sends(sandbox, numbers)
    )
    second = await BatchSender(client, key="again", journal=journal).send_all(
        sends(sandbox, numbers)
    )
    assert first.sent == 30
    assert (second.sent, second.skipped) == (0, 30)
    assert sandbox.stats.requests("POST /v1/message/send") == 30
    assert_exactly_once(sandbox, numbers)


async def test_derived_local_ids_are_deterministic_and_short() -> None:
    """The derived local_id depends only on key, inbox and recipient, and stays short ASCII."""
    a = SendMessage(inbox_id=1, creator_id=2, phone_number="15105553344", text="x")
    b = SendMessage(inbox_id=1, creator_id=3, phone_number="15105553344", text="other")
    c = SendMessage(inbox_id=2, creator_id=2, phone_number="15105553344", text="x")
    assert derive_local_id("job", a) == derive_local_id("job", b)
    assert derive_local_id("job", a) != derive_local_id("job", c)
    assert derive_local_id("job", a) != derive_local_id("job2", a)
    assert len(derive_local_id("k" * 64, a)) <= 128
    with pytest.raises(RequestValidationError):
        derive_local_id("bad key!", a)


async def test_concurrency_is_bounded_server_side(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """With latency injected, the server never sees more than `concurrency` sends at once."""
    sandbox.faults.random(Fault.latency(0.02), probability=1.0, route="POST /v1/message/send")
    report = await BatchSender(client, concurrency=5).send_all(sends(sandbox, list(phones(60))))
    assert report.sent == 60
    assert sandbox.stats.max_in_flight == 5


async def test_inputs_are_streamed_lazily(sandbox: Sandbox, client: HeymarketClient) -> None:
    """The sender pulls input only as slots free up instead of reading it all first."""
    pulled = 0
    sandbox.faults.random(Fault.latency(0.01), probability=1.0, route="POST /v1/message/send")

    async def lazy() -> AsyncIterator[SendMessage]:
        nonlocal pulled
        for message in sends(sandbox, list(phones(40))):
            pulled += 1
            yield message

    sender = BatchSender(client, concurrency=2)
    async with contextlib.aclosing(sender.stream(lazy())) as outcomes:
        first = await anext(outcomes)
        assert first.status is OutcomeStatus.SENT
        assert pulled <= 2 + 2 + 2  # in flight + queued outcomes + the one being read
    assert pulled < 40


async def test_unknown_when_history_is_unavailable_and_on_unknown_fail(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A dropped send whose history lookup keeps failing is `unknown` and stays in flight."""
    sandbox.faults.next(Fault.commit_then_drop(), route="POST /v1/message/send")
    sandbox.faults.random(Fault.server_error(503), probability=1.0, route="GET /v1/messages")
    journal = tmp_path / "j.sqlite3"
    report = await BatchSender(client, on_unknown="fail", journal=journal, key="u").send_all(
        sends(sandbox, ["15105550009"])
    )
    assert (report.unknown, report.sent) == (1, 0)
    assert report.problems[0].reason is not None
    assert sandbox.stats.requests("POST /v1/message/send") == 1  # never resent blindly
    async with Journal(journal) as book:
        assert await book.counts() == {"inflight": 1}
    # History comes back: the next run finds the send and reports it done, sending nothing.
    sandbox.faults.clear()
    again = await BatchSender(client, journal=journal, key="u").send_all(
        sends(sandbox, ["15105550009"])
    )
    assert (again.skipped, again.sent) == (1, 0)
    assert again.reconciled == 1
    assert_exactly_once(sandbox, ["15105550009"])


async def test_sustained_rate_stays_at_the_limit_without_429(sandbox: Sandbox) -> None:
    """At a scaled 6,000/min (100 per second) the sender sustains >= 95% with no 429."""
    sandbox.rate_limit_per_minute = 100
    sandbox.rate_limit_window = 1.0
    limit, total = 100, 500
    async with client_for(sandbox) as hm:
        hm._limiter = SlidingWindowLimiter(limit, period=1.0, interactive_share=0)
        report = await BatchSender(hm, concurrency=16).send_all(sends(sandbox, list(phones(total))))
    assert report.sent == total
    assert sandbox.stats.rate_limited == 0
    assert sandbox.stats.statuses[429] == 0
    # The first window's burst is free; measure the paced part, from the server's clock.
    at = sorted(entry.at for entry in sandbox.ledger)
    sustained = (total - 1 - limit) / (at[-1] - at[limit])
    assert sustained >= 0.95 * limit, f"{sustained:.1f}/s"


async def test_cancellation_propagates_and_a_later_run_finishes(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Cancelling send_all stops it promptly; rerunning with the journal finishes exactly once."""
    sandbox.faults.random(Fault.latency(0.01), probability=1.0, route="POST /v1/message/send")
    numbers = list(phones(300))
    journal = tmp_path / "j.sqlite3"
    task = asyncio.create_task(
        BatchSender(client, concurrency=8, key="cancel", journal=journal).send_all(
            sends(sandbox, numbers)
        )
    )
    while len(sandbox.ledger) < 40:  # noqa: ASYNC110 - polling ground truth owned by the server
        await asyncio.sleep(0.005)
    task.cancel()
    cancelled_at = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - cancelled_at < 1.0
    async with Journal(journal) as book:
        counts = await book.counts()
    assert counts.get("inflight", 0) <= 8
    assert counts["sent"] >= 40 - 8
    sandbox.faults.clear()
    report = await BatchSender(client, key="cancel", journal=journal).send_all(
        sends(sandbox, numbers)
    )
    assert report.sent + report.skipped == 300
    assert report.ok
    assert_exactly_once(sandbox, numbers)


async def test_resumable_job_refuses_generated_local_ids(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """With a journal but no key, a request whose local_id was generated fails unsent."""
    keeps = SendMessage(
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phone_number="15105550100",
        text="Hi",
        local_id="crm-row-100",
    )
    generated = next(sends(sandbox, ["15105550101"]))
    sender = BatchSender(client, journal=tmp_path / "j.sqlite3")
    report = await sender.send_all([keeps, generated])
    assert (report.sent, report.failed) == (1, 1)
    problem = report.problems[0]
    assert isinstance(problem.error, RequestValidationError)
    assert problem.error.field == "local_id"
    assert "key=" in str(problem.error)
    assert_exactly_once(sandbox, ["15105550100"])


async def test_unusable_journal_raises_instead_of_hanging(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A journal that cannot be opened raises BulkSendError and nothing is sent."""
    sender = BatchSender(client, journal=tmp_path / "missing-dir" / "j.sqlite3", key="k")
    async with asyncio.timeout(5):
        with pytest.raises(BulkSendError, match="cannot open the journal"):
            await sender.send_all(sends(sandbox, list(phones(3))))
    assert sandbox.stats.total_requests == 0


async def test_a_failing_input_iterator_propagates(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """An exception raised by the caller's input surfaces from send_all unchanged."""

    def broken() -> Iterator[SendMessage]:
        yield from sends(sandbox, ["15105550001"])
        raise LookupError("the CSV is truncated")

    async with asyncio.timeout(5):
        with pytest.raises(LookupError, match="truncated"):
            await BatchSender(client).send_all(broken())
