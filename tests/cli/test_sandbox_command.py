"""`heymarket sandbox` and `python -m heymarket_async.sandbox`: one set of flags, the ledger
file, fault kinds."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient
from heymarket_async._cli._args import FAULT_KINDS
from heymarket_async._cli._output import Output
from heymarket_async._cli._sandbox import serve
from heymarket_async.cli import build_parser
from heymarket_async.sandbox import FaultKind
from heymarket_async.sandbox.__main__ import _parser as module_parser
from heymarket_async.sandbox.__main__ import main as module_main
from heymarket_async.sandbox._command import build_sandbox

from . import run_cli


def sandbox_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sandbox", *argv])


def options(parser: argparse.ArgumentParser) -> dict[str, tuple[object, object]]:
    """Each option string with its destination and default."""
    return {
        option: (action.dest, action.default)
        for action in parser._actions
        for option in action.option_strings
    }


def sandbox_subparser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices["sandbox"]
    return found


def test_both_commands_take_the_same_flags() -> None:
    """`heymarket sandbox` has every flag of `python -m heymarket_async.sandbox`, same
    destination and default, plus only the command-wide output options."""
    module = options(module_parser())
    command = options(sandbox_subparser())
    assert set(command) - set(module) == {"--json", "-q", "--quiet"}
    assert {option: command[option] for option in module} == module
    for flag in ("--faults", "--fault-kinds", "--ledger-file", "--history-without-local-id"):
        assert flag in module


def test_fault_kind_names_match_the_sandbox() -> None:
    """The CLI's list of fault kinds is the sandbox's enum, in order."""
    assert [kind.value for kind in FaultKind] == list(FAULT_KINDS)


def test_options_configure_the_sandbox() -> None:
    """Every option reaches the sandbox it builds."""
    args = sandbox_args(
        "--port", "0", "--rate-limit", "0", "--no-retry-after", "--no-dedupe",
        "--list-size", "9", "--faults", "1", "--fault-kinds", "oversized,reset",
        "--history-without-local-id",
    )  # fmt: skip
    sandbox = build_sandbox(args)
    assert sandbox.rate_limit_per_minute is None
    assert not sandbox.retry_after_header
    assert not sandbox.dedupe_individual_sends
    assert not sandbox.history_local_ids
    assert sandbox.list_size == 9
    picked = {sandbox.faults.pick("POST /v1/message/send") for _ in range(50)}
    assert {fault.kind for fault in picked if fault} == {FaultKind.OVERSIZED, FaultKind.RESET}
    old_names = module_parser().parse_args(["--chaos", "0.5", "--no-dedupe-individual"])
    assert (old_names.faults, old_names.no_dedupe) == (0.5, True)


async def test_unknown_fault_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt kind exits 2 and lists the known ones."""
    assert await run_cli("sandbox", "--fault-kinds", "reset,meteor") == 2
    err = capsys.readouterr().err
    assert "unknown fault kind 'meteor'" in err
    assert "unreadable_2xx" in err


async def test_ledger_file_in_a_missing_directory_is_refused_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both commands refuse an unwritable --ledger-file with exit 2 and serve nothing."""
    missing = str(tmp_path / "nowhere" / "ledger.json")
    assert await run_cli("sandbox", "--port", "0", "--ledger-file", missing) == 2
    assert "no directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        module_main(["--port", "0", "--ledger-file", missing])
    assert exited.value.code == 2
    assert "no directory" in capsys.readouterr().err


async def test_ledger_file_is_written_on_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sandbox --ledger-file` writes every committed send when it stops."""
    ledger_file = tmp_path / "ledger.json"
    stop = asyncio.Event()
    args = sandbox_args("--port", "0", "--json", "--ledger-file", str(ledger_file))
    task = asyncio.create_task(serve(args, Output(json_mode=True), stop))
    output = ""
    while not output.endswith("}\n"):
        await asyncio.sleep(0.01)
        output += capsys.readouterr().out
    info = json.loads(output)
    assert info["ledger_url"] == info["url"] + "/_sandbox/ledger"
    async with HeymarketClient(api_key=info["api_key"], base_url=info["url"]) as hm:
        for phone in ("15105550001", "15105550002"):
            await hm.messages.send(
                inbox_id=info["inbox_id"], creator_id=info["creator_id"],
                phone_number=phone, text="hi",
            )  # fmt: skip
    assert not ledger_file.exists()
    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0
    written = json.loads(ledger_file.read_text())
    assert written["sends_by_recipient"] == {"15105550001": 1, "15105550002": 1}
    assert written["duplicates"] == {}
    assert [entry["recipients"] for entry in written["ledger"]] == [
        ["15105550001"],
        ["15105550002"],
    ]
    left = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert left == [ledger_file]  # no temporary file left behind
