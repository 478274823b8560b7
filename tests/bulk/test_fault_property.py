"""Property: whatever faults the server scripts, on whatever request, nobody gets a message
twice, and the report accounts for everyone honestly.

Hypothesis draws one script of faults per route (sends, list creation, the two message
listings a lookup reads), over every fault kind the sandbox knows. A small ``BatchSender``
job and a small ``broadcast()`` run against it with the server's dedupe of single sends off,
then run again on the same journal without faults. After each run:

* the sandbox's ledger holds each recipient at most once;
* the report's counts add up to the job's size;
* a recipient the ledger does not hold was reported failed or unknown, never sent or
  skipped; and one reported failed ("certainly not sent") is not in the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender, OutcomeStatus, broadcast
from heymarket_async.sandbox import (
    FAR_FUTURE_HTTP_DATE,
    MESSAGE_LISTING_ROUTES,
    Fault,
    FaultKind,
    FaultPlan,
    LedgerKind,
    Sandbox,
)

SEND = "POST /v1/message/send"
CREATE_LIST = "POST /v2/lists"
SINGLES = [f"1650555{i:04d}" for i in range(4)]
LISTED = [f"1510555{i:04d}" for i in range(6)]
LIST_SIZE = 3
# No waiting between retries: the property is about outcomes, not pacing.
NO_WAITS = RetryPolicy(attempts=4, deadline=30.0, initial_wait=0.0, max_wait=0.0, jitter=0.0)

BY_KIND: dict[FaultKind, st.SearchStrategy[Fault]] = {
    FaultKind.SERVER_ERROR: st.builds(
        Fault.server_error,
        st.sampled_from([500, 502, 503, 504]),
        body=st.sampled_from(["json", "html", "empty"]),
    ),
    FaultKind.RATE_LIMIT: st.builds(Fault.rate_limited, retry_after=st.sampled_from([0.0, None])),
    FaultKind.LATENCY: st.builds(
        Fault.latency, st.sampled_from([0.0, 0.005]), after_commit=st.booleans()
    ),
    FaultKind.RESET: st.just(Fault.reset()),
    FaultKind.COMMIT_THEN_DROP: st.just(Fault.commit_then_drop()),
    FaultKind.UNREADABLE_2XX: st.builds(
        Fault.unreadable_success, st.sampled_from(["text", "html", "empty", "array", "truncated"])
    ),
    FaultKind.HISTORY_WITHOUT_LOCAL_ID: st.builds(
        Fault.history_without_local_id, st.sampled_from(["absent", "null", "empty"])
    ),
    FaultKind.HUGE_RETRY_AFTER: st.builds(
        Fault.huge_retry_after,
        st.sampled_from(["1e9", "inf", FAR_FUTURE_HTTP_DATE]),
        status=st.sampled_from([429, 503]),
    ),
    FaultKind.SLOW_DRIP: st.builds(
        Fault.slow_drip, st.just(0.0), max_writes=st.sampled_from([None, 7])
    ),
    FaultKind.OVERSIZED: st.builds(Fault.oversized, st.sampled_from([64 * 1024, 300 * 1024])),
}
faults = st.one_of(*BY_KIND.values())
# One step per matching request: a fault, or None to let that request through.
scripts = st.lists(st.one_of(st.none(), faults), max_size=8)
# On a listing, `[]` is a readable answer that says "no messages": a server that answers it
# for a conversation holding the send is lying, not garbled, and no client can tell. The
# other unreadable bodies stay, as do all other kinds.
lookup_faults = st.one_of(
    *(strategy for kind, strategy in BY_KIND.items() if kind is not FaultKind.UNREADABLE_2XX),
    st.builds(Fault.unreadable_success, st.sampled_from(["text", "html", "empty", "truncated"])),
)
lookup_scripts = st.lists(st.one_of(st.none(), lookup_faults), max_size=8)


def test_every_fault_kind_can_be_drawn() -> None:
    """The scripts draw from every kind the sandbox can inject."""
    assert set(BY_KIND) == set(FaultKind)


@given(st.data())
def test_each_strategy_draws_its_kind(data: st.DataObject) -> None:
    """Each kind's strategy builds faults of that kind."""
    kind = data.draw(st.sampled_from(list(FaultKind)))
    assert data.draw(BY_KIND[kind]).kind is kind


def plan_for(
    send: list[Fault | None], lists: list[Fault | None], lookups: list[Fault | None]
) -> FaultPlan:
    plan = FaultPlan()
    plan.sequence(send, route=SEND)
    plan.sequence(lists, route=CREATE_LIST)
    plan.sequence(lookups, route=list(MESSAGE_LISTING_ROUTES))
    return plan


