"""``heymarket demo``: bulk sending against an embedded sandbox that injects faults.

One list broadcast and N individual sends go through a real client over loopback HTTP
while the sandbox fails a share of the requests (5xx, 429 with sane or absurd
``Retry-After``, resets, latency, commits whose answer is dropped, unreadable, dripped or
oversized, and lookups that cannot see ``local_id``). Individual sends are not
deduplicated by the sandbox, as the API does not promise it, so only the SDK's
reconciliation stands between a dropped answer and a duplicate. The sandbox's ledger of
committed sends then shows whether anyone got a message twice, whether the SDK claimed a
send that never happened, and what became of the outcomes it could not decide.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._config import DEFAULT_RATE_LIMIT_PER_MINUTE, RetryPolicy
from ._args import (
    FAULT_KINDS,
    HELP_FORMATTER,
    Subparsers,
    example,
    fault_kinds,
    output_options,
    positive_int,
    probability,
)
from ._output import CommandError, ExitCode, Output, error_line

if TYPE_CHECKING:
    from .._client import HeymarketClient
    from ..bulk import Outcome, OutcomeStatus
    from ..sandbox import Sandbox

SEND_ROUTE: Final = "POST /v1/message/send"
LIST_ROUTE: Final = "POST /v2/lists"
# The API allows 500 requests a minute; at that pace the demo would take minutes, so the
# sandbox enforces a scaled-up limit. Client-side pacing is off: its window is a fixed 60 s,
# which cannot be scaled down with the rate, so after the injected 429s (which shrink the
# client's limit, as they should against the real API) it would idle for most of a minute.
SERVER_RATE_LIMIT: Final = 120_000
# Backoff scaled down the same way: an injected fault costs milliseconds, not seconds.
DEMO_RETRY: Final = RetryPolicy(
    attempts=6, deadline=60.0, initial_wait=0.01, max_wait=0.25, jitter=0.01
)
MAX_RECIPIENTS: Final = 1_000_000


EXAMPLES_PER_REASON: Final = 3
"""Phones shown for each reason in the text report (``--json`` lists them all)."""


def _numbers(prefix: str, count: int) -> Iterator[str]:
    """``count`` distinct valid US numbers in the ``prefix`` area code."""
    for index in range(count):
        yield f"1{prefix}{index:07d}"


@attrs.define
class _Phase:
    """What one way of sending cost and reported."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    reconciled: int = 0
    requests: int = 0
    send_retries: int = 0
    elapsed: float = 0.0

    @property
    def requests_per_recipient(self) -> float:
        return self.requests / self.recipients if self.recipients else 0.0

    def document(self) -> dict[str, Any]:
        return {
            **attrs.asdict(self),
            "elapsed": round(self.elapsed, 3),
            "requests_per_recipient": round(self.requests_per_recipient, 4),
        }


@attrs.frozen(kw_only=True)
class GroundTruth:
    """What the sandbox's ledger says happened, against what the SDK reported."""

    recipients: int
    duplicates: int
    """Recipients who got more than one message."""
    missing: int
    """Recipients who got nothing (the failed, some unknown, and any lost)."""
    lost: int
    """Recipients the SDK reported as sent who got nothing."""
    phantom: int
    """Recipients the SDK reported as failed who got a message anyway."""
    unexpected: int
    """Ledger recipients that were never asked for."""
    unknown_delivered: int = 0
    """Individual sends reported unknown that the ledger shows delivered."""
    unknown_missing: int = 0
    """Individual sends reported unknown that never arrived."""

    @property
    def exactly_once(self) -> bool:
        return not (self.duplicates or self.missing or self.unexpected)

    @property
    def consistent(self) -> bool:
        """Nobody twice, and the report is honest: nothing reported sent was lost, nothing
        reported failed arrived. Outcomes reported unknown may have gone either way."""
        return not (self.duplicates or self.unexpected or self.lost or self.phantom)


@attrs.frozen(kw_only=True)
class NotSent:
    """A failed or unknown outcome: one individual recipient, or a list broadcast's."""

    way: str
    """``"list broadcast"`` or ``"individual"``."""
    status: str
    recipients: int
    reason: str
    phone: str | None = None
    local_id: str | None = None


