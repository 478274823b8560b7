"""The command's output layer: tables, JSON values, progress with and without rich, errors."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from heymarket_async._cli import _output
from heymarket_async._cli._output import (
    CommandError,
    ExitCode,
    Output,
    error_line,
    exit_code_for,
    format_table,
    to_jsonable,
)
from heymarket_async.errors import (
    BulkSendError,
    ConfigurationError,
    NetworkError,
    NotFoundError,
    ReconciliationError,
    RequestValidationError,
    UnexpectedResponseError,
)


class Colour(enum.Enum):
    RED = "red"


@attrs.frozen
class Sample:
    when: datetime
    colour: Colour
    path: Path
    items: tuple[int, ...]


def test_format_table_aligns_numbers_right() -> None:
    """Numeric columns align right, text left, and None shows as a dash."""
    table = format_table(("name", "count"), [("a", 5), ("long name", 1200), ("none", None)])
    assert table.splitlines() == [
        "name       count",
        "---------  -----",
        "a              5",
        "long name   1200",
        "none           -",
    ]


def test_format_table_without_header() -> None:
    """A header-less table has only the rows; booleans read yes/no."""
    assert format_table(("k", "v"), [("ok", True), ("bad", False)], header=False) == (
        "ok   yes\nbad  no"
    )


def test_to_jsonable_converts_models_dates_enums_and_paths() -> None:
    """attrs models, datetimes, enums, paths and tuples become plain JSON values."""
    sample = Sample(
        when=datetime(2026, 5, 1, 16, tzinfo=UTC),
        colour=Colour.RED,
        path=Path("data/x.csv"),
        items=(1, 2),
    )
    value = to_jsonable({"sample": sample, "nan": float("nan")})
    assert value == {
        "sample": {
            "when": "2026-05-01T16:00:00+00:00",
            "colour": "red",
            "path": "data/x.csv",
            "items": [1, 2],
        },
        "nan": None,
    }
    json.dumps(value)


@pytest.mark.parametrize(
    ("error", "line", "code"),
    [
        (
            RequestValidationError("phone_number", "not a number"),
            "invalid phone_number: not a number",
            ExitCode.USAGE,
        ),
        (RequestValidationError(None, "give content"), "invalid request: give content", 2),
        (ConfigurationError("no credentials"), "configuration: no credentials", 2),
        (CommandError("cannot read x.csv"), "cannot read x.csv", 2),
        (
            NotFoundError(status=404, code="not_found", message="gone", request_id="abc"),
            "API error: HTTP 404 not_found: gone (request id abc)",
            ExitCode.API,
        ),
        (
            NotFoundError(status=404, message="gone"),
            "API error: HTTP 404: gone (request id none (no X-Request-Id in the answer))",
            3,
        ),
        (NetworkError("reset", possibly_sent=True), "no answer from the API: reset", 3),
        (
            UnexpectedResponseError("bad body", status=200, request_id="r1"),
            "the request was accepted (HTTP 200) and took effect, but its answer could not be "
            "read; do not resend it. UnexpectedResponseError: bad body (request id r1)",
            3,
        ),
        (BulkSendError("journal locked"), "BulkSendError: journal locked", ExitCode.API),
        (
            ReconciliationError("could not decide"),
            "ReconciliationError: could not decide",
            ExitCode.JOB_FAILED,
        ),
        (
            RecursionError("maximum recursion depth exceeded"),
            "unexpected RecursionError: maximum recursion depth exceeded (a bug in "
            "heymarket-async; HEYMARKET_DEBUG=1 shows the traceback)",
            ExitCode.INTERNAL,
        ),
    ],
)
def test_error_lines_and_exit_codes(error: Exception, line: str, code: int) -> None:
    """Each error kind has a one-line description and its documented exit status."""
    assert error_line(error) == line
    assert exit_code_for(error) == code


def test_error_in_json_mode_writes_a_document(capsys: pytest.CaptureFixture[str]) -> None:
    """In JSON mode an error is a stderr line plus an {"ok": false, "error": ...} document."""
    Output(json_mode=True).error(RequestValidationError("text", "empty"))
    captured = capsys.readouterr()
    assert captured.err == "heymarket: error: invalid text: empty\n"
    assert json.loads(captured.out) == {
        "ok": False,
        "error": {
            "type": "RequestValidationError",
            "message": "text: empty",
            "field": "text",
            "reason": "empty",
        },
    }


def test_plain_progress_writes_counts_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Without rich the progress is plain lines on stderr ending with the final count."""
    with Output(fancy=False).progress("sending", 4) as bar:
        bar.advance(3)
        bar.note("3 sent")
        bar.advance()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == "sending: 4/4 (100%), 3 sent"


def test_plain_progress_without_a_total(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown total shows a running count."""
    with Output(fancy=False).progress("reading", None) as bar:
        bar.advance(7)
    assert capsys.readouterr().err == "reading: 7\n"


def test_quiet_and_json_mode_suppress_text(capsys: pytest.CaptureFixture[str]) -> None:
    """--quiet hides progress; JSON mode hides text lines and tables."""
    with Output(quiet=True).progress("sending", 2) as bar:
        bar.advance(2)
    out = Output(json_mode=True)
    out.line("hidden")
    out.table(("a",), [(1,)])
    assert capsys.readouterr() == ("", "")


def test_rich_draws_tables_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    """With rich installed and a terminal, tables and the progress bar are drawn by rich."""
    pytest.importorskip("rich")
    out = Output(fancy=True)
    out.table(("name", "count"), [("sent", 12)], title="report")
    with out.progress("sending", 3) as bar:
        bar.advance(3)
        bar.note("done")
    captured = capsys.readouterr()
    assert "report" in captured.out
    assert "\N{BOX DRAWINGS LIGHT VERTICAL}" in captured.out
    assert "sent" in captured.out
    assert "3/3" in captured.err


def test_without_rich_the_fallback_is_plain(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When rich is not importable, even a terminal gets plain tables and progress lines."""
    monkeypatch.setattr(_output, "rich_available", lambda: False)
    out = Output(fancy=True)
    out.table(("name", "count"), [("sent", 12)])
    with out.progress("sending", 1) as bar:
        bar.advance()
    captured = capsys.readouterr()
    assert captured.out == "name  count\n----  -----\nsent     12\n"
    assert captured.err == "sending: 1/1 (100%)\n"
