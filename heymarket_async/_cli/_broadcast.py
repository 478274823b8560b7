"""``heymarket broadcast --csv FILE``: one message to every phone of a CSV file.

The file is streamed twice: a first pass counts the rows and checks the CSV syntax (so a
broken file stops the job before anything is sent), the second validates and sends row by
row. Without a per-row ``text`` column every row gets the same content through list
broadcasts (:func:`~heymarket_async.bulk.broadcast`); with one, each row is an individual
send through :class:`~heymarket_async.bulk.BatchSender` with ``local_id``s derived from
``--key``. Either way a rerun with the same ``--key`` and ``--journal`` sends nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import time
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

import attrs

from .._config import DEFAULT_LEASE_TTL
from ..errors import RequestValidationError
from ._api import checked_phone
from ._args import (
    HELP_FORMATTER,
    Subparsers,
    api_options,
    example,
    open_client,
    output_options,
    positive_int,
    positive_seconds,
)
from ._output import CommandError, ExitCode, Output, ProgressBar, error_line

if TYPE_CHECKING:
    from ..bulk import BroadcastProgress, Journal, Outcome
    from ..resources.messages import SendMessage

Mode = Literal["list", "individual"]

PREVIEW_ROWS: Final = 10
"""Sends shown by ``--dry-run``."""
_PROBE_PHONE: Final = "15105550100"


@attrs.frozen(kw_only=True)
class CsvLayout:
    """Where the phone and text are: ``header`` says whether the first record names columns."""

    header: bool
    phone_column: int
    text_column: int | None
    unused_columns: tuple[str, ...] = ()
    """Columns of the first record the command does not read (names, or ``column 2``...)."""


@attrs.frozen(kw_only=True)
class Row:
    """A valid CSV row; ``line`` is where it starts in the file (1-based)."""

    line: int
    phone: str
    text: str | None


@attrs.frozen(kw_only=True)
class RowProblem:
    """A row that is not sent: invalid, or a repeat of an earlier row's phone."""

    line: int
    value: str
    reason: str


def _open(path: Path) -> TextIO:
    # utf-8-sig drops the byte-order mark spreadsheet programs put at the start.
    return path.open(newline="", encoding="utf-8-sig")


def _records(path: Path) -> Generator[tuple[int, list[str]], None, None]:
    """Non-blank CSV records with the line each starts on.

    Raises:
        CommandError: the file cannot be read or is not valid CSV.
    """
    line = 1
    try:
        with _open(path) as handle:
            reader = csv.reader(handle)
            for record in reader:
                start, line = line, reader.line_num + 1
                if any(cell.strip() for cell in record):
                    yield start, record
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        # Decoding runs ahead of the CSV reader in blocks, so no line number is known.
        raise CommandError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise CommandError(f"{path}: line {line}: not valid CSV ({exc})") from exc


def read_layout(path: Path) -> CsvLayout:
    """Decide the columns from the first record: a header naming ``phone`` (and optionally
    ``text``), a header of other names (phone is then the first column), or data.

    Raises:
        CommandError: the file is unreadable or has no rows.
    """
    with contextlib.closing(_records(path)) as records:
        first = next(records, None)
    if first is None:
        raise CommandError(f"{path}: no rows")
    names = [cell.strip().lower() for cell in first[1]]
    # A first cell without digits cannot be a phone number, so it names a column.
    header = "phone" in names or not any(char.isdigit() for char in first[1][0])
    if not header:
        unused = tuple(f"column {index + 1}" for index in range(1, len(names)))
        return CsvLayout(header=False, phone_column=0, text_column=None, unused_columns=unused)
    phone_column = names.index("phone") if "phone" in names else 0
    text_column = names.index("text") if "text" in names else None
    unused = tuple(
        first[1][index].strip() or f"column {index + 1}"
        for index in range(len(names))
        if index not in {phone_column, text_column}
    )
    return CsvLayout(
        header=True, phone_column=phone_column, text_column=text_column, unused_columns=unused
    )


def unused_columns_warning(layout: CsvLayout) -> str | None:
    """What to say once about columns the command does not read, or ``None``."""
    if not layout.unused_columns:
        return None
    shown = ", ".join(repr(name) for name in layout.unused_columns[:5])
    more = len(layout.unused_columns) - 5
    if more > 0:
        shown += f" and {more} more"
    return (
        f"{len(layout.unused_columns)} column(s) not used: {shown}. Only the phone and text "
        f"columns are read; merge fields such as {{{{first_name}}}} in the text are filled "
        f"by Heymarket from its contact data, not from this file"
    )