def _reason(outcome: Outcome) -> str:
    if outcome.reason and outcome.error is not None:
        return f"{outcome.reason} (last error: {error_line(outcome.error)})"
    if outcome.error is not None:
        return error_line(outcome.error)
    return outcome.reason or "no reason given"


@attrs.define
class _Demo:
    args: argparse.Namespace
    out: Output
    sandbox: Sandbox
    lists: _Phase
    singles: _Phase
    # What the SDK reported for each individual recipient, to compare with the ledger.
    claimed: dict[str, OutcomeStatus] = attrs.Factory(dict)
    # Every outcome that was not a plain send, with the reason the SDK gave.
    not_sent: list[NotSent] = attrs.Factory(list)

    async def broadcast_phase(self, hm: HeymarketClient) -> None:
        from ..bulk import OutcomeStatus, broadcast  # noqa: PLC0415 - loaded when the command runs, not for --help

        args, stats, phase = self.args, self.sandbox.stats, self.lists
        requests_before = stats.total_requests
        writes_before = stats.requests(SEND_ROUTE) + stats.requests(LIST_ROUTE)
        started = time.perf_counter()
        with self.out.progress("list broadcast", args.broadcast) as bar:

            def phones() -> Iterator[str]:
                for phone in _numbers("510", args.broadcast):
                    bar.advance()
                    yield phone

            report = await broadcast(
                hm,
                inbox_id=self.sandbox.default_inbox_id,
                creator_id=self.sandbox.default_creator_id,
                phones=phones(),
                text="Spring sale: 20% off everything this weekend",
                key=f"demo-broadcast-{args.seed}",
                on_chunk=lambda _: bar.note(f"{stats.requests(SEND_ROUTE):,} send requests"),
            )
        for chunk in report.chunks:
            if chunk.status in {OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN}:
                self.not_sent.append(
                    NotSent(
                        way="list broadcast",
                        status=chunk.status.value,
                        recipients=chunk.recipients,
                        reason=_reason(chunk),
                        local_id=chunk.local_id,
                    )
                )
        for invalid in report.invalid:
            self.not_sent.append(
                NotSent(
                    way="list broadcast",
                    status=OutcomeStatus.FAILED.value,
                    recipients=1,
                    reason=invalid.reason,
                    phone=invalid.value,
                )
            )
        phase.elapsed = time.perf_counter() - started
        phase.sent, phase.failed = report.sent, report.failed
        phase.skipped, phase.unknown = report.skipped, report.unknown
        phase.reconciled = sum(chunk.reconciled for chunk in report.chunks)
        phase.requests = stats.total_requests - requests_before
        writes = stats.requests(SEND_ROUTE) + stats.requests(LIST_ROUTE) - writes_before
        phase.send_retries = writes - len(report.chunks) - report.lists_created

    async def individual_phase(self, hm: HeymarketClient) -> None:
        from ..bulk import BatchSender, OutcomeStatus  # noqa: PLC0415 - loaded when the command runs, not for --help
        from ..resources.messages import SendMessage  # noqa: PLC0415 - loaded when the command runs, not for --help

        args, stats, phase = self.args, self.sandbox.stats, self.singles
        requests_before = stats.total_requests
        sends_before = stats.requests(SEND_ROUTE)
        started = time.perf_counter()
        sender = BatchSender(hm, concurrency=args.concurrency, key=f"demo-{args.seed}")
        requests = (
            SendMessage(
                inbox_id=self.sandbox.default_inbox_id,
                creator_id=self.sandbox.default_creator_id,
                phone_number=phone,
                text="Your order has shipped",
            )
            for phone in _numbers("650", args.count)
        )
        tally: Counter[OutcomeStatus] = Counter()
        with self.out.progress("individual sends", args.count) as bar:
            async with contextlib.aclosing(sender.stream(requests)) as outcomes:
                async for outcome in outcomes:
                    phone = outcome.request.phone_number if outcome.request else None
                    assert phone is not None  # every input is a SendMessage to a phone
                    self.claimed[phone] = outcome.status
                    tally[outcome.status] += 1
                    phase.reconciled += outcome.reconciled
                    if outcome.status in {OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN}:
                        self.not_sent.append(
                            NotSent(
                                way="individual",
                                status=outcome.status.value,
                                recipients=1,
                                reason=_reason(outcome),
                                phone=phone,
                                local_id=outcome.local_id,
                            )
                        )
                    bar.advance()
        phase.elapsed = time.perf_counter() - started
        phase.sent, phase.failed = tally[OutcomeStatus.SENT], tally[OutcomeStatus.FAILED]
        phase.skipped, phase.unknown = tally[OutcomeStatus.SKIPPED], tally[OutcomeStatus.UNKNOWN]
        phase.requests = stats.total_requests - requests_before
        phase.send_retries = stats.requests(SEND_ROUTE) - sends_before - args.count

    def ground_truth(self) -> GroundTruth:
        """Compare the sandbox's ledger of committed sends with the requested recipients."""
        from ..bulk import OutcomeStatus  # noqa: PLC0415 - loaded when the command runs, not for --help

        counts = self.sandbox.ledger_counts_by_recipient()
        wanted_lists = set(_numbers("510", self.args.broadcast))
        wanted = wanted_lists | set(_numbers("650", self.args.count))
        delivered_lists = sum(1 for phone in wanted_lists if counts[phone])
        said_sent = {OutcomeStatus.SENT, OutcomeStatus.SKIPPED}
        lost = sum(
            1 for phone, status in self.claimed.items() if status in said_sent and not counts[phone]
        )
        lost += max(0, self.lists.sent + self.lists.skipped - delivered_lists)
        phantom = sum(
            1
            for phone, status in self.claimed.items()
            if status is OutcomeStatus.FAILED and counts[phone]
        )
        unknown = [p for p, status in self.claimed.items() if status is OutcomeStatus.UNKNOWN]
        delivered_unknown = sum(1 for phone in unknown if counts[phone])
        return GroundTruth(
            recipients=len(wanted),
            duplicates=sum(1 for count in counts.values() if count > 1),
            missing=sum(1 for phone in wanted if not counts[phone]),
            lost=lost,
            phantom=phantom,
            unexpected=sum(1 for phone in counts if phone not in wanted),
            unknown_delivered=delivered_unknown,
            unknown_missing=len(unknown) - delivered_unknown,
        )

    def pacing_note(self) -> str:
        requests = self.lists.requests + self.singles.requests
        minutes = requests / DEFAULT_RATE_LIMIT_PER_MINUTE
        return (
            f"Client pacing is off: the API allows {DEFAULT_RATE_LIMIT_PER_MINUTE} requests a "
            f"minute and the client paces to that by default, so these {requests:,} requests "
            f"would take about {minutes:.1f} minutes; this sandbox allows "
            f"{SERVER_RATE_LIMIT:,} a minute instead (every 429 here is an injected fault)."
        )

    def lost_phones(self) -> list[str]:
        """Individual recipients reported sent or skipped that the ledger never saw."""
        from ..bulk import OutcomeStatus  # noqa: PLC0415 - loaded when the command runs, not for --help

        counts = self.sandbox.ledger_counts_by_recipient()
        said_sent = {OutcomeStatus.SENT, OutcomeStatus.SKIPPED}
        return sorted(
            phone
            for phone, status in self.claimed.items()
            if status in said_sent and not counts[phone]
        )

    def explain_not_sent(self) -> None:
        """Every failed or unknown outcome with its reason; identical reasons are grouped
        (with a few of their phones), so a fault storm stays readable."""
        out = self.out
        groups: dict[tuple[str, str, str], list[NotSent]] = {}
        for item in self.not_sent:
            groups.setdefault((item.way, item.status, item.reason), []).append(item)
        lost = self.lost_phones()
        if not groups and not lost:
            return
        out.line()
        out.line("Recipients not reported sent, and why:")
        for (way, status, reason), items in groups.items():
            recipients = sum(item.recipients for item in items)
            named = [item.phone or item.local_id or "?" for item in items]
            shown = ", ".join(named[:EXAMPLES_PER_REASON])
            if len(named) > EXAMPLES_PER_REASON:
                shown += f" and {len(named) - EXAMPLES_PER_REASON:,} more (--json lists all)"
            out.line(f"  {way}, {status}, {recipients:,} recipient(s) ({shown}): {reason}")
        if lost:
            out.line(
                f"  individual, lost, {len(lost):,} recipient(s) ({', '.join(lost[:3])}): "
                f"reported sent but the ledger has no message for them (a defect: please "
                f"report it)"
            )

    def report(self, elapsed: float) -> int:
        args, out, stats = self.args, self.out, self.sandbox.stats
        lists, singles = self.lists, self.singles
        truth = self.ground_truth()
        faults = {str(kind): count for kind, count in sorted(stats.faults.items())}
        status = ExitCode.OK if truth.consistent else ExitCode.JOB_FAILED
        if out.json_mode:
            out.write_json(
                {
                    "ok": truth.consistent,
                    "exactly_once": truth.exactly_once,
                    "ground_truth": attrs.asdict(truth),
                    "broadcast": lists.document(),
                    "individual": singles.document(),
                    "status_429": stats.statuses[429],
                    "faults": faults,
                    "dropped_connections": stats.dropped,
                    "fault_rate": args.fault_rate,
                    "fault_kinds": args.fault_kinds,
                    "seed": args.seed,
                    "concurrency": args.concurrency,
                    "client_pacing": False,
                    "client_pacing_note": self.pacing_note(),
                    "not_sent": [attrs.asdict(item) for item in self.not_sent],
                    "lost_phones": self.lost_phones(),
                    "elapsed": round(elapsed, 3),
                }
            )
            return status
        out.line(
            f"heymarket demo: {args.broadcast:,} phones by list broadcast and {args.count:,} "
            f"individual sends; the sandbox failed {args.fault_rate:.0%} of requests "
            f"(seed {args.seed}, concurrency {args.concurrency})"
        )
        out.paragraph(self.pacing_note())
        out.line()
        rows: list[tuple[str, object, object]] = [
            (name, getattr(lists, name), getattr(singles, name))
            for name in ("recipients", "sent", "failed", "skipped", "unknown", "reconciled")
        ]
        rows += [
            ("requests", lists.requests, singles.requests),
            (
                "requests per recipient",
                lists.requests_per_recipient,
                singles.requests_per_recipient,
            ),
            ("retried writes", lists.send_retries, singles.send_retries),
            ("elapsed", f"{lists.elapsed:.2f} s", f"{singles.elapsed:.2f} s"),
        ]
        out.table(("", "list broadcast", "individual"), rows)
        out.line()
        out.fields(
            [
                ("429 answers seen", stats.statuses[429]),
                ("faults injected", ", ".join(f"{k} {v}" for k, v in faults.items()) or "none"),
                ("connections dropped", stats.dropped),
                ("duplicates", truth.duplicates),
                ("lost (reported sent, never committed)", truth.lost),
                ("phantom (reported failed, committed)", truth.phantom),
                ("missing (nothing committed)", truth.missing),
                ("each recipient exactly once", truth.exactly_once),
                ("report honest, nobody twice", truth.consistent),
                ("total elapsed", f"{elapsed:.2f} s"),
            ],
            title=f"ground truth from the sandbox ledger, {truth.recipients:,} recipients",
        )
        out.line()
        out.paragraph(
            "How to read it: 'requests' counts every HTTP request the sandbox received "
            "(retries after faults, lookups that settle a lost answer, list creation and "
            "429s included); 'sent', 'failed' and 'unknown' count recipients. A list "
            "broadcast reaches a whole list with two requests (create the list, send to it), "
            "an individual send costs one request per recipient plus its retries and "
            "lookups. 'retried writes' are sends repeated after a fault; 'reconciled' are "
            "outcomes settled by looking up their local_id after the answer was lost."
        )
        self.explain_not_sent()
        unknown = lists.unknown + singles.unknown
        if unknown:
            out.line()
            out.paragraph(
                f"{unknown:,} outcome(s) are unknown: the answer was lost and the lookup by "
                f"local_id could not tell whether the message went out (e.g. the history it "
                f"read showed no local_id). They were not resent, so nobody got a second copy. "
                f"Of the {singles.unknown:,} individual ones, the ledger shows "
                f"{truth.unknown_delivered:,} delivered and {truth.unknown_missing:,} not; "
                f"against the real API, check those conversations before sending again."
            )
        return status


