"""A journal that is corrupt, foreign, newer or locked: a clear BulkSendError, never a raw
sqlite3 error or a hang, and every claimed send keeps an outcome or stays in flight."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from heymarket_async import HeymarketClient
from heymarket_async.bulk import BatchSender, Journal, derive_local_id
from heymarket_async.bulk._journal import _V0_SCHEMA, APPLICATION_ID, SCHEMA_VERSION
from heymarket_async.errors import BulkSendError, RequestValidationError
from heymarket_async.sandbox import Sandbox

from .conftest import phones, sends
from .test_batch_sender import assert_exactly_once
from .test_journal_lease import expire_leases


def make_db(path: Path, *statements: str) -> None:
    """A SQLite file at ``path`` built by ``statements``."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in statements:
            db.execute(statement)


def tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


def pragmas(path: Path) -> tuple[int, int]:
    """(application_id, user_version) of the file at ``path``."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return (
            db.execute("PRAGMA application_id").fetchone()[0],
            db.execute("PRAGMA user_version").fetchone()[0],
        )


async def refused(
    sandbox: Sandbox, client: HeymarketClient, path: Path, match: str
) -> BulkSendError:
    """Run a small job on ``path``: it must raise BulkSendError and send nothing."""
    sender = BatchSender(client, journal=path, key="k")
    with pytest.raises(BulkSendError, match=match) as caught:
        await asyncio.wait_for(sender.send_all(sends(sandbox, list(phones(3)))), 10)
    assert sandbox.stats.total_requests == 0
    return caught.value


async def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A corrupt file (not SQLite at all) is refused with its path; its bytes are kept."""
    path = tmp_path / "j.sqlite3"
    garbage = b"this is not a database, just some bytes " * 200
    path.write_bytes(garbage)
    error = await refused(
        sandbox, client, path, "cannot open the journal at .*: it is corrupted or not a SQLite"
    )
    assert str(path) in str(error)
    assert isinstance(error.__cause__, sqlite3.DatabaseError)
    assert path.read_bytes() == garbage


