"""What a new user meets first: the sandbox's export lines, a busy port, formatted phones,
dry-run exit codes, unused CSV columns, the demo's explanations and Ctrl-C advice, and an
accepted request whose answer could not be read."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from heymarket_async import cli
from heymarket_async._cli._broadcast import _journal
from heymarket_async._cli._output import Output, error_document, error_line
from heymarket_async._cli._sandbox import serve
from heymarket_async.cli import build_parser, interrupted_advice
from heymarket_async.errors import UnexpectedResponseError
from heymarket_async.sandbox import Fault, Sandbox
from heymarket_async.sandbox.__main__ import main as module_main

from . import read_json, run_cli, use_sandbox

SEND = "POST /v1/message/send"
JOB = ("--inbox", "42", "--creator", "7")


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        use_sandbox(monkeypatch, sb)
        yield sb


@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


# --- sandbox --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
async def test_sandbox_banner_pastes_into_a_shell(capsys: pytest.CaptureFixture[str]) -> None:
    """Everything the sandbox prints can be pasted into sh: it exports the URL and the API
    secret (the legacy key only as a comment), and names the default inbox and creator."""
    stop = asyncio.Event()
    args = build_parser().parse_args(["sandbox", "--port", "0", "--seed", "3"])
    task = asyncio.create_task(serve(args, Output(), stop))
    banner = ""
    while "Ctrl-C" not in banner:
        await asyncio.sleep(0.01)
        banner += capsys.readouterr().out
    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0

    script = (
        banner
        + '\nprintf "%s|%s|%s|%s" "$HEYMARKET_BASE_URL" "$HEYMARKET_SECRET_ID" '
        + ('"$HEYMARKET_SECRET_KEY" "${HEYMARKET_API_KEY-unset}"')
    )
    sh = shutil.which("sh")
    assert sh is not None
    shell = await asyncio.create_subprocess_exec(
        sh, "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(shell.communicate(), timeout=20)
    assert shell.returncode == 0
    url, secret_id, secret_key, api_key = stdout.decode().split("|")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert f"export HEYMARKET_SECRET_ID={secret_id}\n" in banner
    assert f"export HEYMARKET_SECRET_KEY={secret_key}\n" in banner
    assert api_key == "unset"
    assert re.search(r"^# export HEYMARKET_API_KEY=\S+$", banner, re.MULTILINE)
    assert "# default ids: --inbox 42 --creator 7" in banner
    assert stderr == b""


async def test_heymarket_sandbox_on_a_busy_port_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A port in use ends `heymarket sandbox` with one line naming the port, exit 2."""
    with busy_port() as port:
        assert await run_cli("sandbox", "--port", str(port)) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"heymarket: error: sandbox: cannot listen on 127.0.0.1:{port}: the port is in use; "
        f"choose another --port (--port 0 picks a free one)\n"
    )
    assert captured.out == ""


