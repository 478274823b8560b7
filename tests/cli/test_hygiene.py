"""Server-controlled text cannot drive the terminal, and no error ends in a traceback."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import pytest

from heymarket_async._cli import _api
from heymarket_async._cli._output import ExitCode, Output, clean
from heymarket_async.cli import build_parser
from heymarket_async.errors import BulkSendError
from heymarket_async.sandbox import ApiFailure, Call, Route, Sandbox, SandboxState

from . import read_json, run_cli, use_sandbox

# Retitles the terminal, clears the screen, rings, returns to column 0 to overwrite the
# line, forges a second line, reverses the rest (bidi), and a C1 CSI.
HOSTILE = "Acme\x1b]0;pwned\x07\x1b[2J\r\nheymarket: all good\u202etxt.exe\x9b31m[red]x[/red]"
RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def test_clean_escapes_controls_and_keeps_ordinary_text() -> None:
    """Controls, C1, bidi and line separators become visible escapes; other text stays."""
    assert clean("a\x1bb\rc\x07d\x00e\x7ff\x9bg") == "a\\x1bb\\rc\\x07d\\x00e\\x7ff\\x9bg".replace(
        "\\r", "\\x0d"
    )
    assert clean("x\u202ey\u2066z\u2028w\u200f") == "x\\u202ey\\u2066z\\u2028w\\u200f"
    assert clean("line\nnext\ttab") == "line\\x0anext\\x09tab"
    assert clean("line\nnext\r", keep_newlines=True) == "line\nnext\\x0d"
    assert clean("Zoë 東京 🎉 [ok]") == "Zoë 東京 🎉 [ok]"


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        use_sandbox(monkeypatch, sb)
        sb.state.team["name"] = HOSTILE
        sb.state.team["members"][1]["name"] = HOSTILE
        yield sb


async def test_plain_output_shows_server_text_escaped(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`heymarket team` prints the hostile name with every control escaped."""
    assert await run_cli("team") == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROLS.search(out)
    assert "Acme\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x0aheymarket: all good\\u202etxt.exe" in out
    assert "heymarket: all good" not in out.replace("\\x0aheymarket: all good", "")


async def test_rich_table_neither_obeys_controls_nor_markup(sandbox: Sandbox) -> None:
    """In a rich table the name's controls are escaped and its [red] markup is shown as is."""
    args = build_parser().parse_args(["team"])
    out = Output(fancy=True)
    with pytest.MonkeyPatch.context() as patch:
        buffer = io.StringIO()
        patch.setattr("sys.stdout", buffer)
        assert await _api.run_team(args, out) == 0
    text = buffer.getvalue()
    styling = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours are fine
    assert "\x1b]0;" not in text
    assert not RAW_CONTROLS.search(styling.sub("", text))
    assert "[red]x[/red]" in text
    assert "\\x1b]0;pwned" in text


async def test_json_output_round_trips_and_escapes_everything(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` stays valid JSON with the exact name, and no raw control reaches the stream."""
    assert await run_cli("team", "--json") == 0
    raw = capsys.readouterr().out
    assert not RAW_CONTROLS.search(raw)
    assert "\\u202e" in raw
    assert "\\u009b" in raw
    document = json.loads(raw)
    assert document["team"]["name"] == HOSTILE


def refuse_with_hostile_message(_state: SandboxState, _call: Call) -> NoReturn:
    raise ApiFailure(403, "forbidden", HOSTILE)


async def test_api_error_message_is_one_clean_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error message from the server is one line on stderr, controls escaped; the JSON
    error document keeps the exact message."""
    extra = [Route("GET", "/v1/team", refuse_with_hostile_message)]
    async with Sandbox(rate_limit_per_minute=None, extra_routes=extra) as sb:
        use_sandbox(monkeypatch, sb)
        assert await run_cli("team") == ExitCode.API
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("heymarket: error: API error: HTTP 403 forbidden: Acme\\x1b]0;")
        assert not RAW_CONTROLS.search(err.rstrip("\n"))
        assert await run_cli("team", "--json") == ExitCode.API
        captured = capsys.readouterr()
        assert read_json_text(captured.out)["error"]["message"] == HOSTILE
        assert captured.err.count("\n") == 1


def read_json_text(text: str) -> Any:
    assert not RAW_CONTROLS.search(text)
    return json.loads(text)


async def test_an_unexpected_error_is_one_line_and_exit_70(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-SDK exception (e.g. RecursionError from an odd body) never prints a traceback;
    HEYMARKET_DEBUG=1 adds it."""

    async def broken(_args: argparse.Namespace, _out: Output) -> int:
        raise RecursionError("maximum recursion depth exceeded\x1b[2J")

    monkeypatch.setattr(_api, "run_team", broken)
    assert await run_cli("team") == ExitCode.INTERNAL == 70
    err = capsys.readouterr().err
    assert err == (
        "heymarket: error: unexpected RecursionError: maximum recursion depth exceeded"
        "\\x1b[2J (a bug in heymarket-async; HEYMARKET_DEBUG=1 shows the traceback)\n"
    )
    assert await run_cli("team", "--json") == 70
    assert read_json(capsys)["error"]["type"] == "RecursionError"
    monkeypatch.setenv("HEYMARKET_DEBUG", "1")
    assert await run_cli("team") == 70
    assert "Traceback (most recent call last)" in capsys.readouterr().err


async def test_bulk_send_error_exits_3(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A BulkSendError that ends a command exits with the API/network status, 3."""

    async def locked(_args: argparse.Namespace, _out: Output) -> int:
        raise BulkSendError("the journal is held by another live job")

    monkeypatch.setattr(_api, "run_team", locked)
    assert await run_cli("team") == ExitCode.API == 3
    assert capsys.readouterr().err == (
        "heymarket: error: BulkSendError: the journal is held by another live job\n"
    )


def answer_with_forged_line(_state: SandboxState, _call: Call) -> dict[str, Any]:
    return {"id": 5, "local_id": "a\nheymarket: error: forged\x1b[2K"}


async def test_a_field_of_an_answer_cannot_forge_a_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local_id answered with a newline and an escape stays on the command's one line."""
    extra = [Route("POST", "/v1/message/send", answer_with_forged_line)]
    async with Sandbox(rate_limit_per_minute=None, extra_routes=extra) as sb:
        use_sandbox(monkeypatch, sb)
        argv = ("send", "--inbox", "42", "--creator", "7", "--phone", "15105550100")
        assert await run_cli(*argv, "--text", "hi") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("sent message 5 (local_id a\\x0aheymarket: error: forged\\x1b[2K, ")
