from __future__ import annotations

from pathlib import Path

from heymarket_async.bulk import BatchSender, Journal
from heymarket_async.sandbox import FaultPlan, Sandbox

from ..helpers import sigkill_when_ledger_reaches
from .conftest import client_for, phones, sends
from .test_batch_sender import assert_exactly_once
from .test_journal_lease import expire_leases

KEY = "killed"


async def _run_until_killed(sb: Sandbox, journal: Path, count: int, stop_at: int) -> None:
    await sigkill_when_ledger_reaches(
        sb,
        "tests.bulk._worker",
        str(journal),
        str(count),
        KEY,
        str(sb.default_inbox_id),
        str(sb.default_creator_id),
        stop_at=stop_at,
    )
    expire_leases(journal)  # the dead run's lease would run out after its ttl


async def test_sigkill_at_any_point_then_resume_sends_each_once(tmp_path: Path) -> None:
    """A job SIGKILLed twice mid-run under faults, then resumed, reaches everyone exactly once."""
    count = 2000
    journal = tmp_path / "job.sqlite3"
    numbers = list(phones(count))
    async with Sandbox(
        rate_limit_per_minute=None,
        dedupe_individual_sends=False,
        faults=FaultPlan.chaos(0.2, seed=11, max_delay=0.005),
    ) as sb:
        await _run_until_killed(sb, journal, count, stop_at=count // 4)
        await _run_until_killed(sb, journal, count, stop_at=count // 2)
        killed_with = len(sb.ledger)
        assert killed_with < count
        async with Journal(journal) as book:
            left = await book.counts()
        assert left.get("inflight", 0) > 0 or left.get("sent", 0) > 0
        async with client_for(sb) as hm:
            report = await BatchSender(hm, concurrency=8, key=KEY, journal=journal).send_all(
                sends(sb, numbers)
            )
        assert report.ok
        assert report.sent + report.skipped == count
        # Everything the killed runs delivered is skipped, or reported sent after a lookup
        # found it (when an earlier lookup of it failed); nothing else is skipped.
        assert report.skipped <= killed_with
        assert killed_with - report.skipped <= report.reconciled
        assert_exactly_once(sb, numbers)
