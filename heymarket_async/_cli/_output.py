"""Output for the ``heymarket`` command: JSON or text, tables, progress, errors, exit codes.

Results go to stdout (one JSON document with ``--json``); progress, warnings and errors go
to stderr, so ``heymarket ... --json | jq`` always reads clean JSON. ``rich`` (the ``cli``
extra) draws the progress bar and tables on a terminal; without it, or when the stream is
not a terminal, plain text is written instead.

Text that comes from a server (error messages, names, any field of an answer) could carry
terminal controls: escape sequences that retitle the terminal or rewrite the screen, a
carriage return that overwrites a line, bidi overrides that reorder it. Everything written
as text goes through :func:`clean`, which shows such characters as visible escapes
(``\\x1b``, ``\\u202e``); JSON output escapes them the same way and stays valid JSON.
"""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import json
import math
import os
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

import attrs

from ..errors import (
    APIError,
    BulkSendError,
    ConfigurationError,
    HeymarketError,
    ReconciliationError,
    RequestValidationError,
    TransportError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

PROG: Final = "heymarket"
# Plain progress lines are written at most this often, so a log stays readable.
_PLAIN_PROGRESS_INTERVAL: Final = 1.0
_PARAGRAPH_WIDTH: Final = 88


class ExitCode(enum.IntEnum):
    """Exit statuses of the ``heymarket`` command."""

    OK = 0
    """Everything succeeded."""
    JOB_FAILED = 1
    """A job ran but not every recipient ended sent: bad rows, failures, unknown outcomes,
    or (``demo``) a duplicate or lost send."""
    USAGE = 2
    """Nothing was sent: bad arguments, configuration, credentials or request fields."""
    API = 3
    """The API refused a request, no answer came (network, timeout), an answer could not
    be read, or the bulk machinery could not go on (``BulkSendError``)."""
    INTERNAL = 70
    """An unexpected error inside the command (a bug; ``HEYMARKET_DEBUG=1`` shows the
    traceback)."""
    INTERRUPTED = 130
    """Stopped with Ctrl-C (a journaled job can be resumed)."""


class CommandError(Exception):
    """A problem with the command's own input (a missing file, an unreadable CSV)."""


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# C0 controls, DEL, C1 controls, and the invisible characters that reorder or break lines.
_UNSAFE: Final = (
    *range(0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_CLEAN_LINE: Final = {code: _escape(code) for code in _UNSAFE}
_CLEAN_LINES: Final = {code: text for code, text in _CLEAN_LINE.items() if code != 0x0A}
# Inside JSON strings: what json.dumps(ensure_ascii=False) leaves raw (C0 it escapes itself).
_JSON_ESCAPES: Final = {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}


def clean(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control, bidi and line-breaking characters shown as visible escapes
    (ESC as ``\\x1b``, U+202E as ``\\u202e``), so it cannot move the cursor, retitle the
    terminal, overwrite or forge lines. ``keep_newlines`` lets ``\\n`` through, for text
    the command itself laid out in lines."""
    return text.translate(_CLEAN_LINES if keep_newlines else _CLEAN_LINE)


def to_jsonable(value: object) -> Any:
    """``value`` as plain JSON types: attrs models become objects, datetimes ISO strings."""
    cls = type(value)
    if attrs.has(cls):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in attrs.fields(cls)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseException):
        return error_document(value)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def error_document(exc: BaseException) -> dict[str, Any]:
    """The evidence an error carries, as JSON (never request headers or secrets)."""
    document: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, RequestValidationError):
        document.update(field=exc.field, reason=exc.reason)
    if isinstance(exc, APIError):
        document.update(status=exc.status, code=exc.code, request_id=exc.request_id)
        document["message"] = exc.message
    if isinstance(exc, UnexpectedResponseError):
        document.update(
            status=exc.status, request_id=exc.request_id, accepted=True, local_id=exc.local_id
        )
    return document


def error_line(exc: BaseException) -> str:
    """One line saying what went wrong, for stderr (server text made harmless)."""
    return clean(_describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RequestValidationError):
        where = f"invalid {exc.field}" if exc.field else "invalid request"
        return f"{where}: {exc.reason}"
    if isinstance(exc, ConfigurationError):
        return f"configuration: {exc}"
    if isinstance(exc, APIError):
        code = f" {exc.code}" if exc.code else ""
        rid = exc.request_id or "none (no X-Request-Id in the answer)"
        return f"API error: HTTP {exc.status}{code}: {exc.message} (request id {rid})"
    if isinstance(exc, TransportError):
        return f"no answer from the API: {exc}"
    if isinstance(exc, UnexpectedResponseError):
        message = str(exc)
        local = ""
        if exc.local_id is not None and exc.local_id not in message:
            local = f" (local_id {exc.local_id!r})"
        return (
            f"the request was accepted (HTTP {exc.status}) and took effect, but its answer "
            f"could not be read; do not resend it{local}. {type(exc).__name__}: {message}"
        )
    if isinstance(exc, ReconciliationError | BulkSendError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, HeymarketError | CommandError):
        return str(exc)
    return (
        f"unexpected {type(exc).__name__}: {exc} (a bug in heymarket-async; "
        f"HEYMARKET_DEBUG=1 shows the traceback)"
    )


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit status for an error that ended a command."""
    if isinstance(exc, RequestValidationError | ConfigurationError | CommandError):
        return ExitCode.USAGE
    if isinstance(exc, APIError | TransportError | UnexpectedResponseError | BulkSendError):
        return ExitCode.API
    if isinstance(exc, HeymarketError):
        # A send could not be decided (ReconciliationError): the job did not finish.
        return ExitCode.JOB_FAILED
    return ExitCode.INTERNAL


def rich_available() -> bool:
    """Whether the optional ``rich`` package is importable."""
    return importlib.util.find_spec("rich") is not None


def format_table(
    columns: Sequence[str], rows: Sequence[Sequence[object]], *, header: bool = True
) -> str:
    """A plain-text table: a header and a rule (unless ``header`` is false), then the rows;
    numbers align right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [_is_numeric_column([row[index] for row in rows]) for index in range(len(columns))]

    def render(row: Sequence[str]) -> str:
        parts = [
            text.rjust(widths[index]) if numeric[index] else text.ljust(widths[index])
            for index, text in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    lines = [render(list(columns)), "  ".join("-" * width for width in widths)] if header else []
    lines += [render(row) for row in cells]
    return "\n".join(lines)


def _is_numeric_column(values: Sequence[object]) -> bool:
    present = [value for value in values if value is not None]
    return bool(present) and all(_is_number(value) for value in present)


def _is_number(value: object) -> bool:
    """Whether a cell reads as a quantity (``12``, ``0.5``, ``"1.20 s"``), to align right."""
    if isinstance(value, str):
        return value[:1].isdigit()
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, tuple | list):
        return ", ".join(_cell(item) for item in value)
    return clean(str(value))


class ProgressBar(Protocol):
    """What a command reports progress through."""

    def advance(self, amount: int = 1) -> None: ...
    def note(self, text: str) -> None: ...


class _NoProgress:
    def advance(self, amount: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class _PlainProgress:
    """Lines like ``sending: 1,200/2,000 (60%)`` on stderr, at most once a second."""

    def __init__(self, description: str, total: int | None, stream: TextIO) -> None:
        self._description = description
        self._total = total
        self._stream = stream
        self._done = 0
        self._note = ""
        self._last_write = time.monotonic()

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        now = time.monotonic()
        if now - self._last_write >= _PLAIN_PROGRESS_INTERVAL:
            self._last_write = now
            self._write()

    def note(self, text: str) -> None:
        self._note = clean(text)

    def finish(self) -> None:
        self._write()

    def _write(self) -> None:
        if self._total:
            share = min(100, self._done * 100 // self._total)
            line = f"{self._description}: {self._done:,}/{self._total:,} ({share}%)"
        else:
            line = f"{self._description}: {self._done:,}"
        if self._note:
            line += f", {self._note}"
        self._stream.write(line + "\n")
        self._stream.flush()


class _RichProgress:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int = 1) -> None:
        self._progress.update(self._task, advance=amount)

    def note(self, text: str) -> None:
        self._progress.update(self._task, note=clean(text))


class Output:
    """Where a command writes: results on stdout, progress and problems on stderr.

    Args:
        json_mode: results are one JSON document; text output is suppressed.
        quiet: no progress display.
        fancy: use ``rich`` for tables and progress; ``None`` decides per stream (a
            terminal, and ``rich`` installed).
    """

    def __init__(
        self, *, json_mode: bool = False, quiet: bool = False, fancy: bool | None = None
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self._fancy = fancy

    # The streams are looked up on each write so redirection (and pytest's capsys) works.
    @property
    def stdout(self) -> TextIO:
        return sys.stdout

    @property
    def stderr(self) -> TextIO:
        return sys.stderr

    def _use_rich(self, stream: TextIO) -> bool:
        if self._fancy is not None:
            return self._fancy and rich_available()
        return stream.isatty() and rich_available()

    def write_json(self, document: object) -> None:
        """Write ``document`` as the command's one JSON result."""
        text = json.dumps(to_jsonable(document), indent=2, ensure_ascii=False)
        # Those characters only occur inside JSON strings, where \uXXXX means the same.
        self.stdout.write(text.translate(_JSON_ESCAPES) + "\n")

    def line(self, text: str = "") -> None:
        """A line of text result (nothing in JSON mode)."""
        if not self.json_mode:
            self.stdout.write(clean(text, keep_newlines=True) + "\n")

    def paragraph(self, text: str) -> None:
        """A paragraph of text result, wrapped to a readable width (nothing in JSON mode)."""
        self.line(textwrap.fill(text, width=_PARAGRAPH_WIDTH, break_on_hyphens=False))

    def warn(self, text: str) -> None:
        """A problem worth a line on stderr (written in JSON mode too)."""
        self.stderr.write(f"{PROG}: {clean(text)}\n")

    def error(self, exc: BaseException) -> None:
        """Report the error that ended the command: a line on stderr, and in JSON mode an
        ``{"error": ...}`` document on stdout."""
        self.warn(f"error: {error_line(exc)}")
        if os.environ.get("HEYMARKET_DEBUG") and exit_code_for(exc) is ExitCode.INTERNAL:
            traceback.print_exception(exc, file=self.stderr)
        if self.json_mode:
            self.write_json({"ok": False, "error": error_document(exc)})

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        title: str | None = None,
        header: bool = True,
    ) -> None:
        """A table of results (nothing in JSON mode)."""
        if self.json_mode:
            return
        if self._use_rich(self.stdout):
            self._rich_table(columns, rows, title, header=header)
            return
        if title:
            self.stdout.write(clean(title) + "\n")
        self.stdout.write(format_table(columns, rows, header=header) + "\n")

    def fields(self, pairs: Sequence[tuple[str, object]], *, title: str | None = None) -> None:
        """Name/value pairs as a two-column table without a header."""
        self.table(("name", "value"), pairs, title=title, header=False)

    def _rich_table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        title: str | None,
        *,
        header: bool,
    ) -> None:
        from rich.console import Console  # noqa: PLC0415 - optional dependency
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        # Text objects, not strings: rich would read "[...]" in a server's text as markup.
        table = Table(
            title=Text(clean(title)) if title else None, title_justify="left", show_header=header
        )
        for index, name in enumerate(columns):
            numeric = _is_numeric_column([row[index] for row in rows])
            table.add_column(Text(clean(name)), justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(Text(_cell(value)) for value in row))
        Console(file=self.stdout, force_terminal=self._fancy).print(table)

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[ProgressBar]:
        """A progress display on stderr for ``total`` items (unknown when ``None``)."""
        if self.quiet:
            yield _NoProgress()
            return
        if self._use_rich(self.stderr):
            with self._rich_progress(description, total) as bar:
                yield bar
            return
        plain = _PlainProgress(description, total, self.stderr)
        try:
            yield plain
        finally:
            plain.finish()

    @contextlib.contextmanager
    def _rich_progress(self, description: str, total: int | None) -> Iterator[ProgressBar]:
        from rich.console import Console  # noqa: PLC0415 - optional dependency
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            console=Console(file=self.stderr, force_terminal=self._fancy),
        )
        with progress:
            yield _RichProgress(progress, progress.add_task(description, total=total, note=""))