async def test_python_m_sandbox_on_a_busy_port_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m heymarket_async.sandbox` says the same and exits 2 too."""
    with busy_port() as port:
        assert await asyncio.to_thread(module_main, ["--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"sandbox: cannot listen on 127.0.0.1:{port}: the port is in use; "
        f"choose another --port (--port 0 picks a free one)\n"
    )


# --- formatted phones -----------------------------------------------------------------------


async def test_formatted_phone_without_normalize_points_to_the_option(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`send --phone "+1 (510) 555-3344"` is refused (exit 2) with advice to add
    --normalize, not to call a Python function; with it, one message goes out."""
    phone = ("--phone", "+1 (510) 555-3344", "--text", "Hi")
    assert await run_cli("send", *JOB, *phone) == 2
    err = capsys.readouterr().err
    assert "add --normalize to accept formatted numbers" in err
    assert "normalize_phone()" not in err
    assert sandbox.stats.total_requests == 0
    assert await run_cli("send", *JOB, *phone, "--normalize", "--json") == 0
    assert [entry.recipient for entry in sandbox.ledger] == ["15105553344"]


async def test_formatted_phone_in_a_csv_points_to_normalize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV row with a formatted number names --normalize in its bad-row line."""
    path = tmp_path / "job.csv"
    path.write_text("phone\n(510) 555-0001\n", encoding="utf-8")
    args = ("--text", "Sale", "--key", "fmt", "--dry-run")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 2
    err = capsys.readouterr().err
    assert "line 2: bad row: '(510) 555-0001' is not E.164 digits" in err
    assert "add --normalize" in err


@pytest.mark.parametrize("value", ["bad", "12"])
async def test_a_number_normalize_cannot_fix_gets_no_advice_to_add_it(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`send --phone bad` and a CSV row `12` are refused without pointing to --normalize,
    which would refuse them as well: the message is the one --normalize gives."""
    assert await run_cli("send", *JOB, "--phone", value, "--text", "Hi") == 2
    plain = capsys.readouterr().err
    assert await run_cli("send", *JOB, "--phone", value, "--text", "Hi", "--normalize") == 2
    normalized = capsys.readouterr().err
    assert "--normalize" not in plain
    assert plain == normalized
    path = tmp_path / "job.csv"
    path.write_text(f"phone\n{value}\n", encoding="utf-8")
    args = ("--text", "Sale", "--key", "fmt", "--dry-run")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 2
    err = capsys.readouterr().err
    assert "line 2: bad row:" in err
    assert "--normalize" not in err


# --- broadcast ------------------------------------------------------------------------------


async def test_dry_run_with_bad_rows_exits_with_the_validation_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run sends nothing, so bad rows make it a validation failure (2), not a job
    that failed (1); in JSON too."""
    path = tmp_path / "job.csv"
    path.write_text("phone\n15105550001\nnope\n", encoding="utf-8")
    args = ("--text", "Sale", "--key", "dry", "--dry-run")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 2
    capsys.readouterr()
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args, "--json") == 2
    assert read_json(capsys)["ok"] is False


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("phone,first_name,city\n15105550001,Ada,Oakland\n", "'first_name', 'city'"),
        ("15105550001,Ada\n15105550002,Alan\n", "'column 2'"),
    ],
)
async def test_unused_csv_columns_are_warned_about_once(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    named: str,
) -> None:
    """Columns the command does not read get one warning, which says merge fields come
    from Heymarket's contact data; the sends still go out."""
    path = tmp_path / "job.csv"
    path.write_text(text, encoding="utf-8")
    args = ("--text", "Hi {{first_name}}", "--key", "cols")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args, "-q") == 0
    err = capsys.readouterr().err
    assert err.count("not used") == 1
    assert named in err
    assert "filled by Heymarket from its contact data" in err
    assert sandbox.ledger[0].recipients[0] == "15105550001"


async def test_no_warning_when_every_column_is_read(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A phone,text file uses every column: no warning."""
    path = tmp_path / "job.csv"
    path.write_text("phone,text\n15105550001,Hi\n", encoding="utf-8")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, "--key", "k", "-q") == 0
    assert capsys.readouterr().err == ""


async def test_dry_run_preview_explains_merge_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preview that shows {{first_name}} literally says who fills it in."""
    path = tmp_path / "job.csv"
    path.write_text("15105550001\n", encoding="utf-8")
    args = ("--text", "Hi {{first_name}}", "--key", "merge", "--dry-run")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 0
    assert "Heymarket fills them from its contact data" in capsys.readouterr().out


def test_broadcast_help_explains_merge_fields_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["broadcast", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "merge fields such as {{first_name}}" in text
    assert "2 nothing sent (bad options, or --dry-run found bad rows)" in text
    assert "--lease-ttl" in text


async def test_lease_ttl_reaches_the_journal(tmp_path: Path) -> None:
    """--lease-ttl sets how long a dead run's lease blocks a rerun; a non-positive value is
    a usage error."""
    args = build_parser().parse_args(
        ["broadcast", "--csv", "x.csv", *JOB, "--key", "k", "--journal",
         str(tmp_path / "j.sqlite3"), "--lease-ttl", "4.5"]
    )  # fmt: skip
    async with _journal(args) as journal:
        assert journal is not None
        assert journal.lease_ttl == 4.5
    assert await run_cli("broadcast", "--csv", "x.csv", *JOB, "--key", "k", "--lease-ttl", "0") == 2


# --- demo -----------------------------------------------------------------------------------


async def test_demo_explains_pacing_counts_and_every_recipient_not_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under heavy faults the report says client pacing is off and why, explains requests
    versus recipients, and gives a reason for every failed or unknown recipient."""
    # With --concurrency 1 this seed repeats: one list broadcast ends undecided (its resend
    # after an ambiguous first attempt was refused, so it may have gone out).
    argv = ("--count", "150", "--broadcast", "100", "--list-size", "50", "--fault-rate", "0.6")
    argv += ("--seed", "4", "--concurrency", "1")
    assert await run_cli("demo", *argv, "--json") == 0
    report = read_json(capsys)
    assert report["client_pacing"] is False
    assert "would take about" in report["client_pacing_note"]
    for way, phase in (("individual", "individual"), ("list broadcast", "broadcast")):
        items = [item for item in report["not_sent"] if item["way"] == way]
        assert sum(item["recipients"] for item in items) == (
            report[phase]["failed"] + report[phase]["unknown"]
        )
        assert all(item["reason"] for item in items)
    assert report["broadcast"]["unknown"] == 50
    [undecided] = [item for item in report["not_sent"] if item["way"] == "list broadcast"]
    assert undecided["reason"].startswith("the send may have happened")
    assert "last error: API error: HTTP 429" in undecided["reason"]
    assert report["lost_phones"] == []

    assert await run_cli("demo", *argv, "-q") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Client pacing is off: the API allows 500 requests a minute" in out
    assert "'requests' counts every HTTP request the sandbox received" in out
    assert "Recipients not reported sent, and why:" in out


async def test_demo_seed_with_concurrency_1_repeats_every_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two runs with the same --seed and --concurrency 1 print the same counts."""
    argv = ("--count", "120", "--broadcast", "100", "--list-size", "50", "--seed", "9")
    reports = []
    for _ in range(2):
        assert await run_cli("demo", *argv, "--concurrency", "1", "--json") == 0
        report = read_json(capsys)
        for phase in ("broadcast", "individual"):
            del report[phase]["elapsed"]
        del report["elapsed"]
        del report["client_pacing_note"]  # names the request count, compared below
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["faults"]


def test_ctrl_c_advice_fits_the_command() -> None:
    """Only a broadcast with a journal is told to resume; the demo is not sent to options
    it does not have."""
    demo = interrupted_advice(["demo"])
    assert "--journal" not in demo
    assert "--key" not in demo
    assert "run it again" in demo
    resumable = interrupted_advice(["broadcast", "--csv", "a.csv", *JOB, "--key", "k",
                                    "--journal", "j.sqlite3"])  # fmt: skip
    assert "same --key and --journal" in resumable
    assert "--journal" in interrupted_advice(["broadcast", "--csv", "a.csv", *JOB, "--key", "k"])
    assert interrupted_advice(["inboxes"]) == "interrupted"


def test_ctrl_c_in_the_demo_exits_130_with_its_own_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def interrupted(argv: object = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert cli.main(["demo"]) == 130
    assert capsys.readouterr().err == (
        "heymarket: interrupted; the demo keeps no state: run it again to start over\n"
    )


# --- an accepted request whose answer could not be read -------------------------------------


def test_unexpected_response_text_says_accepted_with_the_local_id() -> None:
    exc = UnexpectedResponseError(
        "the answer could not be read as SentMessage", status=200, request_id="r1", local_id="L1"
    )
    line = error_line(exc)
    assert line.startswith(
        "the request was accepted (HTTP 200) and took effect, but its answer could not be "
        "read; do not resend it (local_id 'L1')."
    )
    document = error_document(exc)
    assert (document["accepted"], document["local_id"]) == (True, "L1")


async def test_send_accepted_but_unreadable_exits_3_saying_do_not_resend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A send answered 200 with an unreadable body, which history cannot settle: exit 3,
    and the line says it was accepted, names its local_id, and says not to resend."""
    async with Sandbox(rate_limit_per_minute=None, history_local_ids=False) as sandbox:
        use_sandbox(monkeypatch, sandbox)
        sandbox.faults.next(Fault.unreadable_success(), route=SEND)
        argv = ("--phone", "15105550009", "--text", "Hi", "--local-id", "once-only")
        assert await run_cli("send", *JOB, *argv) == 3
        assert len(sandbox.ledger) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the request was accepted (HTTP 200) and took effect" in err
    assert "do not resend it" in err
    assert "once-only" in err


async def test_sigint_during_the_demo_exits_130_without_resume_advice() -> None:
    """A real Ctrl-C in a running demo: exit 130, and the last line does not send the user
    to --key/--journal, which the demo does not take."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heymarket_async", "demo", "--count", "1000000",
        "--broadcast", "10", "--list-size", "10", "--fault-rate", "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        while b"individual sends:" not in await asyncio.wait_for(
            process.stderr.readline(), timeout=30
        ):
            pass
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 130
        last = err.decode().strip().splitlines()[-1]
        assert last == "heymarket: interrupted; the demo keeps no state: run it again to start over"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