def data_records(path: Path, layout: CsvLayout) -> Iterator[tuple[int, list[str]]]:
    """The records after the header, if there is one."""
    with contextlib.closing(_records(path)) as records:
        if layout.header:
            next(records, None)
        yield from records


def count_rows(path: Path, layout: CsvLayout) -> int:
    """Data records in the file (reads it once, checking the CSV syntax on the way)."""
    return sum(1 for _ in data_records(path, layout))


class RowChecker:
    """Validates rows one at a time and remembers which were refused, and why.

    Repeats are found by phone number: one integer per distinct phone is kept (about 60
    bytes each), the only state that grows with the file.
    """

    def __init__(self, layout: CsvLayout, *, normalize: bool, has_default_content: bool) -> None:
        self._layout = layout
        self._normalize = normalize
        self._has_default_content = has_default_content
        self._seen: set[int] = set()
        self.rows = 0
        self.bad: list[RowProblem] = []
        self.duplicates: list[RowProblem] = []

    def check(self, line: int, record: list[str]) -> Row | None:
        """The row's phone and text, or ``None`` (recorded in ``bad`` or ``duplicates``)."""
        self.rows += 1
        layout = self._layout
        raw = record[layout.phone_column].strip() if len(record) > layout.phone_column else ""
        if not raw:
            self.bad.append(RowProblem(line=line, value="", reason="the phone cell is empty"))
            return None
        try:
            phone = checked_phone(raw, normalize=self._normalize, field="phone")
        except RequestValidationError as exc:
            self.bad.append(RowProblem(line=line, value=raw, reason=exc.reason))
            return None
        text: str | None = None
        if layout.text_column is not None and len(record) > layout.text_column:
            text = record[layout.text_column].strip() or None
        if text is None and not self._has_default_content:
            self.bad.append(
                RowProblem(
                    line=line,
                    value=raw,
                    reason=f"{raw}: the text cell is empty and there is no --text, --template "
                    "or --media to fall back on",
                )
            )
            return None
        number = int(phone)
        if number in self._seen:
            self.duplicates.append(
                RowProblem(line=line, value=phone, reason=f"{phone} repeats an earlier row's phone")
            )
            return None
        self._seen.add(number)
        return Row(line=line, phone=phone, text=text)

    def refuse(self, row: Row, exc: RequestValidationError) -> None:
        """Record a row whose send request could not be built."""
        self.bad.append(RowProblem(line=row.line, value=row.phone, reason=f"{row.phone}: {exc}"))


def _content(args: argparse.Namespace) -> dict[str, Any]:
    return {
        name: value
        for name, value in (
            ("text", args.text),
            ("template_id", args.template),
            ("media_url", args.media),
        )
        if value is not None
    }


def _row_send(args: argparse.Namespace, row: Row) -> SendMessage:
    from ..resources.messages import SendMessage  # noqa: PLC0415 - loaded when the command runs, not for --help

    content = _content(args)
    if row.text is not None:
        content["text"] = row.text
    return SendMessage(
        inbox_id=args.inbox, creator_id=args.creator, phone_number=row.phone, **content
    )


def _check_job(args: argparse.Namespace, mode: Mode) -> None:
    """Validate what every row shares (ids, content, key) before reading any row.

    Raises:
        RequestValidationError: nothing was sent.
    """
    from ..bulk import derive_local_id  # noqa: PLC0415 - loaded when the command runs, not for --help
    from ..resources.messages import SendMessage  # noqa: PLC0415 - loaded when the command runs, not for --help

    content = _content(args)
    if mode == "list":
        probe = SendMessage(
            inbox_id=args.inbox, creator_id=args.creator, list_id=1, local_id="probe", **content
        )
    else:
        # Per-row text stands in for a missing --text; the probe checks everything else.
        probe = SendMessage(
            inbox_id=args.inbox,
            creator_id=args.creator,
            phone_number=_PROBE_PHONE,
            **{"text": "probe", **content},
        )
    derive_local_id(args.key, probe)  # validates --key


