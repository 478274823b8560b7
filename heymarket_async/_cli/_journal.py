"""``heymarket journal show|resolve FILE``: read a bulk job's journal, settle what it left open.

Neither command needs credentials or the network. ``show`` opens the file read-only (an old
journal is not even upgraded). ``resolve`` changes only entries in flight or unknown, asks
first (``--yes`` skips the question; without a terminal it is required), and refuses while a
run of the job holds its lease. Exit statuses: 0 done (or nothing to do); 1 you answered no
(nothing changed); 2 the file, the selection or the journal's state refused it (nothing
changed).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import BulkSendError
from ._args import HELP_FORMATTER, Subparsers, example, output_options
from ._output import CommandError, ExitCode, Output

if TYPE_CHECKING:
    from ..bulk._journal import EntryStatus, EntryView, Journal, JournalOverview

_UNSETTLED: Final[tuple[EntryStatus, ...]] = ("failed", "inflight", "unknown")
_RESOLVABLE: Final[frozenset[str]] = frozenset({"inflight", "unknown"})
_LABELS: Final[dict[str, str]] = {
    "sent": "sent",
    "failed": "failed",
    "inflight": "in flight",
    "unknown": "unknown",
}
# Entries named one by one in the confirmation question.
_PREVIEW: Final = 10
_CONSEQUENCES: Final[dict[str, str]] = {
    "sent": (
        "No run will send them again. If one of them was in fact never sent, its recipient "
        "never gets the message."
    ),
    "unsent": (
        "The next run sends them again. If one of them was in fact sent, its recipient gets "
        "the message TWICE."
    ),
}


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise CommandError(f"no journal at {path}")
    return path


@contextlib.asynccontextmanager
async def _opened(path: Path, *, read_only: bool) -> AsyncIterator[Journal]:
    """The journal at ``path``; its failures are the command's (nothing was changed)."""
    from ..bulk._journal import Journal  # noqa: PLC0415 - loaded when the command runs, not for --help

    try:
        async with Journal(path, read_only=read_only) as journal:
            yield journal
    except BulkSendError as exc:
        raise CommandError(str(exc)) from exc


def _entry_document(entry: EntryView) -> dict[str, Any]:
    return {
        "local_id": entry.local_id,
        "job": entry.job,
        "status": entry.status,
        "reason": entry.reason,
        "message_id": entry.message_id,
        "recipients": entry.recipients,
        "list_id": entry.list_id,
        "run_id": entry.run_id,
        "first_attempt_at": datetime.fromtimestamp(entry.first_attempt_at, UTC),
        "updated_at": datetime.fromtimestamp(entry.updated_at, UTC),
    }


def _overview_document(overview: JournalOverview) -> dict[str, Any]:
    return {
        "path": overview.path,
        "schema_version": overview.schema_version,
        "jobs": list(overview.jobs),
        "leases": [
            {
                "job": lease.job,
                "owner": lease.owner,
                "run_id": lease.run_id,
                "expires_at": datetime.fromtimestamp(lease.expires_at, UTC),
                "live": lease.is_live(),
            }
            for lease in overview.leases
        ],
        "entries": [_entry_document(entry) for entry in overview.entries],
        "more": overview.more,
    }


