"""`heymarket demo` (faults, ground truth) and `heymarket sandbox` (serving the fake API)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys

import pytest

from heymarket_async import HeymarketClient
from heymarket_async._cli._demo import GroundTruth
from heymarket_async._cli._output import Output
from heymarket_async._cli._sandbox import serve
from heymarket_async.cli import build_parser

from . import read_json, run_cli


async def test_demo_json_reports_exactly_once(capsys: pytest.CaptureFixture[str]) -> None:
    """`demo --count 200 --json` exits 0 and the ledger shows every recipient exactly once."""
    assert await run_cli("demo", "--count", "200", "--json") == 0
    report = read_json(capsys)
    assert report["ok"] is True
    assert report["exactly_once"] is True
    assert report["ground_truth"] == {
        "recipients": 2700,
        "duplicates": 0,
        "missing": 0,
        "lost": 0,
        "phantom": 0,
        "unexpected": 0,
    }
    assert (report["individual"]["sent"], report["broadcast"]["sent"]) == (200, 2500)
    assert report["broadcast"]["requests_per_recipient"] < 0.01
    assert report["individual"]["requests_per_recipient"] >= 1
    assert report["faults"]
    assert report["status_429"] > 0


async def test_demo_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    """The text report shows both ways of sending and the ledger's verdict."""
    args = ("--count", "60", "--broadcast", "120", "--list-size", "50", "--seed", "4", "-q")
    assert await run_cli("demo", *args) == 0
    captured = capsys.readouterr()
    assert re.search(r"recipients\s+120\s+60\n", captured.out)
    assert re.search(r"each recipient exactly once\s+yes\n", captured.out)
    assert "faults injected" in captured.out
    assert captured.err == ""  # -q: no progress


async def test_demo_without_faults_needs_no_retries(capsys: pytest.CaptureFixture[str]) -> None:
    """With --fault-rate 0 nothing is retried or reconciled, and progress goes to stderr."""
    assert await run_cli("demo", "--count", "30", "--broadcast", "30", "--fault-rate", "0") == 0
    captured = capsys.readouterr()
    assert re.search(r"retried writes\s+0\s+0\n", captured.out)
    assert "individual sends: 30/30 (100%)" in captured.err


def truth(**problems: int) -> GroundTruth:
    counts = dict.fromkeys(("duplicates", "missing", "lost", "phantom", "unexpected"), 0)
    return GroundTruth(recipients=3, **{**counts, **problems})


@pytest.mark.parametrize(
    ("found", "exactly_once", "consistent"),
    [
        (truth(), True, True),
        (truth(duplicates=1), False, False),
        (truth(missing=1, lost=1), False, False),
        (truth(phantom=1), True, False),
        (truth(unexpected=1), False, False),
    ],
)
def test_ground_truth_verdicts(found: GroundTruth, exactly_once: bool, consistent: bool) -> None:
    """A duplicate or a loss fails exactly-once; a wrong report fails the consistency check."""
    assert (found.exactly_once, found.consistent) == (exactly_once, consistent)


async def test_demo_rejects_a_fault_rate_above_one(capsys: pytest.CaptureFixture[str]) -> None:
    """An out-of-range --fault-rate is a usage error (exit 2)."""
    assert await run_cli("demo", "--fault-rate", "1.5") == 2
    assert "must be between 0 and 1" in capsys.readouterr().err


def sandbox_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sandbox", *argv])


async def test_sandbox_json_prints_credentials_and_serves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`sandbox --json` prints its URL and credentials, serves them, and stops on request."""
    stop = asyncio.Event()
    args = sandbox_args("--port", "0", "--seed", "5", "--json", "--list-size", "77")
    task = asyncio.create_task(serve(args, Output(json_mode=True), stop))
    output = ""
    while not output.endswith("}\n"):
        await asyncio.sleep(0.01)
        output += capsys.readouterr().out
    info = json.loads(output)
    assert info["url"].startswith("http://127.0.0.1:")
    async with HeymarketClient(api_key=info["api_key"], base_url=info["url"]) as hm:
        assert (await hm.team.get()).list_size == 77
    async with HeymarketClient(
        secret_id=info["secret_id"], secret_key=info["secret_key"], base_url=info["url"]
    ) as hm:
        assert [inbox.id for inbox in await hm.inboxes.list()] == [42, 43, 44]
    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0
    assert capsys.readouterr().err == "sandbox stopped\n"


async def test_python_m_sandbox_stops_on_sigint() -> None:
    """`python -m heymarket_async sandbox` prints the banner, serves, and exits 0 on Ctrl-C."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heymarket_async", "sandbox", "--port", "0", "--faults", "0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, "the sandbox exited early"
            banner += line.decode()
        assert re.search(r"HEYMARKET_BASE_URL=http://127\.0\.0\.1:\d+", banner)
        assert "each request fails with probability 0.1" in banner
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0
        assert err.decode() == "sandbox stopped\n"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_version_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    """--version exits 0 with the version; no command at all is a usage error (exit 2)."""
    assert await run_cli("--version") == 0
    assert capsys.readouterr().out.startswith("heymarket ")
    assert await run_cli() == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