@attrs.define
class _Result:
    """The counts every broadcast run reports, whichever way it sent."""

    mode: Mode
    rows: int = 0
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    lists_created: int | None = None
    problems: list[dict[str, Any]] = attrs.Factory(list)

    def add(self, outcome: Outcome, row: Row) -> None:
        from ..bulk import OutcomeStatus  # noqa: PLC0415 - loaded when the command runs, not for --help

        self.recipients += 1
        self.reconciled += outcome.reconciled
        if outcome.status is OutcomeStatus.SENT:
            self.sent += 1
        elif outcome.status is OutcomeStatus.SKIPPED:
            self.skipped += 1
        else:
            if outcome.status is OutcomeStatus.FAILED:
                self.failed += 1
            else:
                self.unknown += 1
            self.problems.append(
                {
                    "line": row.line,
                    "phone": row.phone,
                    "status": outcome.status.value,
                    "local_id": outcome.local_id,
                    "error": None if outcome.error is None else error_line(outcome.error),
                }
            )


@contextlib.asynccontextmanager
async def _journal(args: argparse.Namespace) -> AsyncIterator[Journal | None]:
    """The ``--journal`` file opened with ``--lease-ttl``, or ``None`` (a temporary one)."""
    from ..bulk import Journal  # noqa: PLC0415 - loaded when the command runs, not for --help

    if args.journal is None:
        yield None
        return
    async with Journal(args.journal, lease_ttl=args.lease_ttl) as journal:
        yield journal


async def _send_lists(
    args: argparse.Namespace,
    layout: CsvLayout,
    checker: RowChecker,
    bar: ProgressBar,
    result: _Result,
) -> None:
    from ..bulk import OutcomeStatus, broadcast  # noqa: PLC0415 - loaded when the command runs, not for --help

    def phones() -> Iterator[str]:
        for line, record in data_records(args.csv, layout):
            row = checker.check(line, record)
            if row is None:
                bar.advance()  # a refused row is decided as soon as it is read
            else:
                yield row.phone

    # The bar counts recipients decided, not rows read: a row read ahead of its list's
    # send is not done yet.
    shown = 0
    lists_done = 0

    def on_chunk(_outcome: Outcome) -> None:
        nonlocal lists_done
        lists_done += 1

    def on_progress(progress: BroadcastProgress) -> None:
        nonlocal shown
        if progress.done > shown:
            bar.advance(progress.done - shown)
            shown = progress.done
        bar.note(progress.note or f"{lists_done} list broadcast(s) done")

    async with open_client(args) as hm, _journal(args) as journal:
        report = await broadcast(
            hm,
            inbox_id=args.inbox,
            creator_id=args.creator,
            phones=phones(),
            key=args.key,
            list_size=args.list_size,
            journal=journal,
            on_chunk=on_chunk,
            on_progress=on_progress,
            **_content(args),
        )
    result.recipients = report.recipients
    result.sent, result.skipped = report.sent, report.skipped
    result.failed, result.unknown = report.failed, report.unknown
    result.lists_created = report.lists_created
    result.reconciled = sum(chunk.reconciled for chunk in report.chunks)
    for chunk in report.chunks:
        if chunk.status in {OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN}:
            result.problems.append(
                {
                    "line": None,
                    "status": chunk.status.value,
                    "local_id": chunk.local_id,
                    "error": None if chunk.error is None else error_line(chunk.error),
                }
            )


async def _send_individually(
    args: argparse.Namespace,
    layout: CsvLayout,
    checker: RowChecker,
    bar: ProgressBar,
    result: _Result,
) -> None:
    from ..bulk import BatchSender  # noqa: PLC0415 - loaded when the command runs, not for --help

    # Rows whose outcome is pending, by input position: bounded by the sender's concurrency.
    pending: dict[int, Row] = {}

    def requests() -> Iterator[SendMessage]:
        index = 0
        for line, record in data_records(args.csv, layout):
            row = checker.check(line, record)
            if row is not None:
                try:
                    send = _row_send(args, row)
                except RequestValidationError as exc:
                    checker.refuse(row, exc)
                else:
                    pending[index] = row
                    index += 1
                    yield send
                    continue
            bar.advance()

    async with open_client(args) as hm, _journal(args) as journal:
        sender = BatchSender(hm, concurrency=args.concurrency, journal=journal, key=args.key)
        async with contextlib.aclosing(sender.stream(requests())) as outcomes:
            async for outcome in outcomes:
                result.add(outcome, pending.pop(outcome.index))
                bar.advance()
                bar.note(f"{result.sent:,} sent, {result.failed + result.unknown:,} problems")


