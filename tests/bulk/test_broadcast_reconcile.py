"""Settling an ambiguous list broadcast costs a bounded number of history requests, whatever
the team sent before; progress is counted in recipients."""

from __future__ import annotations

from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, SendMessage
from heymarket_async._reconcile import PROBE_MEMBERS, PROBE_PAGES
from heymarket_async.bulk import (
    BatchSender,
    BroadcastProgress,
    Outcome,
    OutcomeStatus,
    broadcast,
)
from heymarket_async.bulk._broadcast import _probe_sample
from heymarket_async.bulk._sender import BROADCAST_LOOKUP_PAGES
from heymarket_async.sandbox import Fault, LedgerKind, Sandbox

from .conftest import phones

SEND = "POST /v1/message/send"
HISTORY_ROUTES = ("GET /v1/messages", "POST /v1/messages/all")
LOOKUP_BOUND = PROBE_MEMBERS * PROBE_PAGES
"""History requests one ambiguous list broadcast may cost (6)."""


def history_requests(sb: Sandbox) -> int:
    return sum(sb.stats.requests(route) for route in HISTORY_ROUTES)


def assert_each_once(sb: Sandbox, numbers: list[str]) -> None:
    counts = sb.ledger_counts_by_recipient(kinds=[LedgerKind.LIST_BROADCAST])
    assert set(counts) == set(numbers)
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("fault", [Fault.reset(), Fault.commit_then_drop()], ids=str)
async def test_ambiguous_last_chunk_after_many_earlier_ones_costs_a_bounded_lookup(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path, fault: Fault
) -> None:
    """After 39 lists went out, an ambiguous 40th costs <= 6 history requests and is sent."""
    numbers = list(phones(2000))
    sandbox.faults.next(fault, route=SEND, after=39)
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="many",
        list_size=50,
        journal=tmp_path / "j.sqlite3",
    )
    assert (report.sent, report.failed, report.unknown) == (2000, 0, 0)
    assert sandbox.faults.pending == 0
    assert 1 <= history_requests(sandbox) <= LOOKUP_BOUND
    last = report.chunks[-1]
    assert last.status is OutcomeStatus.SENT
    assert last.message_id is not None
    # Found in a member's conversation, or (not processed) sent again with its local_id.
    assert last.reconciled == (fault.kind == "commit_then_drop")
    assert_each_once(sandbox, numbers)


async def test_strict_lookup_without_the_resend_policy_reads_team_history(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """resend_broadcasts=False proves absence by walking team history: cost grows with volume."""
    numbers = list(phones(2000))
    sandbox.faults.next(Fault.reset(), route=SEND, after=39)
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="strict",
        list_size=50,
        resend_broadcasts=False,
    )
    assert (report.sent, report.unknown) == (2000, 0)
    assert report.chunks[-1].reason is None
    # 1,950 earlier messages at 200 a page: the walk needs 10+ pages to prove absence.
    assert sandbox.stats.requests("POST /v1/messages/all") >= 10
    assert_each_once(sandbox, numbers)


async def test_probed_members_opted_out_then_the_resend_relies_on_dedupe(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """A broadcast the probes cannot see is resent with its local_id; the API deduplicates it."""
    numbers = list(phones(10))
    probed = _probe_sample(numbers)  # the members whose conversations a lookup reads
    assert len(probed) == PROBE_MEMBERS
    for phone in probed:
        sandbox.opt_out(phone)
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=numbers,
        text="Hi",
        key="optedprobe",
        list_size=10,
    )
    [chunk] = report.chunks
    assert chunk.status is OutcomeStatus.SENT
    assert chunk.reason is not None
    assert "same local_id" in chunk.reason
    assert sandbox.stats.requests(SEND) == 2  # the dropped one, then the deduplicated resend
    assert history_requests(sandbox) == PROBE_MEMBERS
    assert_each_once(sandbox, [n for n in numbers if n not in probed])


async def test_progress_counts_recipients_decided_not_rows_read(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """Each chunk outcome carries its size; progress after two lists of 1,000 says 2,000."""
    numbers = list(phones(2500))
    seen: list[BroadcastProgress] = []
    at_chunk: list[tuple[int, int]] = []

    def on_chunk(outcome: Outcome) -> None:
        at_chunk.append((outcome.recipients, len(seen)))  # the next progress follows it

    report = await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=[*numbers, numbers[0]],
        text="Hi",
        key="progress",
        list_size=1000,
        on_chunk=on_chunk,
        on_progress=seen.append,
    )
    assert [size for size, _ in at_chunk] == [1000, 1000, 500]
    assert [c.recipients for c in report.chunks] == [1000, 1000, 500]
    done = [p.done for p in seen]
    assert done == sorted(done)
    # The repeated phone is skipped when read, before the last list goes out.
    assert [seen[i].done for _, i in at_chunk] == [1000, 2000, 2501]
    assert seen[-1].done == seen[-1].recipients == report.recipients == 2501
    assert (seen[-1].sent, seen[-1].skipped) == (2500, 1)


async def test_a_rerun_that_settles_an_earlier_chunk_says_so(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """Settling an in-flight chunk of an earlier run is reported through on_progress notes."""
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    sandbox.faults.random(Fault.server_error(503), probability=1.0, route=list(HISTORY_ROUTES))
    journal = tmp_path / "j.sqlite3"
    numbers = list(phones(20))
    job = {
        "inbox_id": sandbox.default_inbox_id,
        "creator_id": sandbox.default_creator_id,
        "text": "Hi",
        "key": "noisy",
        "journal": journal,
    }
    first = await broadcast(client, phones=numbers, on_unknown="fail", **job)  # type: ignore[arg-type]
    assert first.unknown == 20
    sandbox.faults.clear()
    notes: list[str] = []
    second = await broadcast(
        client,
        phones=numbers,
        on_progress=lambda p: notes.append(p.note) if p.note else None,
        **job,  # type: ignore[arg-type]
    )
    assert (second.skipped, second.sent, second.unknown) == (20, 0, 0)
    assert any("settling list broadcast" in note for note in notes)
    assert any("reconciling" in note for note in notes)
    [settled] = second.chunks
    assert (settled.status, settled.reconciled, settled.recipients) == (
        OutcomeStatus.SKIPPED,
        True,
        20,
    )
    assert sandbox.stats.requests(SEND) == 1
    assert_each_once(sandbox, numbers)


async def test_batch_sender_list_send_lookup_is_bounded_then_resent_with_its_local_id(
    sandbox: Sandbox, client: HeymarketClient
) -> None:
    """A list send with unknown members reads 3 team pages at most, then relies on dedupe."""
    await broadcast(
        client,
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        phones=list(phones(2000, start=5000)),
        text="Earlier",
        key="volume",
        list_size=1000,
    )
    created = await client.lists.create(title="L", local_id="list-x", phones=list(phones(5)))
    sandbox.faults.next(Fault.reset(), route=SEND)
    send = SendMessage(
        inbox_id=sandbox.default_inbox_id,
        creator_id=sandbox.default_creator_id,
        list_id=created.id,
        local_id="list-x-send",
        text="Hi",
    )
    [outcome] = [o async for o in BatchSender(client).stream([send])]
    assert outcome.status is OutcomeStatus.SENT
    assert outcome.reason is not None
    assert "same local_id" in outcome.reason
    assert sandbox.stats.requests("POST /v1/messages/all") == BROADCAST_LOOKUP_PAGES
    assert_each_once(sandbox, [*phones(2000, start=5000), *phones(5)])
