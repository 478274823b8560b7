"""`heymarket broadcast --csv` against a live sandbox: rows, line numbers, resume, dry run."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heymarket_async.sandbox import Fault, FaultPlan, LedgerKind, Sandbox

from . import forget_credentials, read_json, run_cli, use_sandbox

SEND = "POST /v1/message/send"
LISTS = "POST /v2/lists"
JOB = ("--inbox", "42", "--creator", "7")

# Line 3 needs --normalize, line 4 is not a number, line 5 is blank, line 6 repeats line 2,
# the record on lines 7-8 has a quoted newline, line 9 has no phone.
MIXED_CSV = (
    "phone,name\n"
    "15105550001,Ada\n"
    "+1 (510) 555-0002,Alan\n"
    "nope,Bad\n"
    "\n"
    "15105550001,Ada again\n"
    '15105550003,"Grace\nHopper"\n'
    ",nobody\n"
)


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        use_sandbox(monkeypatch, sb)
        yield sb


def write_csv(tmp_path: Path, text: str, name: str = "job.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_once_each(sandbox: Sandbox, phones: set[str]) -> None:
    counts = sandbox.ledger_counts_by_recipient()
    assert set(counts) == phones
    assert set(counts.values()) == {1}


async def test_list_broadcast_reports_bad_and_duplicate_rows_by_line(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad and repeated rows are reported with their line numbers; the rest get one message."""
    path = write_csv(tmp_path, MIXED_CSV)
    status = await run_cli(
        "broadcast", "--csv", str(path), *JOB, "--text", "Sale", "--key", "mixed", "--normalize"
    )
    assert status == 1  # a bad row means someone was not sent to
    captured = capsys.readouterr()
    assert "line 4: bad row: 'nope' is not a phone number" in captured.err
    assert "line 6: duplicate: 15105550001 repeats an earlier row's phone" in captured.err
    assert "line 9: bad row: the phone cell is empty" in captured.err
    assert re.search(r"recipients\s+3\n", captured.out)
    assert re.search(r"lists created\s+1\n", captured.out)
    assert_once_each(sandbox, {"15105550001", "15105550002", "15105550003"})
    assert {entry.kind for entry in sandbox.ledger} == {LedgerKind.LIST_BROADCAST}
    assert (sandbox.stats.requests(LISTS), sandbox.stats.requests(SEND)) == (1, 1)


async def test_list_broadcast_json_lists_problem_lines(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json the report carries every refused row's line number and reason."""
    path = write_csv(tmp_path, MIXED_CSV)
    args = ("--text", "Sale", "--key", "mixed-json", "--list-size", "2", "--json")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 1
    report = read_json(capsys)
    assert report["ok"] is False
    assert (report["mode"], report["rows"], report["recipients"]) == ("list", 6, 2)
    assert (report["sent"], report["lists_created"]) == (2, 1)
    assert [bad["line"] for bad in report["bad_rows"]] == [3, 4, 9]
    assert report["duplicate_rows"] == [
        {"line": 6, "phone": "15105550001", "reason": "15105550001 repeats an earlier row's phone"}
    ]
    assert_once_each(sandbox, {"15105550001", "15105550003"})


async def test_per_row_text_sends_individually_with_key_derived_local_ids(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text column makes each row an individual send whose local_id derives from --key."""
    path = write_csv(
        tmp_path,
        "phone,text\n15105550011,Hi Ada\n15105550012,\n15105550013,Hi Grace\n15105550011,again\n",
    )
    args = ("--text", "Hello", "--key", "per-row", "--json")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 0
    report = read_json(capsys)
    assert (report["mode"], report["sent"], report["failed"]) == ("individual", 3, 0)
    assert [dup["line"] for dup in report["duplicate_rows"]] == [5]
    assert_once_each(sandbox, {"15105550011", "15105550012", "15105550013"})
    assert all(entry.local_id.startswith("per-row-") for entry in sandbox.ledger)
    texts = {m.json["target"]: m.json["text"] for m in sandbox.state.messages}
    assert texts == {"15105550011": "Hi Ada", "15105550012": "Hello", "15105550013": "Hi Grace"}


async def test_refused_send_is_reported_by_line(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A send the API refuses is a failure reported with its CSV line, and the job exits 1."""
    sandbox.opt_out("15105550012")
    path = write_csv(tmp_path, "phone,text\n15105550011,Hi\n15105550012,Hi\n")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, "--key", "opted", "--json") == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["sent"], report["failed"]) == (1, 1)
    (problem,) = report["problems"]
    assert (problem["line"], problem["phone"], problem["status"]) == (3, "15105550012", "failed")
    assert "HTTP 400 unsubscribed_number" in problem["error"]
    assert re.search(
        r"line 3: failed: API error: HTTP 400 .* \(request id [0-9a-f]{32}\)", captured.err
    )