async def test_another_applications_database_is_refused_untouched(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A SQLite file of another application is refused; no journal table is added to it."""
    path = tmp_path / "crm.sqlite3"
    make_db(path, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    await refused(
        sandbox, client, path, r"not a heymarket journal: it holds other tables \(users\)"
    )
    assert tables(path) == {"users"}
    assert pragmas(path) == (0, 0)


async def test_a_sends_table_with_other_columns_is_refused(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A ``sends`` table that is not the journal's is refused, naming its columns."""
    path = tmp_path / "j.sqlite3"
    make_db(path, "CREATE TABLE sends (id INTEGER PRIMARY KEY, recipient TEXT, body TEXT)")
    await refused(
        sandbox, client, path, r"its table 'sends' has columns \(id, recipient, body\), expected"
    )
    assert tables(path) == {"sends"}


@pytest.mark.parametrize(
    ("application_id", "user_version"), [(0x12345678, 0), (0, 3)], ids=["app-id", "user-version"]
)
async def test_a_database_marked_by_another_application_is_refused(
    sandbox: Sandbox,
    client: HeymarketClient,
    tmp_path: Path,
    application_id: int,
    user_version: int,
) -> None:
    """A file whose SQLite header names another application (or its schema version) is
    refused, even without tables."""
    path = tmp_path / "j.sqlite3"
    make_db(
        path,
        f"PRAGMA application_id = {application_id}",
        f"PRAGMA user_version = {user_version}",
    )
    await refused(sandbox, client, path, "it belongs to another application")


async def test_a_newer_journal_schema_is_refused(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A journal written by a newer version (higher schema version) is refused as such."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path):
        pass
    make_db(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    await refused(sandbox, client, path, f"schema version {SCHEMA_VERSION + 1}, which this version")


async def test_a_journal_missing_tables_is_refused(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A journal of the current schema that lost a table is refused as damaged."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path):
        pass
    make_db(path, "DROP TABLE leases")
    await refused(sandbox, client, path, "damaged journal: tables leases are missing")


async def test_a_journal_of_the_first_layout_is_upgraded_and_resumed(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path
) -> None:
    """A journal written before schema versions existed is upgraded in place: its sent entry
    is skipped and its in-flight one is looked up, then sent once."""
    path = tmp_path / "j.sqlite3"
    numbers = list(phones(3))
    done, pending, _ = (derive_local_id("k", send) for send in sends(sandbox, numbers))
    make_db(
        path,
        *_V0_SCHEMA,
        "INSERT INTO sends VALUES "  # noqa: S608 - local ids made by the test
        f"('{done}', 'sent', 'old', 1.0, 77, NULL, 1.0), "
        f"('{pending}', 'inflight', 'old', 1.0, NULL, NULL, 1.0)",
    )
    report = await BatchSender(client, journal=path, key="k").send_all(sends(sandbox, numbers))
    assert (report.sent, report.skipped) == (2, 1)
    assert pragmas(path) == (APPLICATION_ID, SCHEMA_VERSION)
    assert {"leases", "runs"} <= tables(path)
    assert_exactly_once(sandbox, numbers[1:])


async def test_a_read_only_journal_is_not_upgraded_and_refuses_writes(tmp_path: Path) -> None:
    """Opened read-only, a first-layout journal is read as it is and never written."""
    path = tmp_path / "j.sqlite3"
    make_db(path, *_V0_SCHEMA, "INSERT INTO sends VALUES ('a', 'sent', 'old', 1.0, 7, NULL, 1.0)")
    before = path.read_bytes()
    async with Journal(path, read_only=True) as journal:
        assert journal.schema_version == 0
        entry = await journal.get("a")
        assert entry is not None
        assert entry.message_id == 7
        with pytest.raises(BulkSendError, match="read-only"):
            await journal.claim("b", run_id="r")
    assert path.read_bytes() == before


async def test_a_lock_held_past_the_busy_timeout_fails_opening_promptly(tmp_path: Path) -> None:
    """Another connection holding the write lock makes open fail after the busy timeout,
    with a message saying so, instead of hanging."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path):
        pass
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as locker:
        locker.execute("BEGIN IMMEDIATE")
        with pytest.raises(BulkSendError, match=r"stayed locked .* more than 0\.2 s"):
            await asyncio.wait_for(Journal(path, busy_timeout=0.2).open(), 10)


async def test_a_table_dropped_mid_job_gives_bulk_send_error(tmp_path: Path) -> None:
    """A journal whose tables vanish while it is open fails with BulkSendError, not sqlite3."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal:
        await journal.claim("a", run_id="r1")
        make_db(path, "ALTER TABLE sends RENAME TO something_else")
        with pytest.raises(BulkSendError, match="does not have the journal's tables") as caught:
            await journal.claim("b", run_id="r1")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


async def test_a_lock_mid_job_stops_the_job_and_reports_what_stays_in_flight(
    sandbox: Sandbox, client: HeymarketClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock taken by another program mid-job, held past the busy timeout, right after a
    send went out: the job stops with BulkSendError listing the sends left in flight (that
    one included), and the next run finds them in history and sends each recipient once."""
    path = tmp_path / "j.sqlite3"
    numbers = list(phones(40))
    journal = Journal(path, busy_timeout=0.2)
    locker = sqlite3.connect(path, isolation_level=None)
    unrecorded: list[str] = []
    finish = journal.finish
    calls = 0

    async def finish_after_a_lock(local_id: str, state: Any, **fields: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:  # the send went out; now someone else holds the journal
            locker.execute("BEGIN IMMEDIATE")
            unrecorded.append(local_id)
        await finish(local_id, state, **fields)

    monkeypatch.setattr(journal, "finish", finish_after_a_lock)
    sender = BatchSender(client, concurrency=4, key="k", journal=journal)
    seen: list[str] = []

    async def consume() -> None:
        async for outcome in sender.stream(sends(sandbox, numbers)):
            assert outcome.local_id is not None
            seen.append(outcome.local_id)

    with pytest.raises(BulkSendError, match=r"stayed locked .* 0\.2 s") as caught:
        await asyncio.wait_for(consume(), 30)
    locker.execute("ROLLBACK")
    locker.close()
    await journal.close()
    error = caught.value
    assert unrecorded
    assert unrecorded[0] in error.inflight
    assert unrecorded[0] not in seen  # no outcome was given for it: it stays in flight
    assert not set(error.inflight) & set(seen)
    assert f"{len(error.inflight)} send(s) this run claimed stay in flight" in str(error)
    async with Journal(path) as book:
        for local_id in error.inflight:
            entry = await book.get(local_id)
            assert entry is not None
            assert entry.state == "inflight"
    delivered = len(sandbox.ledger)
    assert delivered < len(numbers)
    expire_leases(path)  # the stopped run could not release its lease while locked out
    report = await BatchSender(client, key="k", journal=path).send_all(sends(sandbox, numbers))
    assert report.ok
    assert report.skipped == delivered
    assert_exactly_once(sandbox, numbers)


@pytest.mark.parametrize("option", ["lease_ttl", "busy_timeout"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), True, "5"])
def test_journal_timing_options_are_validated(option: str, value: object) -> None:
    """Non-positive, non-finite or non-numeric timings are refused at construction."""
    with pytest.raises(RequestValidationError, match=option):
        Journal(**{option: value})  # type: ignore[arg-type]
