from __future__ import annotations

from pathlib import Path

import pytest

from heymarket_async import HeymarketClient
from heymarket_async.bulk import OutcomeStatus, broadcast
from heymarket_async.errors import RequestValidationError
from heymarket_async.sandbox import Fault, LedgerKind, Sandbox

from .conftest import phones

SEND = "POST /v1/message/send"
LISTS = "POST /v2/lists"
HISTORY = ["GET /v1/messages", "POST /v1/messages/all"]


async def test_25000_phones_cost_three_lists_and_three_sends(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """25,000 phones with list_size 10,000 take 3 list creates and 3 sends, each phone once."""
    numbers = list(phones(25_000))
    journal = tmp_path / "b.sqlite3"
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Spring sale",
        key="spring",
        journal=journal,
    )
    assert (report.recipients, report.sent, report.failed, report.unknown) == (25_000, 25_000, 0, 0)
    assert report.lists_created == 3
    assert [c.status for c in report.chunks] == [OutcomeStatus.SENT] * 3
    assert sandbox.stats.requests(LISTS) == 3
    assert sandbox.stats.requests(SEND) == 3
    counts = sandbox.ledger_counts_by_recipient()
    assert set(counts) == set(numbers)
    assert set(counts.values()) == {1}

    again = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Spring sale",
        key="spring",
        journal=journal,
    )
    assert (again.sent, again.skipped, again.lists_created) == (0, 25_000, 0)
    assert sandbox.stats.requests(SEND) == 3
    assert set(sandbox.ledger_counts_by_recipient().values()) == {1}


async def test_rerun_without_journal_relies_on_server_dedupe(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Without a journal a rerun reuses the same local_ids; the API's dedupe sends nothing new."""
    numbers = list(phones(30))
    for _ in range(2):
        await broadcast(
            client,
            inbox_id=sandbox.default_inbox_id,
            creator_id=sandbox.default_creator_id,
            phones=numbers,
            text="Hi",
            key="nojournal",
            list_size=10,
        )
    assert len(sandbox.ledger) == 30
    assert set(sandbox.ledger_counts_by_recipient().values()) == {1}


async def test_invalid_and_repeated_phones_are_reported(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Invalid phones are reported with their positions; repeats are skipped; counts add up."""
    items = ["15105550001", "+1 (510) 555-0002", "nope", "15105550001", "15105550003"]
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=items,
        text="Hi",
        key="mixed",
    )
    assert [(i.index, i.value) for i in report.invalid] == [(1, "+1 (510) 555-0002"), (2, "nope")]
    assert (report.recipients, report.sent, report.skipped, report.failed) == (5, 2, 1, 2)
    assert report.sent + report.skipped + report.failed + report.unknown == report.recipients
    assert not report.ok
    normalized = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=["+1 (510) 555-0009"],
        text="Hi",
        key="normalized",
        normalize=True,
    )
    assert normalized.sent == 1
    assert sandbox.ledger_counts_by_recipient()["15105550009"] == 1


async def test_bad_content_is_refused_before_any_request(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Missing content or a bad key raises before anything reaches the server."""
    with pytest.raises(RequestValidationError):
        await broadcast(client, inbox_id=1, creator_id=1, phones=["15105550001"], key="k")
    with pytest.raises(RequestValidationError, match="key"):
        await broadcast(
            client, inbox_id=1, creator_id=1, phones=["15105550001"], text="x", key="bad key"
        )
    assert sandbox.stats.total_requests == 0


async def test_dropped_broadcast_is_reconciled_not_resent(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A list broadcast committed but dropped is found in team history and not sent again."""
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    sandbox.faults.next(Fault.commit_then_drop(), route=LISTS)
    numbers = list(phones(40))
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="dropped",
        list_size=25,
        journal=tmp_path / "j.sqlite3",
    )
    assert report.sent == 40
    assert sum(c.reconciled for c in report.chunks) == 1
    counts = sandbox.ledger_counts_by_recipient(kinds=[LedgerKind.LIST_BROADCAST])
    assert set(counts) == set(numbers)
    assert set(counts.values()) == {1}


async def test_interrupted_chunk_is_settled_on_the_next_run(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A chunk left undecided (history down) is looked up first on the next run."""
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    sandbox.faults.random(Fault.server_error(503), probability=1.0, route=HISTORY)
    journal = tmp_path / "j.sqlite3"
    numbers = list(phones(20))
    first = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="undecided",
        journal=journal,
        on_unknown="fail",
    )
    assert (first.unknown, first.sent) == (20, 0)
    sandbox.faults.clear()
    second = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="undecided",
        journal=journal,
    )
    assert (second.skipped, second.sent) == (20, 0)
    assert sandbox.stats.requests(SEND) == 1
    assert set(sandbox.ledger_counts_by_recipient().values()) == {1}