async def run_demo(args: argparse.Namespace, out: Output) -> int:
    """``heymarket demo``."""
    # The sandbox pulls in aiohttp.web; only the demo and `heymarket sandbox` need it.
    from ..sandbox import FaultPlan, Sandbox  # noqa: PLC0415

    if max(args.count, args.broadcast) > MAX_RECIPIENTS:
        raise CommandError(f"--count and --broadcast are at most {MAX_RECIPIENTS:,}")
    started = time.perf_counter()
    sandbox = Sandbox(
        seed=args.seed,
        rate_limit_per_minute=SERVER_RATE_LIMIT,
        dedupe_individual_sends=False,
        list_size=args.list_size,
        faults=FaultPlan.chaos(args.fault_rate, seed=args.seed, kinds=args.fault_kinds),
    )
    from .._client import HeymarketClient  # noqa: PLC0415 - loaded when the command runs, not for --help

    demo = _Demo(
        args=args,
        out=out,
        sandbox=sandbox,
        lists=_Phase(recipients=args.broadcast),
        singles=_Phase(recipients=args.count),
    )
    async with (
        sandbox,
        HeymarketClient(
            **sandbox.client_kwargs(), rate_limit_per_minute=None, retry=DEMO_RETRY
        ) as hm,
    ):
        # Broadcast first: reconciling a list broadcast walks team history, short this way.
        await demo.broadcast_phase(hm)
        await demo.individual_phase(hm)
    return demo.report(time.perf_counter() - started)