def _dry_run(
    args: argparse.Namespace, layout: CsvLayout, checker: RowChecker, mode: Mode
) -> list[dict[str, Any]]:
    """Validate every row without any network; the first sends as a preview."""
    from ..bulk import derive_local_id  # noqa: PLC0415 - loaded when the command runs, not for --help

    preview: list[dict[str, Any]] = []
    recipients = 0
    for line, record in data_records(args.csv, layout):
        row = checker.check(line, record)
        if row is None:
            continue
        try:
            send = _row_send(args, row) if mode == "individual" else None
        except RequestValidationError as exc:
            checker.refuse(row, exc)
            continue
        recipients += 1
        if len(preview) < PREVIEW_ROWS:
            preview.append(
                {
                    "line": row.line,
                    "phone": row.phone,
                    "text": row.text if row.text is not None else args.text,
                    "local_id": None if send is None else derive_local_id(args.key, send),
                }
            )
    return preview


def _report_rows(out: Output, checker: RowChecker) -> None:
    """One stderr line per refused row, in file order."""
    refused = [(bad, "bad row", "not sent") for bad in checker.bad]
    refused += [(dup, "duplicate", "not sent again") for dup in checker.duplicates]
    for problem, kind, outcome in sorted(refused, key=lambda item: item[0].line):
        out.warn(f"line {problem.line}: {kind}: {problem.reason}; {outcome}")


def _rows_document(checker: RowChecker) -> dict[str, Any]:
    return {
        "bad_rows": [attrs.asdict(bad) for bad in checker.bad],
        "duplicate_rows": [
            {"line": dup.line, "phone": dup.value, "reason": dup.reason}
            for dup in checker.duplicates
        ],
    }


def _describe_mode(mode: Mode) -> str:
    if mode == "list":
        return "list broadcasts (same content for every row)"
    return "individual sends (text per row)"


async def run_broadcast(args: argparse.Namespace, out: Output) -> int:
    """``heymarket broadcast``."""
    path: Path = args.csv
    layout = await asyncio.to_thread(read_layout, path)
    mode: Mode = "individual" if layout.text_column is not None else "list"
    _check_job(args, mode)
    checker = RowChecker(layout, normalize=args.normalize, has_default_content=bool(_content(args)))
    unused = unused_columns_warning(layout)
    if unused is not None:
        out.warn(unused)
    if args.dry_run:
        preview = _dry_run(args, layout, checker, mode)
        return _finish_dry_run(args, out, checker, mode, preview)

    total = await asyncio.to_thread(count_rows, path, layout)  # also checks the CSV syntax
    result = _Result(mode=mode)
    started = time.perf_counter()
    with out.progress(f"broadcast {args.key}", total) as bar:
        if mode == "list":
            await _send_lists(args, layout, checker, bar, result)
        else:
            await _send_individually(args, layout, checker, bar, result)
    result.rows = checker.rows
    elapsed = time.perf_counter() - started
    _report_rows(out, checker)
    for problem in result.problems:
        if problem["line"] is not None:
            where = f"line {problem['line']}"
        elif problem["local_id"] is not None:
            where = f"list broadcast {problem['local_id']}"
        else:
            where = "list creation"  # the list could not be made, so nothing was sent to it
        out.warn(f"{where}: {problem['status']}: {problem['error']}")
    ok = result.failed == 0 and result.unknown == 0 and not checker.bad
    if out.json_mode:
        out.write_json(
            {
                "ok": ok,
                "dry_run": False,
                "key": args.key,
                "journal": args.journal,
                **attrs.asdict(result),
                **_rows_document(checker),
                "elapsed": round(elapsed, 3),
            }
        )
    else:
        out.fields(
            [
                ("mode", _describe_mode(mode)),
                ("rows read", result.rows),
                ("recipients", result.recipients),
                ("sent", result.sent),
                ("skipped (sent before)", result.skipped),
                ("failed", result.failed),
                ("unknown", result.unknown),
                ("reconciled", result.reconciled),
                ("bad rows", len(checker.bad)),
                ("duplicate rows", len(checker.duplicates)),
                ("lists created", result.lists_created),
                ("elapsed", f"{elapsed:.2f} s"),
            ],
            title=f"broadcast {args.key}: {'done' if ok else 'finished with problems'}",
        )
    return ExitCode.OK if ok else ExitCode.JOB_FAILED


