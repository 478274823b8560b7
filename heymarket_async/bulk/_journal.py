"""The bulk journal: what was about to be sent, and what is known to have been sent.

SQLite in a file, written from one worker thread so the event loop never blocks on disk.
A row is committed as ``inflight`` before the first byte of its send leaves, so a job killed
at any point leaves either nothing (never attempted) or an ``inflight`` row to reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, Literal, TypeVar

import attrs

from ..errors import BulkSendError

T = TypeVar("T")

EntryState = Literal["inflight", "sent", "failed"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sends (
    local_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('inflight', 'sent', 'failed')),
    run_id TEXT NOT NULL,
    first_attempt_at REAL NOT NULL,
    message_id INTEGER,
    error TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS broadcast_chunks (
    send_local_id TEXT PRIMARY KEY,
    job_key TEXT NOT NULL,
    list_local_id TEXT NOT NULL,
    list_id INTEGER,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS broadcast_chunks_by_job ON broadcast_chunks (job_key);
CREATE TABLE IF NOT EXISTS broadcast_recipients (
    job_key TEXT NOT NULL,
    phone TEXT NOT NULL,
    send_local_id TEXT,
    run_id TEXT NOT NULL,
    PRIMARY KEY (job_key, phone)
);
CREATE INDEX IF NOT EXISTS broadcast_recipients_by_chunk ON broadcast_recipients (send_local_id);
"""


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One logical send as the journal knows it."""

    local_id: str
    state: EntryState
    run_id: str
    first_attempt_at: float
    message_id: int | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class ChunkRecord:
    """One list-broadcast chunk of a :func:`broadcast` job."""

    send_local_id: str
    list_local_id: str
    list_id: int | None
    size: int


class Journal:
    """A SQLite journal of sends, opened with :meth:`open` and closed with :meth:`close`.

    Args:
        path: the database file; ``None`` uses a temporary file removed on close (same
            bookkeeping, memory stays flat, but nothing survives the process).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._temporary = path is None
        self.path = Path(path) if path is not None else None
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def is_temporary(self) -> bool:
        """Whether this journal disappears on close (no resuming from it)."""
        return self._temporary

    def __repr__(self) -> str:
        where = "temporary" if self._temporary else str(self.path)
        return f"<Journal {where}>"

    async def open(self) -> Journal:
        """Create or open the database (idempotent)."""
        if self._executor is not None:
            return self
        if self._temporary:
            self._tempdir = tempfile.TemporaryDirectory(prefix="heymarket-journal-")
            self.path = Path(self._tempdir.name) / "journal.sqlite3"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heymarket-journal")
        try:
            await self._run(self._connect)
        except sqlite3.Error as exc:
            await self.close()
            raise BulkSendError(f"cannot open the journal at {self.path}: {exc}") from exc
        return self

    def _connect(self) -> None:
        assert self.path is not None
        connection = sqlite3.connect(self.path, isolation_level=None)
        # WAL + FULL: a committed row survives a killed process and a power cut; a
        # temporary journal needs neither.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={'OFF' if self._temporary else 'FULL'}")
        connection.executescript(_SCHEMA)
        self._connection = connection

    async def close(self) -> None:
        """Flush and close; a temporary journal is deleted."""
        executor, self._executor = self._executor, None
        if executor is not None:
            connection, self._connection = self._connection, None
            if connection is not None:
                await asyncio.get_running_loop().run_in_executor(executor, connection.close)
            executor.shutdown(wait=True)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise BulkSendError("the journal is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise BulkSendError("the journal is not open")
        return self._connection

    def _transaction(self, statements: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = statements(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # --- sends -----------------------------------------------------------------------

    @staticmethod
    def _read_entry(db: sqlite3.Connection, local_id: str) -> JournalEntry | None:
        row = db.execute(
            "SELECT local_id, state, run_id, first_attempt_at, message_id, error "
            "FROM sends WHERE local_id = ?",
            (local_id,),
        ).fetchone()
        if row is None:
            return None
        return JournalEntry(
            local_id=row[0],
            state=row[1],
            run_id=row[2],
            first_attempt_at=row[3],
            message_id=row[4],
            error=row[5],
        )

    async def get(self, local_id: str) -> JournalEntry | None:
        """The entry for ``local_id``, or ``None`` if it was never claimed."""
        return await self._run(lambda: self._read_entry(self._db(), local_id))

    async def claim(
        self, local_id: str, *, run_id: str, now: float | None = None
    ) -> tuple[JournalEntry | None, float]:
        """Atomically commit ``local_id`` as in flight for this run, unless there is no need.

        Nothing is written when the entry is already ``sent`` or was claimed earlier in the
        same run (a duplicate); the caller sees why in the returned prior entry.

        Returns:
            (the entry as it was before, when the first attempt of this send started).
        """
        stamp = time.time() if now is None else now

        def write(db: sqlite3.Connection) -> tuple[JournalEntry | None, float]:
            prior = self._read_entry(db, local_id)
            if prior is not None and (prior.state == "sent" or prior.run_id == run_id):
                return prior, prior.first_attempt_at
            db.execute(
                "INSERT INTO sends (local_id, state, run_id, first_attempt_at, updated_at) "
                "VALUES (?, 'inflight', ?, ?, ?) ON CONFLICT (local_id) DO UPDATE SET "
                "state = 'inflight', run_id = excluded.run_id, error = NULL, "
                "updated_at = excluded.updated_at",
                (local_id, run_id, stamp, stamp),
            )
            return prior, prior.first_attempt_at if prior is not None else stamp

        return await self._run(functools.partial(self._transaction, write))

    async def finish(
        self,
        local_id: str,
        state: Literal["sent", "failed"],
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the end of a send: ``sent`` (with its message id) or ``failed``."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE sends SET state = ?, message_id = ?, error = ?, updated_at = ? "
                "WHERE local_id = ?",
                (state, message_id, error, time.time(), local_id),
            )

        await self._run(functools.partial(self._transaction, write))

    async def counts(self) -> dict[str, int]:
        """How many entries are in each state (for reports and tests)."""

        def read() -> dict[str, int]:
            rows = self._db().execute("SELECT state, COUNT(*) FROM sends GROUP BY state")
            return dict(rows)

        return await self._run(read)

    # --- broadcast chunks --------------------------------------------------------------

    async def chunks(self, job_key: str) -> list[ChunkRecord]:
        """Every chunk recorded for ``job_key``."""

        def read() -> list[ChunkRecord]:
            rows = self._db().execute(
                "SELECT send_local_id, list_local_id, list_id, size FROM broadcast_chunks "
                "WHERE job_key = ?",
                (job_key,),
            )
            return [
                ChunkRecord(send_local_id=r[0], list_local_id=r[1], list_id=r[2], size=r[3])
                for r in rows
            ]

        return await self._run(read)

    async def recipient_states(
        self, job_key: str, phones: Sequence[str], *, run_id: str
    ) -> dict[str, Literal["sent", "duplicate"]]:
        """Which of ``phones`` need no new send: already ``sent`` by a chunk of this job, or
        a ``duplicate`` of a phone met earlier in this run."""

        def read() -> dict[str, Literal["sent", "duplicate"]]:
            db = self._db()
            found: dict[str, Literal["sent", "duplicate"]] = {}
            for start in range(0, len(phones), 500):
                batch = phones[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT r.phone, r.run_id, s.state FROM broadcast_recipients r "  # noqa: S608 - placeholders only
                    f"LEFT JOIN sends s ON s.local_id = r.send_local_id "
                    f"WHERE r.job_key = ? AND r.phone IN ({marks})",
                    (job_key, *batch),
                )
                for phone, row_run, state in rows:
                    if state == "sent":
                        found[phone] = "sent"
                    elif row_run == run_id:
                        found[phone] = "duplicate"
            return found

        return await self._run(read)

    async def claim_recipients(self, job_key: str, phones: Iterable[str], *, run_id: str) -> None:
        """Note ``phones`` as met in this run (not yet in a chunk)."""
        rows = [(job_key, phone, run_id) for phone in phones]

        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO broadcast_recipients (job_key, phone, run_id) VALUES (?, ?, ?) "
                "ON CONFLICT (job_key, phone) DO UPDATE SET run_id = excluded.run_id, "
                "send_local_id = NULL",
                rows,
            )

        await self._run(functools.partial(self._transaction, write))

    async def record_chunk(
        self, job_key: str, chunk: ChunkRecord, phones: Sequence[str], *, run_id: str
    ) -> None:
        """Commit a chunk and its members before its list is created."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO broadcast_chunks (send_local_id, job_key, list_local_id, size) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (send_local_id) DO NOTHING",
                (chunk.send_local_id, job_key, chunk.list_local_id, chunk.size),
            )
            db.executemany(
                "INSERT INTO broadcast_recipients (job_key, phone, send_local_id, run_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (job_key, phone) DO UPDATE SET "
                "send_local_id = excluded.send_local_id, run_id = excluded.run_id",
                [(job_key, phone, chunk.send_local_id, run_id) for phone in phones],
            )

        await self._run(functools.partial(self._transaction, write))

    async def chunk_phones(self, send_local_id: str, *, limit: int) -> list[str]:
        """Up to ``limit`` phones of a chunk (those a history lookup may probe)."""

        def read() -> list[str]:
            rows = self._db().execute(
                "SELECT phone FROM broadcast_recipients WHERE send_local_id = ? LIMIT ?",
                (send_local_id, limit),
            )
            return [row[0] for row in rows]

        return await self._run(read)

    async def set_chunk_list(self, send_local_id: str, list_id: int) -> None:
        """Remember the list created for a chunk."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE broadcast_chunks SET list_id = ? WHERE send_local_id = ?",
                (list_id, send_local_id),
            )

        await self._run(functools.partial(self._transaction, write))

    async def release_chunk(self, send_local_id: str) -> None:
        """Forget a chunk that was certainly never sent, so its phones can be re-chunked."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE broadcast_recipients SET send_local_id = NULL WHERE send_local_id = ?",
                (send_local_id,),
            )
            db.execute("DELETE FROM broadcast_chunks WHERE send_local_id = ?", (send_local_id,))
            db.execute("DELETE FROM sends WHERE local_id = ? AND state != 'sent'", (send_local_id,))

        await self._run(functools.partial(self._transaction, write))


@contextlib.asynccontextmanager
async def opened(journal: Journal | str | os.PathLike[str] | None) -> AsyncIterator[Journal]:
    """Open a journal given as an object, a path, or ``None`` (temporary); close what we opened."""
    if isinstance(journal, Journal):
        yield await journal.open()
        return
    own = Journal(journal)
    await own.open()
    try:
        yield own
    finally:
        await own.close()