async def run_jobs(sb: Sandbox, journal: Path) -> tuple[dict[str, OutcomeStatus], object]:
    """The BatchSender job (outcome per phone) and the broadcast (its report)."""
    claimed: dict[str, OutcomeStatus] = {}
    async with HeymarketClient(
        **sb.client_kwargs(), rate_limit_per_minute=None, retry=NO_WAITS
    ) as hm:
        requests = (
            SendMessage(
                inbox_id=sb.default_inbox_id,
                creator_id=sb.default_creator_id,
                phone_number=phone,
                text="Hi",
            )
            for phone in SINGLES
        )
        sender = BatchSender(hm, concurrency=2, journal=journal, key="property")
        async with contextlib.aclosing(sender.stream(requests)) as outcomes:
            async for outcome in outcomes:
                assert outcome.request is not None
                assert outcome.request.phone_number is not None
                claimed[outcome.request.phone_number] = outcome.status
        report = await broadcast(
            hm,
            inbox_id=sb.default_inbox_id,
            creator_id=sb.default_creator_id,
            phones=LISTED,
            text="Sale",
            key="property-list",
            list_size=LIST_SIZE,
            journal=journal.with_suffix(".broadcast.sqlite3"),
        )
    return claimed, report


def check(sb: Sandbox, claimed: dict[str, OutcomeStatus], report: object) -> None:
    counts = sb.ledger_counts_by_recipient()
    doubled = {phone: n for phone, n in counts.items() if n > 1}
    assert not doubled, f"sent more than once: {doubled}"
    assert set(counts) <= set(SINGLES) | set(LISTED)
    # The BatchSender job: one outcome each, and each one honest.
    assert sorted(claimed) == SINGLES
    for phone, status in claimed.items():
        if not counts[phone]:
            assert status in {OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN}, (phone, status)
        if status is OutcomeStatus.FAILED:
            assert not counts[phone], f"{phone} reported failed but was sent"
    # The broadcast: counts add up, and everyone reported sent (or skipped) got it.
    tally = Counter(claimed.values())
    assert sum(tally.values()) == len(SINGLES)
    assert report.recipients == len(LISTED)  # type: ignore[attr-defined]
    parts = (report.sent, report.skipped, report.failed, report.unknown)  # type: ignore[attr-defined]
    assert sum(parts) == len(LISTED), parts
    listed = Counter(
        phone
        for entry in sb.ledger
        if entry.kind is LedgerKind.LIST_BROADCAST
        for phone in entry.recipients
    )
    assert len(listed) >= report.sent + report.skipped  # type: ignore[attr-defined]
    # Each list broadcast: reported failed => nobody got it; reported sent => all did.
    reached: dict[str, set[str]] = {}
    for entry in sb.ledger:
        if entry.kind is LedgerKind.LIST_BROADCAST and entry.local_id is not None:
            reached.setdefault(entry.local_id, set()).update(entry.recipients)
    for chunk in report.chunks:  # type: ignore[attr-defined]
        if chunk.request is None:  # the list could not be created: nothing was sent
            assert chunk.status is OutcomeStatus.FAILED, chunk
            continue
        got = reached.get(chunk.request.local_id, set())
        if chunk.status is OutcomeStatus.FAILED:
            assert not got, f"chunk {chunk.local_id} reported failed but reached {len(got)}"
        if chunk.status is OutcomeStatus.SENT:
            assert len(got) == chunk.recipients, (chunk.local_id, len(got), chunk.recipients)


async def scenario(
    tmp: Path,
    send: list[Fault | None],
    lists: list[Fault | None],
    lookups: list[Fault | None],
) -> None:
    journal = tmp / "job.sqlite3"
    async with Sandbox(
        rate_limit_per_minute=None,
        dedupe_individual_sends=False,
        list_size=LIST_SIZE,
        faults=plan_for(send, lists, lookups),
    ) as sb:
        claimed, report = await run_jobs(sb, journal)
        check(sb, claimed, report)
        # Run again on the same journals, the server healthy: still nobody twice.
        sb.faults = None
        claimed, report = await run_jobs(sb, journal)
        check(sb, claimed, report)


@pytest.mark.timeout(300)
@settings(
    max_examples=40,
    deadline=None,
    # Generate only: shrinking a failure would rerun the jobs hundreds of times.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(send=scripts, lists=scripts, lookups=lookup_scripts)
def test_any_fault_script_sends_nobody_twice_and_reports_honestly(
    tmp_path_factory: object,
    send: list[Fault | None],
    lists: list[Fault | None],
    lookups: list[Fault | None],
) -> None:
    """For any scripted faults on sends, list creation and lookups, each recipient is in the
    ledger at most once, before and after a rerun, and the reports add up honestly."""
    tmp = tmp_path_factory.mktemp("property")  # type: ignore[attr-defined]
    asyncio.run(asyncio.wait_for(scenario(tmp, send, lists, lookups), timeout=50))
