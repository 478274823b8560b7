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
from heymarket_async._cli._demo import GroundTruth, _Demo, _Phase
from heymarket_async._cli._output import Output
from heymarket_async._cli._sandbox import serve
from heymarket_async.bulk import OutcomeStatus
from heymarket_async.cli import build_parser
from heymarket_async.sandbox import LedgerKind, Sandbox

from . import read_json, run_cli


async def test_demo_json_reports_nobody_twice_and_nothing_lost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`demo --count 200 --json` under every fault kind exits 0: nobody twice, nothing
    reported sent that was not, nothing reported failed that was sent, and whoever got
    nothing was reported failed or unknown."""
    # --concurrency 1: the same faults on every run (with more, timing decides which
    # request draws which fault, and a rare kind may not come up).
    assert await run_cli("demo", "--count", "200", "--concurrency", "1", "--json") == 0
    report = read_json(capsys)
    assert report["ok"] is True
    truth = report["ground_truth"]
    assert truth["recipients"] == 2700
    assert (truth["duplicates"], truth["lost"], truth["phantom"], truth["unexpected"]) == (
        0,
        0,
        0,
        0,
    )
    singles, lists = report["individual"], report["broadcast"]
    assert singles["sent"] + singles["failed"] + singles["unknown"] == 200
    assert lists["sent"] + lists["failed"] + lists["unknown"] == 2500
    not_sent = singles["failed"] + singles["unknown"] + lists["failed"] + lists["unknown"]
    assert truth["missing"] <= not_sent
    assert truth["unknown_delivered"] + truth["unknown_missing"] == singles["unknown"]
    assert set(report["faults"]) >= {"unreadable_2xx", "oversized", "slow_drip"}
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
    assert re.search(r"report honest, nobody twice\s+yes\n", captured.out)
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
        (truth(missing=1, unknown_missing=1), False, True),
        (truth(unknown_delivered=1), True, True),
    ],
)
def test_ground_truth_verdicts(found: GroundTruth, exactly_once: bool, consistent: bool) -> None:
    """A duplicate or a loss fails exactly-once; a wrong report fails the consistency check;
    a recipient reported unknown who got nothing is honest, not lost."""
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


SURVIVABLE_KINDS = (
    "server_error,rate_limit,latency,reset,commit_then_drop,huge_retry_after,slow_drip,oversized"
)


async def test_demo_with_chosen_fault_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    """--fault-kinds limits the faults; with absurd Retry-After, drips and oversized answers
    among them every recipient still gets exactly one message."""
    argv = ("--count", "150", "--broadcast", "150", "--list-size", "50", "--fault-rate", "0.3")
    argv += ("--concurrency", "1")  # the same faults on every run
    assert await run_cli("demo", *argv, "--fault-kinds", SURVIVABLE_KINDS, "--json") == 0
    report = read_json(capsys)
    assert report["exactly_once"] is True
    assert report["fault_kinds"] == SURVIVABLE_KINDS.split(",")
    assert set(report["faults"]) <= set(SURVIVABLE_KINDS.split(","))
    assert {"huge_retry_after", "oversized"} <= set(report["faults"])
    assert (report["individual"]["sent"], report["broadcast"]["sent"]) == (150, 150)


def test_demo_report_explains_unknowns(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown outcomes are counted, explained, and checked against the ledger; they do not
    fail the demo when nothing was sent twice or lost."""
    args = build_parser().parse_args(["demo", "--count", "2", "--broadcast", "1"])
    sandbox = Sandbox()
    delivered, undecided = "16500000000", "16500000001"
    sandbox.ledger.record(
        kind=LedgerKind.INDIVIDUAL,
        message_id=1,
        inbox_id=42,
        recipients=(delivered,),
        local_id="a",
        at=0.0,
    )
    demo = _Demo(
        args=args,
        out=Output(),
        sandbox=sandbox,
        lists=_Phase(recipients=1, failed=1),
        singles=_Phase(recipients=2, sent=1, unknown=1),
        claimed={delivered: OutcomeStatus.SENT, undecided: OutcomeStatus.UNKNOWN},
    )
    assert demo.report(0.1) == 0
    out = capsys.readouterr().out
    assert re.search(r"report honest, nobody twice\s+yes\n", out)
    assert re.search(r"each recipient exactly once\s+no\n", out)
    assert "1 outcome(s) are unknown" in out
    assert "the ledger shows 0 delivered and 1 not" in " ".join(out.split())