async def run_show(args: argparse.Namespace, out: Output) -> int:
    """``heymarket journal show``."""
    path = _existing(args.file)
    statuses = None if args.all else _UNSETTLED
    async with _opened(path, read_only=True) as journal:
        overview = await journal.overview(
            job=args.key,
            local_ids=args.local_id or (),
            statuses=statuses,
            limit=args.limit or None,
        )
    if out.json_mode:
        out.write_json(_overview_document(overview))
        return ExitCode.OK
    out.fields(
        [
            ("journal", f"{overview.path} (schema {overview.schema_version})"),
            *(
                (
                    f"lease {lease.job}",
                    f"{lease.owner} until {_when(lease.expires_at)}"
                    + (" (running)" if lease.is_live() else " (expired: the next run takes over)"),
                )
                for lease in overview.leases
            ),
        ]
    )
    if not overview.leases:
        out.line("no run holds a lease: no job is running")
    out.line()
    out.table(
        ("job", "sent", "failed", "in flight", "unknown"),
        [
            (job.job or "-", job.sent, job.failed, job.inflight, job.unknown)
            for job in overview.jobs
        ],
    )
    out.line()
    which = "entries" if args.all else "failed, in flight and unknown entries"
    if not overview.entries:
        out.line(f"no {which}")
        return ExitCode.OK
    out.table(
        ("local_id", "job", "status", "since", "recipients", "reason"),
        [
            (
                entry.local_id,
                entry.job or "-",
                _LABELS[entry.status],
                _when(entry.first_attempt_at),
                entry.recipients,
                entry.reason,
            )
            for entry in overview.entries
        ],
        title=f"{which} (oldest change first):",
    )
    if overview.more:
        out.line(f"... and {overview.more:,} more (--limit 0 shows all)")
    return ExitCode.OK


def _select(
    overview: JournalOverview, key: str | None, local_ids: Sequence[str]
) -> list[EntryView]:
    """The entries ``resolve`` would change.

    Raises:
        CommandError: a named entry is missing or settled, or a run of its job is live.
    """
    found = {entry.local_id: entry for entry in overview.entries}
    for local_id in local_ids:
        entry = found.get(local_id)
        if entry is None:
            where = f" of job {key!r}" if key is not None else ""
            raise CommandError(f"{overview.path} has no entry {local_id!r}{where}")
        if entry.status not in _RESOLVABLE:
            raise CommandError(
                f"entry {local_id!r} is {_LABELS[entry.status]}: only in-flight and unknown "
                "entries can be resolved"
            )
    chosen = [entry for entry in overview.entries if entry.status in _RESOLVABLE]
    if local_ids:
        chosen = [entry for entry in chosen if entry.local_id in set(local_ids)]
    for lease in overview.leases:
        if lease.is_live() and any(entry.job in {None, lease.job} for entry in chosen):
            raise CommandError(
                f"job {lease.job!r} is running (its lease is held by {lease.owner} until "
                f"{_when(lease.expires_at)}): stop it, or let it finish, before resolving"
            )
    return chosen


def _confirmed(out: Output, path: Path, chosen: Sequence[EntryView], outcome: str) -> bool:
    """Ask on the terminal whether to change ``chosen``.

    Raises:
        CommandError: standard input is not a terminal (pass ``--yes`` in scripts).
    """
    if not sys.stdin.isatty():
        raise CommandError(
            f"refusing to change {path} without confirmation: standard input is not a "
            "terminal; pass --yes to confirm"
        )
    lines = [f"{len(chosen):,} entries of {path} will be marked {outcome}:"]
    lines += [f"  {entry.local_id} ({_LABELS[entry.status]})" for entry in chosen[:_PREVIEW]]
    if len(chosen) > _PREVIEW:
        lines.append(f"  ... and {len(chosen) - _PREVIEW:,} more")
    lines.append(_CONSEQUENCES[outcome])
    out.stderr.write("\n".join(lines) + f"\nMark them {outcome}? [y/N] ")
    out.stderr.flush()
    # A blocking read is fine: nothing else runs while the command waits for its answer.
    answer = sys.stdin.readline().strip().lower()
    return answer in {"y", "yes"}