def register(sub: Subparsers) -> None:
    """Add ``demo`` to the top-level subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        parents=[output_options()],
        help="bulk sending against an embedded sandbox that injects faults",
        description=(
            "Start a fake Heymarket API on 127.0.0.1 that fails a share of the requests "
            "(5xx, 429, connection resets, sends committed whose answer is dropped, "
            "unreadable, dripped or oversized, lookups that cannot see local_id), send one "
            "list broadcast and --count individual messages through it, and check the "
            "sandbox's ledger: nobody twice, nothing reported sent that was not, and the "
            "outcomes that could not be decided reported as unknown. No credentials or "
            "network needed. Client pacing is off (at the API's 500 requests a minute the "
            "demo would take minutes); the sandbox allows far more instead. The report "
            "counts HTTP requests (retries and lookups included) apart from recipients, and "
            "gives the reason for every recipient not reported sent. --seed repeats the "
            "faults; with --concurrency above 1 the order in which requests reach the "
            "sandbox depends on timing, so the counts vary a little between runs: "
            "--concurrency 1 reproduces them exactly. Exit status 1 if any recipient got a "
            "duplicate or the report disagrees with the ledger."
        ),
        epilog=example(
            "heymarket demo",
            "heymarket demo --count 5000 --fault-rate 0.3 --json",
            "heymarket demo --seed 7 --concurrency 1   # the same counts on every run",
        ),
        formatter_class=HELP_FORMATTER,
    )
    parser.add_argument(
        "--count",
        type=positive_int,
        default=2000,
        metavar="N",
        help="individual sends (default 2000)",
    )
    parser.add_argument(
        "--broadcast",
        type=positive_int,
        default=2500,
        metavar="N",
        help="phones in the list broadcast (default 2500)",
    )
    parser.add_argument(
        "--list-size",
        type=positive_int,
        default=1000,
        metavar="N",
        help="the sandbox team's list_size (default 1000)",
    )
    parser.add_argument(
        "--fault-rate",
        type=probability,
        default=0.2,
        metavar="P",
        help="share of requests that fail (default 0.2)",
    )
    parser.add_argument(
        "--fault-kinds",
        type=fault_kinds,
        default=None,
        metavar="KIND,...",
        help="only these kinds of fault (default all): " + ", ".join(FAULT_KINDS),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="makes the faults repeatable (exactly so with --concurrency 1)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="individual sends in flight (default 16; 1 makes a --seed's counts exact)",
    )
    parser.set_defaults(handler=run_demo)