async def test_list_that_cannot_be_created_fails_its_recipients(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When a list cannot be created its phones are reported failed, and nothing is sent."""
    sandbox.faults.next(Fault.server_error(503), route=LISTS, times=20)
    path = write_csv(tmp_path, "phone\n15105550031\n15105550032\n")
    args = ("--text", "Hi", "--key", "no-list")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 1
    captured = capsys.readouterr()
    assert re.search(r"failed\s+2\n", captured.out)
    assert "list creation: failed: API error: HTTP 503" in captured.err
    assert len(sandbox.ledger) == 0


async def test_empty_text_cell_without_fallback_is_a_bad_row(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row with an empty text cell and no --text is reported by line and not sent."""
    path = write_csv(tmp_path, "phone,text\n15105550011,Hi\n15105550012,\n")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, "--key", "no-fallback") == 1
    err = capsys.readouterr().err
    assert "line 3: bad row: 15105550012: the text cell is empty" in err
    assert_once_each(sandbox, {"15105550011"})


async def test_dry_run_sends_nothing_and_needs_no_credentials(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--dry-run validates every row and shows the plan without any request or credentials."""
    forget_credentials(monkeypatch)
    path = write_csv(tmp_path, MIXED_CSV)
    args = ("--text", "Sale", "--key", "dry", "--normalize", "--dry-run")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 2  # bad rows
    captured = capsys.readouterr()
    assert "dry run, nothing sent" in captured.out
    assert "rows 6, recipients 3, bad rows 2, duplicate rows 1" in captured.out
    assert re.search(r"7\s+15105550003\s+Sale", captured.out)
    assert "line 4: bad row" in captured.err
    assert sandbox.stats.total_requests == 0


async def test_dry_run_json_previews_local_ids(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean --dry-run --json exits 0 and previews each send with its derived local_id."""
    path = write_csv(tmp_path, "phone,text\n15105550011,Hi Ada\n15105550013,Hi Grace\n")
    args = ("--key", "preview", "--dry-run", "--json")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 0
    report = read_json(capsys)
    assert (report["ok"], report["mode"], report["recipients"]) == (True, "individual", 2)
    assert [p["line"] for p in report["preview"]] == [2, 3]
    assert all(p["local_id"].startswith("preview-") for p in report["preview"])
    assert sandbox.stats.total_requests == 0


async def test_rerun_with_journal_sends_nothing_new(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running the same list broadcast again with its journal skips every recipient."""
    path = write_csv(tmp_path, "".join(f"1510555{i:04d}\n" for i in range(25)))
    journal = tmp_path / "job.sqlite3"
    args = ("--text", "Sale", "--key", "resume", "--journal", str(journal), "--list-size", "10")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args, "--json") == 0
    first = read_json(capsys)
    assert (first["sent"], first["lists_created"]) == (25, 3)
    requests = sandbox.stats.total_requests

    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args, "--json") == 0
    second = read_json(capsys)
    assert (second["sent"], second["skipped"], second["lists_created"]) == (0, 25, 0)
    assert sandbox.stats.total_requests == requests  # not even a lookup
    assert_once_each(sandbox, {f"1510555{i:04d}" for i in range(25)})


async def test_resume_with_journal_sends_only_the_new_rows(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A per-row job rerun on a longer file sends the new rows and skips the sent ones."""
    rows = [f"1510555{i:04d},Hi {i}\n" for i in range(8)]
    journal = tmp_path / "job.sqlite3"
    args = ("--key", "grow", "--journal", str(journal), "--json")
    first = write_csv(tmp_path, "phone,text\n" + "".join(rows[:5]), "first.csv")
    assert await run_cli("broadcast", "--csv", str(first), *JOB, *args) == 0
    assert read_json(capsys)["sent"] == 5

    whole = write_csv(tmp_path, "phone,text\n" + "".join(rows), "whole.csv")
    assert await run_cli("broadcast", "--csv", str(whole), *JOB, *args) == 0
    report = read_json(capsys)
    assert (report["sent"], report["skipped"]) == (3, 5)
    assert sandbox.stats.requests(SEND) == 8
    assert_once_each(sandbox, {f"1510555{i:04d}" for i in range(8)})


async def test_per_row_sends_stay_exactly_once_under_faults(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With 30% of requests failing (every fault kind), no row is sent twice, and every row
    reported sent is in the ledger; lookups blinded by history without local_id may leave
    some unknown, never resent. A row whose every attempt drew an injected 429 (retries
    take the seeded faults in arrival order, so this depends on timing) fails, certainly
    not sent: it is not in the ledger."""
    sandbox.faults = FaultPlan.chaos(0.3, seed=11)
    phones = [f"1650555{i:04d}" for i in range(120)]
    path = write_csv(tmp_path, "phone,text\n" + "".join(f"{p},Hi\n" for p in phones))
    # Client pacing off: each injected 429 would otherwise slow the client down for real.
    args = ("--key", "chaos", "--concurrency", "12", "--rate-limit", "0", "--json")
    status = await run_cli("broadcast", "--csv", str(path), *JOB, *args)
    report = read_json(capsys)
    assert "error" not in report, report["error"]
    assert report["failed"] + report["sent"] + report["unknown"] == 120
    failed = [p for p in report["problems"] if p["status"] == "failed"]
    assert len(failed) == report["failed"]
    assert all("HTTP 429" in p["error"] for p in failed), failed
    assert status == (0 if report["unknown"] + report["failed"] == 0 else 1)
    assert sandbox.stats.dropped > 0
    counts = sandbox.ledger_counts_by_recipient()
    assert not {p["phone"] for p in failed} & set(counts)
    assert set(counts.values()) <= {1}
    assert set(counts) <= set(phones)
    assert len(counts) >= report["sent"]


async def test_headerless_csv_uses_the_first_column(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a header row the first column holds the phones and line 1 is data."""
    path = write_csv(tmp_path, "15105550021,x\n15105550022,y\n")
    args = ("--text", "Hi", "--key", "bare", "--json")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 0
    assert read_json(capsys)["rows"] == 2
    assert_once_each(sandbox, {"15105550021", "15105550022"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"phone\n1510\xff5550001\n", "not UTF-8 text (invalid start byte)"),
        # An unclosed quote swallows the rest of the file into one over-long field.
        (b'phone\n"15105550001\n' + b"1" * 200_000, "line 2: not valid CSV (field larger"),
        (b"", "no rows"),
    ],
)
async def test_unreadable_csv_exits_2_before_sending(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    """A file that is not UTF-8 CSV, or is empty, stops the job before any request."""
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    args = ("--text", "Hi", "--key", "broken")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, *args) == 2
    assert message in capsys.readouterr().err
    assert sandbox.stats.total_requests == 0


async def test_missing_file_and_bad_key_are_usage_errors(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing CSV file or an invalid --key exits 2 with one line, sending nothing."""
    missing = tmp_path / "absent.csv"
    assert await run_cli("broadcast", "--csv", str(missing), *JOB, "--text", "x", "--key", "k") == 2
    assert f"cannot read {missing}" in capsys.readouterr().err
    path = write_csv(tmp_path, "15105550021\n")
    assert await run_cli("broadcast", "--csv", str(path), *JOB, "--text", "x", "--key", "a b") == 2
    assert "invalid key: a job key is 1-64 characters" in capsys.readouterr().err
    assert sandbox.stats.total_requests == 0


async def test_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """`broadcast --help` exits 0 and shows an example command line."""
    assert await run_cli("broadcast", "--help") == 0
    out = capsys.readouterr().out
    assert "example:\n  heymarket broadcast --csv april.csv" in out
