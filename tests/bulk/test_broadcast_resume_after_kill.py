"""A list broadcast SIGKILLed mid-run under faults, then run again, reaches everyone once.

Scaled down from 100,000 phones in lists of 10,000: 20,000 phones in lists of 1,000, after
another job already put 20,000 messages in team history, with about 20 % of list creates
and list sends failing (commit-then-drop included) and a 1-second rate-limit window.
"""

from __future__ import annotations

from pathlib import Path

from heymarket_async._reconcile import PROBE_MEMBERS, PROBE_PAGES
from heymarket_async.bulk import Journal, broadcast
from heymarket_async.sandbox import Fault, FaultPlan, FaultRule, LedgerKind, Sandbox

from ..helpers import sigkill_when_ledger_reaches
from .conftest import client_for, phones
from .test_journal_lease import expire_leases

KEY = "killed-lists"
COUNT = 20_000
LIST_SIZE = 1_000
SEND = "POST /v1/message/send"
LISTS = "POST /v2/lists"
HISTORY_ROUTES = ("GET /v1/messages", "POST /v1/messages/all")
LOOKUP_BOUND = PROBE_MEMBERS * PROBE_PAGES


def faulty_plan() -> tuple[FaultPlan, list[FaultRule]]:
    """About 20 % faults on list creates and list sends; the rules that leave a send in doubt."""
    plan = FaultPlan(seed=15)
    ambiguous: list[FaultRule] = []
    for route in (SEND, LISTS):
        for fault, probability in (
            (Fault.commit_then_drop(), 0.06),
            (Fault.reset(), 0.04),
            (Fault.server_error(503), 0.04),
            (Fault.bad_gateway(), 0.02),
        ):
            rule = plan.random(fault, probability=probability, route=route)
            if route == SEND:
                ambiguous.append(rule)
        plan.random(Fault.rate_limited(retry_after=0.01), probability=0.04, route=route)
    return plan, ambiguous


async def kill_mid_run(sb: Sandbox, journal: Path, stop_at: int) -> None:
    await sigkill_when_ledger_reaches(
        sb,
        "tests.bulk._broadcast_worker",
        str(journal),
        str(COUNT),
        KEY,
        str(sb.default_inbox_id),
        str(sb.default_creator_id),
        str(LIST_SIZE),
        stop_at=stop_at,
    )
    expire_leases(journal)  # the dead run's lease would run out after its ttl


async def test_list_broadcast_killed_mid_run_then_rerun_reaches_everyone_once(
    tmp_path: Path,
) -> None:
    """Killed mid-run and run again: each phone once, none unknown, lookups bounded."""
    numbers = list(phones(COUNT))
    earlier = list(phones(COUNT, start=COUNT))
    journal = tmp_path / "lists.sqlite3"
    async with Sandbox(rate_limit_per_minute=500, rate_limit_window=1.0) as sb:
        async with client_for(sb) as hm:
            await broadcast(
                hm,
                inbox_id=sb.default_inbox_id,
                creator_id=sb.default_creator_id,
                phones=earlier,
                text="Earlier",
                key="earlier-job",
                list_size=LIST_SIZE,
            )
        assert len(sb.ledger) == COUNT  # 20 earlier lists' messages in team history
        sb.faults, ambiguous_rules = faulty_plan()

        await kill_mid_run(sb, journal, stop_at=COUNT + COUNT // 2)
        async with Journal(journal) as book:
            left = await book.counts()
        assert left.get("sent", 0) > 0

        async with client_for(sb) as hm:
            report = await broadcast(
                hm,
                inbox_id=sb.default_inbox_id,
                creator_id=sb.default_creator_id,
                phones=numbers,
                text="Hi",
                key=KEY,
                list_size=LIST_SIZE,
                journal=journal,
            )
        assert (report.failed, report.unknown) == (0, 0), report.chunks
        assert report.sent + report.skipped == COUNT
        assert report.skipped > 0  # the killed run's lists, not sent again

        counts = sb.ledger_counts_by_recipient(kinds=[LedgerKind.LIST_BROADCAST])
        assert set(counts) == {*numbers, *earlier}
        assert set(counts.values()) == {1}
        # Each ambiguous list send (and the one the kill may have left in flight) cost at
        # most PROBE_MEMBERS * PROBE_PAGES history requests, whatever history holds.
        ambiguous = sum(rule.fired for rule in ambiguous_rules)
        assert ambiguous > 0
        history = sum(sb.stats.requests(route) for route in HISTORY_ROUTES)
        assert history <= LOOKUP_BOUND * (ambiguous + 1), (history, ambiguous)
        assert sb.stats.requests("POST /v1/messages/all") == 0