def _finish_dry_run(
    args: argparse.Namespace,
    out: Output,
    checker: RowChecker,
    mode: Mode,
    preview: list[dict[str, Any]],
) -> int:
    recipients = checker.rows - len(checker.bad) - len(checker.duplicates)
    _report_rows(out, checker)
    ok = not checker.bad
    if out.json_mode:
        out.write_json(
            {
                "ok": ok,
                "dry_run": True,
                "mode": mode,
                "key": args.key,
                "rows": checker.rows,
                "recipients": recipients,
                **_rows_document(checker),
                "preview": preview,
            }
        )
    else:
        if mode == "list":
            size = f"{args.list_size:,}" if args.list_size else "the team's list_size"
            plan = f"lists of up to {size} phones, one broadcast each"
        else:
            plan = f"{recipients:,} messages, {args.concurrency} at a time"
        out.line(f"dry run, nothing sent: {_describe_mode(mode)}")
        out.line(
            f"rows {checker.rows:,}, recipients {recipients:,}, bad rows {len(checker.bad):,}, "
            f"duplicate rows {len(checker.duplicates):,}; would send {plan}"
        )
        if "{{" in (args.text or "") or any("{{" in (p["text"] or "") for p in preview):
            out.line(
                "merge fields such as {{first_name}} are shown as written: Heymarket fills "
                "them from its contact data when the message is sent"
            )
        if preview:
            columns = ("line", "phone", "text") + (("local_id",) if mode == "individual" else ())
            out.line()
            out.table(
                columns,
                [[p[name] for name in columns] for p in preview],
                title=f"first {len(preview)} of {recipients:,} sends",
            )
    # Nothing was sent, so a bad row is a problem with the input: the validation status.
    return ExitCode.OK if ok else ExitCode.USAGE


def register(sub: Subparsers) -> None:
    """Add ``broadcast`` to the top-level subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "broadcast",
        parents=[output_options(), api_options()],
        help="send to every phone in a CSV file (resumable)",
        description=(
            "Send to every phone in a CSV file. The phone column is the one headed 'phone', "
            "else the first. Without a 'text' column every row gets --text through list "
            "broadcasts (a few requests per thousand phones); with one, each row is an "
            "individual send (an empty cell falls back to --text). Other columns are not "
            "read (a warning names them): merge fields such as {{first_name}} in the text "
            "are filled by Heymarket from its contact data when the message is sent, so the "
            "--dry-run preview shows them as written. Bad rows are reported with their line "
            "numbers. Rerun with the same --key and --journal to resume after a crash: "
            "nothing is sent twice. Exit status: 0 all sent, 1 some recipients not sent, 2 "
            "nothing sent (bad options, or --dry-run found bad rows), 3 API or journal "
            "trouble (also a rerun while the job's lease is held)."
        ),
        epilog=example(
            "heymarket broadcast --csv april.csv --inbox 42 --creator 7 --text 'Sale!' \\",
            "    --key april-2026 --journal april.sqlite3",
            "heymarket broadcast --csv april.csv --inbox 42 --creator 7 --text 'Sale!' \\",
            "    --key april-2026 --normalize --dry-run",
        ),
        formatter_class=HELP_FORMATTER,
    )
    parser.add_argument("--csv", type=Path, required=True, metavar="FILE", help="the CSV file")
    parser.add_argument(
        "--inbox", type=positive_int, required=True, metavar="ID", help="sending inbox id"
    )
    parser.add_argument(
        "--creator", type=positive_int, required=True, metavar="ID", help="sending member id"
    )
    parser.add_argument("--text", help="message text (or the fallback for empty text cells)")
    parser.add_argument("--template", type=positive_int, metavar="ID", help="template id")
    parser.add_argument("--media", metavar="URL", help="media URL (MMS)")
    parser.add_argument(
        "--key",
        required=True,
        help="names the job (1-64 of A-Z a-z 0-9 . _ : -); local_ids derive from it",
    )
    parser.add_argument(
        "--journal", metavar="PATH", help="SQLite file that makes the job resumable"
    )
    parser.add_argument(
        "--lease-ttl",
        type=positive_seconds,
        default=DEFAULT_LEASE_TTL,
        metavar="SECONDS",
        help=f"while the job runs it holds a lease on the journal, renewed every third of "
        f"this; a run that dies blocks a rerun of the job until it expires (default "
        f"{DEFAULT_LEASE_TTL:g})",
    )
    parser.add_argument(
        "--normalize", action="store_true", help="accept formatted numbers like (510) 555-3344"
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="individual sends in flight at once (default 8)",
    )
    parser.add_argument(
        "--list-size",
        type=positive_int,
        metavar="N",
        help="recipients per list (default: the team's list_size)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every row and show the plan; no network (exit 2 if a row is bad)",
    )
    parser.set_defaults(handler=run_broadcast)
