"""`heymarket journal show|resolve`: read a job's journal offline, settle what it left open."""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender, Journal
from heymarket_async.bulk._journal import _V0_SCHEMA, ChunkRecord
from heymarket_async.sandbox import Fault, Sandbox

from . import forget_credentials, read_json, run_cli

SEND = "POST /v1/message/send"
HISTORY = "GET /v1/messages"


class Terminal(io.StringIO):
    """Standard input typed on a terminal."""

    def isatty(self) -> bool:
        return True


def states(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT local_id, state FROM sends"))


async def make_journal(path: Path) -> None:
    """A journal holding each status: job ``april`` with a sent, a failed, an unknown (its
    run completed without deciding it) and an in-flight entry (its run died), and job
    ``spring`` with a sent list-broadcast chunk of three phones."""
    async with Journal(path) as journal:
        await journal.acquire_lease("april", owner="host:1:aa", run_id="r1")
        for local_id in ("april-a", "april-b", "april-c"):
            await journal.claim(local_id, run_id="r1")
        await journal.finish("april-a", "sent", run_id="r1", message_id=5)
        await journal.finish(
            "april-b", "failed", run_id="r1", error="BadRequestError: not a mobile number"
        )
        await journal.release_lease("april", owner="host:1:aa")
        await journal.acquire_lease("april", owner="host:2:bb", run_id="r2")
        await journal.claim("april-d", run_id="r2")
        await journal.acquire_lease("spring", owner="host:3:cc", run_id="r3")
        chunk = ChunkRecord(
            send_local_id="spring-b-1", list_local_id="spring-l-1", list_id=None, size=3
        )
        await journal.record_chunk(
            "spring", chunk, ["15105550001", "15105550002", "15105550003"], run_id="r3"
        )
        await journal.claim("spring-b-1", run_id="r3")
        await journal.finish("spring-b-1", "sent", run_id="r3", message_id=9)
        await journal.release_lease("spring", owner="host:3:cc")
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE leases SET expires_at = 1000")  # host:2:bb died long ago


@pytest.fixture
async def journal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    forget_credentials(monkeypatch)  # neither command needs credentials or the network
    path = tmp_path / "april.sqlite3"
    await make_journal(path)
    return path


async def test_show_reports_each_status_with_its_reason(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` counts sent, failed, in flight and unknown per job, names the dead run's
    lease, and lists every unsettled entry with why it is in that state."""
    assert await run_cli("journal", "show", str(journal_file)) == 0
    out = capsys.readouterr().out
    assert re.search(r"april\s+1\s+1\s+1\s+1\n", out)
    assert re.search(r"spring\s+1\s+0\s+0\s+0\n", out)
    assert re.search(r"lease april\s+host:2:bb until 1970-01-01 00:16:40 UTC \(expired", out)
    assert re.search(r"april-b\s+april\s+failed .*not sent \(BadRequestError: not a mobile", out)
    assert re.search(r"april-c\s+april\s+unknown .*could not decide it", out)
    assert re.search(r"april-d\s+april\s+in flight .*its run \(host:2:bb\) died", out)
    assert "april-a" not in out  # sent entries only with --all
    assert "spring-b-1" not in out


async def test_show_json_selects_by_job_status_and_limit(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show --json` gives counts, leases and entries; --key, --all and --limit select."""
    assert await run_cli("journal", "show", str(journal_file), "--json") == 0
    document = read_json(capsys)
    assert document["schema_version"] == 1
    assert {job["job"]: job["unknown"] for job in document["jobs"]} == {"april": 1, "spring": 0}
    assert {e["local_id"]: e["status"] for e in document["entries"]} == {
        "april-b": "failed",
        "april-c": "unknown",
        "april-d": "inflight",
    }
    assert [(lease["owner"], lease["live"]) for lease in document["leases"]] == [
        ("host:2:bb", False)
    ]
    args = ("journal", "show", str(journal_file), "--json", "--key", "spring", "--all")
    assert await run_cli(*args) == 0
    [chunk] = read_json(capsys)["entries"]
    assert (chunk["local_id"], chunk["status"], chunk["recipients"]) == ("spring-b-1", "sent", 3)
    assert chunk["reason"] == "sent, message id 9"
    args = ("journal", "show", str(journal_file), "--json", "--all", "--limit", "1")
    assert await run_cli(*args) == 0
    document = read_json(capsys)
    assert (len(document["entries"]), document["more"]) == (1, 4)


async def test_show_never_writes_even_to_a_first_layout_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` opens the file read-only: an old journal is read as it is, not upgraded."""
    forget_credentials(monkeypatch)
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in _V0_SCHEMA:
            db.execute(statement)
        db.execute("INSERT INTO sends VALUES ('x-1', 'inflight', 'old', 1.0, NULL, NULL, 1.0)")
    before = path.read_bytes()
    assert await run_cli("journal", "show", str(path)) == 0
    out = capsys.readouterr().out
    assert "(schema 0)" in out
    assert re.search(r"x-1\s+-\s+in flight .*left in flight by an earlier run", out)
    assert path.read_bytes() == before


async def test_show_of_a_missing_or_corrupt_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file, or one that is not a journal, is a one-line error with status 2."""
    assert await run_cli("journal", "show", str(tmp_path / "nope.sqlite3")) == 2
    assert "no journal at" in capsys.readouterr().err
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not sqlite at all " * 100)
    assert await run_cli("journal", "show", str(garbage)) == 2
    err = capsys.readouterr().err
    assert "corrupted or not a SQLite database" in err
    assert "Traceback" not in err


async def test_resolve_without_a_terminal_needs_yes(
    journal_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a terminal to ask on and without --yes, nothing changes (status 2)."""
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    before = states(journal_file)
    assert (
        await run_cli("journal", "resolve", str(journal_file), "--key", "april", "--as", "sent")
        == 2
    )
    assert "pass --yes to confirm" in capsys.readouterr().err
    assert states(journal_file) == before


async def test_resolve_asks_and_a_no_changes_nothing(
    journal_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal, resolve lists what it would change and warns of a double send; any
    answer but yes leaves the journal as it was (status 1)."""
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    before = states(journal_file)
    args = ("journal", "resolve", str(journal_file), "--key", "april", "--as", "unsent")
    assert await run_cli(*args) == 1
    err = capsys.readouterr().err
    assert "2 entries of" in err
    assert "april-c (unknown)" in err
    assert "april-d (in flight)" in err
    assert "gets the message TWICE" in err
    assert "nothing changed" in err
    assert states(journal_file) == before


async def test_resolve_as_sent_after_a_yes(
    journal_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A yes marks the job's in-flight and unknown entries sent, with a note saying so."""
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    args = ("journal", "resolve", str(journal_file), "--key", "april", "--as", "sent")
    assert await run_cli(*args) == 0
    assert "marked 2 entries sent" in capsys.readouterr().out
    assert states(journal_file) == {
        "april-a": "sent",
        "april-b": "failed",
        "april-c": "sent",
        "april-d": "sent",
        "spring-b-1": "sent",
    }
    async with Journal(journal_file) as journal:
        entry = await journal.get("april-c")
    assert entry is not None
    assert entry.note is not None
    assert entry.note.startswith("marked sent by hand on ")


async def test_resolve_refuses_settled_or_unknown_entries(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Naming a sent or failed entry, or one the journal does not hold, changes nothing."""
    before = states(journal_file)
    base = ("journal", "resolve", str(journal_file), "--as", "unsent", "--yes")
    assert await run_cli(*base, "--local-id", "april-a") == 2
    assert "'april-a' is sent: only in-flight and unknown" in capsys.readouterr().err
    assert await run_cli(*base, "--local-id", "april-c", "--local-id", "april-b") == 2
    assert "'april-b' is failed" in capsys.readouterr().err
    assert await run_cli(*base, "--key", "spring", "--local-id", "april-c") == 2
    assert "no entry 'april-c' of job 'spring'" in capsys.readouterr().err
    assert await run_cli(*base) == 2
    assert "--key JOB, --local-id ID, or both" in capsys.readouterr().err
    assert states(journal_file) == before
    assert await run_cli(*base, "--key", "spring", "--json") == 0
    assert read_json(capsys) == {"resolved": 0, "as": "unsent", "local_ids": []}


async def test_resolve_refuses_while_the_job_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a run holds the job's lease, its entries cannot be resolved."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal:
        await journal.acquire_lease("april", owner="host:9:live", run_id="r1")
        await journal.claim("april-x", run_id="r1")
        args = ("journal", "resolve", str(path), "--key", "april", "--as", "sent", "--yes")
        assert await run_cli(*args) == 2
    assert "job 'april' is running (its lease is held by host:9:live" in capsys.readouterr().err
    assert states(path) == {"april-x": "inflight"}


# --- settling what a real job could not decide ------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


def _send(sb: Sandbox, phone: str) -> SendMessage:
    return SendMessage(
        inbox_id=sb.default_inbox_id,
        creator_id=sb.default_creator_id,
        phone_number=phone,
        text="Hi",
    )


async def _undecided_job(sb: Sandbox, path: Path, fault: Fault) -> None:
    """Run one send whose answer is lost and whose history cannot be read: unknown."""
    sb.faults.next(fault, route=SEND)
    sb.faults.random(Fault.server_error(503), probability=1.0, route=HISTORY)
    client = HeymarketClient(
        **sb.client_kwargs(), rate_limit_per_minute=None, retry=RetryPolicy(attempts=2)
    )
    async with client:
        report = await BatchSender(client, on_unknown="fail", journal=path, key="u").send_all(
            [_send(sb, "15105550009")]
        )
    assert report.unknown == 1


async def test_an_unknown_resolved_as_sent_is_never_sent_again(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A send that went out but could not be confirmed, marked sent by hand: the rerun
    neither sends nor looks it up, even though history is still unreadable."""
    forget_credentials(monkeypatch)  # the commands themselves never talk to the API
    path = tmp_path / "u.sqlite3"
    await _undecided_job(sandbox, path, Fault.commit_then_drop())
    assert await run_cli("journal", "show", str(path), "--json") == 0
    [entry] = read_json(capsys)["entries"]
    assert entry["status"] == "unknown"
    args = ("journal", "resolve", str(path), "--key", "u", "--as", "sent", "--yes")
    assert await run_cli(*args) == 0
    looked = sandbox.stats.requests(HISTORY)
    async with HeymarketClient(**sandbox.client_kwargs(), rate_limit_per_minute=None) as hm:
        report = await BatchSender(hm, journal=path, key="u").send_all(
            [_send(sandbox, "15105550009")]
        )
    assert (report.skipped, report.sent) == (1, 0)
    assert sandbox.stats.requests(HISTORY) == looked
    assert sandbox.ledger_counts_by_recipient() == {"15105550009": 1}


async def test_an_unknown_resolved_as_unsent_is_sent_by_the_next_run(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A send that never arrived, marked unsent by hand: the next run sends it, once."""
    path = tmp_path / "u.sqlite3"
    await _undecided_job(sandbox, path, Fault.reset())
    assert sandbox.ledger_counts_by_recipient() == {}
    args = ("journal", "resolve", str(path), "--key", "u", "--as", "unsent", "--yes", "--json")
    assert await run_cli(*args) == 0
    assert read_json(capsys)["resolved"] == 1
    async with HeymarketClient(**sandbox.client_kwargs(), rate_limit_per_minute=None) as hm:
        report = await BatchSender(hm, journal=path, key="u").send_all(
            [_send(sandbox, "15105550009")]
        )
    assert (report.sent, report.reconciled) == (1, 0)
    assert sandbox.ledger_counts_by_recipient() == {"15105550009": 1}