async def run_resolve(args: argparse.Namespace, out: Output) -> int:
    """``heymarket journal resolve``."""
    local_ids: list[str] = args.local_id or []
    if args.key is None and not local_ids:
        raise CommandError("name what to resolve: --key JOB, --local-id ID, or both")
    path = _existing(args.file)
    async with _opened(path, read_only=True) as journal:
        overview = await journal.overview(job=args.key, local_ids=local_ids, limit=None)
    chosen = _select(overview, args.key, local_ids)
    if not chosen:
        if out.json_mode:
            out.write_json({"resolved": 0, "as": args.outcome, "local_ids": []})
        else:
            out.line(f"nothing to resolve: no in-flight or unknown entries of job {args.key!r}")
        return ExitCode.OK
    if not args.yes and not _confirmed(out, path, chosen, args.outcome):
        out.warn("nothing changed")
        return ExitCode.JOB_FAILED
    names = [entry.local_id for entry in chosen]
    async with _opened(path, read_only=False) as journal:
        try:
            changed = await journal.resolve(names, outcome=args.outcome)
        except BulkSendError as exc:
            raise CommandError(f"{exc}; nothing changed") from exc
    if out.json_mode:
        out.write_json({"resolved": changed, "as": args.outcome, "local_ids": names})
    else:
        then = "no run sends them again" if args.outcome == "sent" else "the next run sends them"
        out.line(f"marked {changed:,} entries {args.outcome}: {then}")
    return ExitCode.OK


def _file_and_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the journal (SQLite file)")
    parser.add_argument("--key", metavar="JOB", help="only this job (the --key it ran with)")
    parser.add_argument(
        "--local-id",
        action="append",
        metavar="ID",
        help="only this entry (repeat for several)",
    )


def register(sub: Subparsers) -> None:
    """Add ``journal show`` and ``journal resolve`` to the top-level subparsers."""
    journal = sub.add_parser(
        "journal",
        help="show what a bulk job's journal holds; settle sends it could not decide",
        description=(
            "Read a bulk job's journal (the --journal file of broadcast, or BatchSender's) "
            "and settle by hand the sends it could not decide. No credentials or network."
        ),
        epilog=example(
            "heymarket journal show april.sqlite3",
            "heymarket journal resolve april.sqlite3 --key april-2026 --as sent",
        ),
        formatter_class=HELP_FORMATTER,
    )
    actions = journal.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        parents=[output_options()],
        help="what is sent, failed, in flight and unknown, with reasons",
        description=(
            "Per job, how many sends are sent, failed, in flight (a run stopped before "
            "recording them, or is sending now) and unknown (a run could not decide them); "
            "who holds each job's lease; and each unsettled entry with the reason. The file "
            "is opened read-only."
        ),
        epilog=example(
            "heymarket journal show april.sqlite3",
            "heymarket journal show april.sqlite3 --key april-2026 --all --json",
        ),
        formatter_class=HELP_FORMATTER,
    )
    _file_and_selection(show)
    show.add_argument("--all", action="store_true", help="list sent entries too")
    show.add_argument(
        "--limit",
        type=int,
        default=100,
        metavar="N",
        help="list at most N entries (default 100; 0 = all)",
    )
    show.set_defaults(handler=run_show)

    resolve = actions.add_parser(
        "resolve",
        parents=[output_options()],
        help="mark in-flight or unknown sends as sent or unsent",
        description=(
            "Settle in-flight or unknown entries once you know what happened (for example, "
            "from the Heymarket inbox). --as sent: never sent again. --as unsent: the next "
            "run sends them, which sends twice any that had in fact gone out. Asks first; "
            "--yes skips the question (required without a terminal). Refused while a run of "
            "the job is live."
        ),
        epilog=example(
            "heymarket journal resolve april.sqlite3 --key april-2026 --as sent",
            "heymarket journal resolve april.sqlite3 --local-id april-2026-3f1c --as unsent --yes",
        ),
        formatter_class=HELP_FORMATTER,
    )
    _file_and_selection(resolve)
    resolve.add_argument(
        "--as",
        dest="outcome",
        required=True,
        choices=("sent", "unsent"),
        help="what happened to them",
    )
    resolve.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    resolve.set_defaults(handler=run_resolve)
