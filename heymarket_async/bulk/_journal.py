"""The bulk journal: what was about to be sent, and what is known to have been sent.

SQLite in a file, written from one worker thread so the event loop never blocks on disk.
A row is committed as ``inflight`` before the first byte of its send leaves, so a job killed
at any point leaves either nothing (never attempted) or an ``inflight`` row to reconcile.

A job holds a lease on its journal while it runs (one row per job, taken and renewed in
``BEGIN IMMEDIATE`` transactions), so two live runs of one job can never both claim sends;
a lease whose holder died expires and the next run takes over. Every SQLite failure
(corrupt file, another application's database, a lock held past the busy timeout) surfaces
as :class:`~heymarket_async.errors.BulkSendError` naming the file and what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import secrets
import socket
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from .._config import DEFAULT_LEASE_TTL
from ..errors import BulkSendError, RequestValidationError

T = TypeVar("T")

logger = logging.getLogger("heymarket_async.bulk")

EntryState = Literal["inflight", "sent", "failed"]
EntryStatus = Literal["sent", "failed", "inflight", "unknown"]
"""What ``show`` reports: ``unknown`` is an ``inflight`` entry that its run, which ended
normally, could not decide; ``inflight`` ones were left by a run that was interrupted, failed
or is still running."""

DEFAULT_BUSY_TIMEOUT: Final = 5.0
"""Seconds a journal call waits for a lock held by another connection before failing."""
KEYLESS_JOB: Final = "(no key)"
"""The lease name of a ``BatchSender`` without a key (no job key can contain spaces)."""

# PRAGMA application_id ("HMjl") marks the file as ours; user_version is the schema version.
APPLICATION_ID: Final = 0x484D6A6C
SCHEMA_VERSION: Final = 1

_V0_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "sends": (
        "local_id",
        "state",
        "run_id",
        "first_attempt_at",
        "message_id",
        "error",
        "updated_at",
    ),
    "broadcast_chunks": ("send_local_id", "job_key", "list_local_id", "list_id", "size"),
    "broadcast_recipients": ("job_key", "phone", "send_local_id", "run_id"),
}
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    **_V0_COLUMNS,
    "sends": (*_V0_COLUMNS["sends"], "note"),
    "leases": ("job", "owner", "run_id", "acquired_at", "heartbeat_at", "expires_at"),
    "runs": ("run_id", "job", "owner", "started_at", "ended_at", "ending"),
}

_V0_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS sends (
        local_id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('inflight', 'sent', 'failed')),
        run_id TEXT NOT NULL,
        first_attempt_at REAL NOT NULL,
        message_id INTEGER,
        error TEXT,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS broadcast_chunks (
        send_local_id TEXT PRIMARY KEY,
        job_key TEXT NOT NULL,
        list_local_id TEXT NOT NULL,
        list_id INTEGER,
        size INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS broadcast_chunks_by_job ON broadcast_chunks (job_key)",
    """CREATE TABLE IF NOT EXISTS broadcast_recipients (
        job_key TEXT NOT NULL,
        phone TEXT NOT NULL,
        send_local_id TEXT,
        run_id TEXT NOT NULL,
        PRIMARY KEY (job_key, phone)
    )""",
    "CREATE INDEX IF NOT EXISTS broadcast_recipients_by_chunk "
    "ON broadcast_recipients (send_local_id)",
)
# Version 0 (no user_version) -> 1: a note on hand-settled entries, leases, and runs.
_V1_MIGRATION: Final = (
    "ALTER TABLE sends ADD COLUMN note TEXT",
    """CREATE TABLE leases (
        job TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        run_id TEXT,
        acquired_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        owner TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        ending TEXT
    )""",
    "CREATE INDEX sends_by_run ON sends (run_id)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    "PRAGMA user_version = 1",
)


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One logical send as the journal knows it.

    Attributes:
        note: how an entry was settled by hand (``heymarket journal resolve``), if it was.
    """

    local_id: str
    state: EntryState
    run_id: str
    first_attempt_at: float
    message_id: int | None = None
    error: str | None = None
    note: str | None = None


@attrs.frozen(kw_only=True)
class ChunkRecord:
    """One list-broadcast chunk of a :func:`broadcast` job."""

    send_local_id: str
    list_local_id: str
    list_id: int | None
    size: int


@attrs.frozen(kw_only=True)
class Lease:
    """Who runs a job on a journal, until when (``time.time()`` seconds).

    Attributes:
        owner: ``host:pid:random``, unique to one run.
    """

    job: str
    owner: str
    run_id: str | None
    acquired_at: float
    heartbeat_at: float
    expires_at: float

    def is_live(self, now: float | None = None) -> bool:
        """Whether the lease has not expired (its holder renewed it in time)."""
        return self.expires_at > (time.time() if now is None else now)


@attrs.frozen(kw_only=True)
class EntryView:
    """One entry as ``heymarket journal show`` reports it.

    Attributes:
        job: the job key (``None`` when the journal predates job tracking).
        status: ``sent``, ``failed``, ``inflight`` or ``unknown``.
        reason: why it is in that state, and what the next run does about it.
        recipients: phones covered, for a list-broadcast chunk.
    """

    local_id: str
    job: str | None
    status: EntryStatus
    reason: str
    run_id: str
    first_attempt_at: float
    updated_at: float
    message_id: int | None = None
    recipients: int | None = None
    list_id: int | None = None


@attrs.frozen(kw_only=True)
class JobSummary:
    """How many entries of one job are in each status."""

    job: str | None
    sent: int = 0
    failed: int = 0
    inflight: int = 0
    unknown: int = 0


@attrs.frozen(kw_only=True)
class JournalOverview:
    """What a journal holds: per-job counts, leases, and the selected entries.

    Attributes:
        more: entries that matched but were left out by the limit.
    """

    path: str
    schema_version: int
    jobs: tuple[JobSummary, ...]
    leases: tuple[Lease, ...]
    entries: tuple[EntryView, ...]
    more: int = 0


def default_owner() -> str:
    """A lease owner id unique to this run: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _utc(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _check_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise RequestValidationError(name, f"must be a positive number of seconds, got {value!r}")
    return float(value)


@attrs.define
class _Holding:
    """A lease this process holds, as the heartbeat and the claims see it."""

    job: str
    owner: str
    ttl: float
    # When the lease lapses on this process's time.monotonic(), counted from before the
    # write that set it: a wall clock stepping back must not make it look fresh.
    expires_at: float
    lost: str | None = None


@runtime_checkable
class JournalStore(Protocol):
    """What :class:`BatchSender`, :func:`broadcast` and :func:`opened` need of a journal.

    Two implementations: :class:`Journal` (a SQLite file, one machine) and
    ``heymarket_async.redis.RedisJournal`` (a job that can resume on any machine). Every
    method raises :class:`~heymarket_async.errors.BulkSendError` when the store fails.
    """

    @property
    def is_temporary(self) -> bool:
        """Whether the journal disappears on close (no resuming from it)."""
        ...

    async def open(self) -> JournalStore:
        """Connect (idempotent); returns the journal itself."""
        ...

    async def close(self) -> None:
        """Disconnect (a temporary journal is deleted)."""
        ...

    def lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
    ) -> contextlib.AbstractAsyncContextManager[Lease]:
        """Hold ``job``'s lease for an ``async with`` block (heartbeat, release on exit)."""
        ...

    async def acquire_lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
        now: float | None = None,
    ) -> Lease:
        """Take ``job``'s lease atomically; refuse a live holder by name."""
        ...

    async def renew_lease(
        self, job: str, *, owner: str, ttl: float | None = None, now: float | None = None
    ) -> Lease:
        """Extend ``owner``'s lease; refuse when another run took it over."""
        ...

    async def release_lease(self, job: str, *, owner: str, ending: str = "completed") -> None:
        """Give up ``owner``'s lease of ``job`` and record how the run ended."""
        ...

    async def leases(self) -> list[Lease]:
        """Every lease recorded, live or expired."""
        ...

    async def ensure_lease(self, run_id: str) -> None:
        """Before a send goes out: refuse (``BulkSendError``) when ``run_id`` no longer
        holds its job's lease; cheap while the lease is comfortably ahead of expiry."""
        ...

    async def get(self, local_id: str) -> JournalEntry | None:
        """The entry for ``local_id``, or ``None`` if it was never claimed."""
        ...

    async def claim(
        self, local_id: str, *, run_id: str, now: float | None = None
    ) -> tuple[JournalEntry | None, float]:
        """Commit ``local_id`` as in flight before its first byte leaves (see
        :meth:`Journal.claim`)."""
        ...

    async def finish(
        self,
        local_id: str,
        state: Literal["sent", "failed"],
        *,
        run_id: str,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the end of a send (see :meth:`Journal.finish`)."""
        ...

    async def counts(self) -> dict[str, int]:
        """How many entries are in each state."""
        ...

    async def chunks(self, job_key: str) -> list[ChunkRecord]:
        """Every list-broadcast chunk recorded for ``job_key``."""
        ...

    async def recipient_states(
        self, job_key: str, phones: Sequence[str], *, run_id: str
    ) -> dict[str, Literal["sent", "duplicate"]]:
        """Which of ``phones`` need no new send."""
        ...

    async def claim_recipients(self, job_key: str, phones: Iterable[str], *, run_id: str) -> None:
        """Note ``phones`` as met in this run."""
        ...

    async def record_chunk(
        self, job_key: str, chunk: ChunkRecord, phones: Sequence[str], *, run_id: str
    ) -> None:
        """Commit a chunk and its members before its list is created."""
        ...

    async def chunk_phones(self, send_local_id: str, *, limit: int) -> list[str]:
        """Up to ``limit`` phones of a chunk."""
        ...

    async def set_chunk_list(self, send_local_id: str, list_id: int) -> None:
        """Remember the list created for a chunk."""
        ...

    async def release_chunk(self, send_local_id: str) -> None:
        """Forget a chunk that was certainly never sent."""
        ...


class _LeaseHost(Protocol):
    """What :class:`LeaseScope` needs of a journal (both implementations provide it)."""

    _holdings: dict[str, _Holding]
    _unsettled: dict[str, set[str]]

    async def acquire_lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
        now: float | None = None,
    ) -> Lease: ...

    async def release_lease(self, job: str, *, owner: str, ending: str = "completed") -> None: ...

    async def _renew_holding(self, holding: _Holding) -> str | None: ...

    async def _in_flight(self, local_ids: list[str]) -> tuple[str, ...]: ...

    def _describe(self) -> str: ...


async def ensure_holding(host: _LeaseHost, run_id: str) -> None:
    """``ensure_lease`` of both journals: free while the locally known expiry is more than a
    third of the ttl ahead; closer to it (or past it, after a stall) the lease is renewed in
    the store, which refuses when another run took the job over. Nothing for a run that
    holds no lease.

    Raises:
        BulkSendError: another run took the job over (nothing may be sent), or the store
            failed.
    """
    holding = host._holdings.get(run_id)
    if holding is None:
        return
    if holding.lost is not None:
        raise BulkSendError(holding.lost)
    if holding.expires_at - time.monotonic() > holding.ttl / 3:
        return
    lost = await host._renew_holding(holding)
    if lost is not None:
        holding.lost = lost
        raise BulkSendError(lost)


class Journal:
    """A SQLite journal of sends, opened with :meth:`open` and closed with :meth:`close`.

    Args:
        path: the database file; ``None`` uses a temporary file removed on close (same
            bookkeeping, memory stays flat, but nothing survives the process).
        lease_ttl: seconds a job's lease survives without a heartbeat; a run that dies is
            taken over this long after its last heartbeat.
        busy_timeout: seconds a call waits for another connection's lock before failing
            with :class:`~heymarket_async.errors.BulkSendError`.
        read_only: open an existing journal for reading only (no schema upgrade, no writes).

    Raises:
        RequestValidationError: a bad option.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        read_only: bool = False,
    ) -> None:
        if read_only and path is None:
            raise RequestValidationError("read_only", "a temporary journal cannot be read-only")
        self._temporary = path is None
        self.path = Path(path) if path is not None else None
        self.lease_ttl = _check_seconds("lease_ttl", lease_ttl)
        self.busy_timeout = _check_seconds("busy_timeout", busy_timeout)
        self.read_only = read_only
        self.schema_version = SCHEMA_VERSION
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._holdings: dict[str, _Holding] = {}  # by run id
        self._unsettled: dict[str, set[str]] = {}  # run id -> local_ids claimed, not finished

    @property
    def is_temporary(self) -> bool:
        """Whether this journal disappears on close (no resuming from it)."""
        return self._temporary

    def __repr__(self) -> str:
        where = "temporary" if self._temporary else str(self.path)
        return f"<Journal {where}>"

    async def open(self) -> Journal:
        """Create or open the database (idempotent).

        Raises:
            BulkSendError: the file is not a usable journal (corrupt, another application's
                database, a newer schema) or stayed locked past ``busy_timeout``.
        """
        if self._executor is not None:
            return self
        if self._temporary:
            self._tempdir = tempfile.TemporaryDirectory(prefix="heymarket-journal-")
            self.path = Path(self._tempdir.name) / "journal.sqlite3"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heymarket-journal")
        try:
            await self._run(self._connect)
        except BaseException:
            await self.close()
            raise
        return self

    def _connect(self) -> None:
        assert self.path is not None
        if self.read_only:
            target, uri = self.path.resolve().as_uri() + "?mode=ro", True
        else:
            target, uri = str(self.path), False
        connection = sqlite3.connect(
            target, isolation_level=None, timeout=self.busy_timeout, uri=uri
        )
        try:
            if not self.read_only:
                # WAL + FULL: a committed row survives a killed process and a power cut; a
                # temporary journal needs neither.
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={'OFF' if self._temporary else 'FULL'}")
            self.schema_version = self._prepare_schema(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _prepare_schema(self, db: sqlite3.Connection) -> int:
        """Check the file is a journal this version can use; create or upgrade it."""
        if self.read_only:
            return self._check_schema(db)
        db.execute("BEGIN IMMEDIATE")  # two processes opening a new file: one creates it
        try:
            version = self._check_schema(db)
            if version == SCHEMA_VERSION:
                db.execute("COMMIT")
                return version
            for statement in (*_V0_SCHEMA, *_V1_MIGRATION):
                db.execute(statement)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return SCHEMA_VERSION

    def _check_schema(self, db: sqlite3.Connection) -> int:
        """The schema version of the file (0 for an empty file or the first layout).

        Raises:
            BulkSendError: another application's file, a newer schema, or tables whose
                columns are not the journal's.
        """
        application = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if application not in {0, APPLICATION_ID} or (application == 0 and version != 0):
            raise BulkSendError(
                f"{self.path} is not a heymarket journal: it belongs to another application "
                f"(SQLite application_id {application:#x}, user_version {version}); give the "
                "job its own journal file"
            )
        if application == APPLICATION_ID and version != SCHEMA_VERSION:
            raise BulkSendError(
                f"{self.path} has journal schema version {version}, which this version of "
                f"heymarket-async cannot use (it reads version {SCHEMA_VERSION}); "
                "use the heymarket-async version that wrote it"
            )
        tables = {
            name: tuple(
                column for (column,) in db.execute("SELECT name FROM pragma_table_info(?)", (name,))
            )
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        expected = _COLUMNS if version == SCHEMA_VERSION else _V0_COLUMNS
        foreign = sorted(set(tables) - set(expected))
        if foreign:
            raise BulkSendError(
                f"{self.path} is not a heymarket journal: it holds other tables "
                f"({', '.join(foreign)}); give the job its own journal file"
            )
        for name, columns in tables.items():
            if set(columns) != set(expected[name]):
                raise BulkSendError(
                    f"{self.path} is not a heymarket journal: its table {name!r} has columns "
                    f"({', '.join(columns)}), expected ({', '.join(expected[name])})"
                )
        if version == SCHEMA_VERSION and len(tables) != len(expected):
            missing = ", ".join(sorted(set(expected) - set(tables)))
            raise BulkSendError(f"{self.path} is a damaged journal: tables {missing} are missing")
        if self.read_only and not tables:
            raise BulkSendError(f"{self.path} holds no journal (an empty database)")
        return int(version)

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
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        except BulkSendError:
            raise
        except Exception as exc:
            # E.g. OverflowError for an integer wider than SQLite's 64 bits.
            raise BulkSendError(
                f"the journal at {self.path} could not store or read a value: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _failure(self, exc: sqlite3.Error) -> BulkSendError:
        """A ``BulkSendError`` saying which file failed and how, for any SQLite error."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            what = (
                f"stayed locked by another connection for more than {self.busy_timeout:g} s "
                "(another program is writing to it)"
            )
        elif name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            what = "is corrupted or not a SQLite database"
        elif name.startswith("SQLITE_FULL"):
            what = "cannot grow: the disk is full"
        elif name.startswith("SQLITE_READONLY"):
            what = "cannot be written (read-only file or directory)"
        elif name.startswith("SQLITE_CANTOPEN"):
            what = "cannot be opened (missing directory, or no permission)"
        elif name.startswith("SQLITE_IOERR"):
            what = "could not be read or written (I/O error)"
        elif "no such table" in text or "no such column" in text or "has no column" in text:
            what = "does not have the journal's tables (not a heymarket journal)"
        else:
            what = "failed"
        if self._connection is None:
            return BulkSendError(f"cannot open the journal at {self.path}: it {what} ({text})")
        return BulkSendError(f"the journal at {self.path} {what}: {text}")

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise BulkSendError("the journal is not open")
        return self._connection

    def _transaction(self, statements: Callable[[sqlite3.Connection], T]) -> T:
        if self.read_only:
            raise BulkSendError(f"the journal at {self.path} is open read-only")
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = statements(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
        return result

    # --- leases ------------------------------------------------------------------------

    @staticmethod
    def _read_lease(db: sqlite3.Connection, job: str) -> Lease | None:
        row = db.execute(
            "SELECT job, owner, run_id, acquired_at, heartbeat_at, expires_at FROM leases "
            "WHERE job = ?",
            (job,),
        ).fetchone()
        if row is None:
            return None
        return Lease(
            job=row[0],
            owner=row[1],
            run_id=row[2],
            acquired_at=row[3],
            heartbeat_at=row[4],
            expires_at=row[5],
        )

    def _holder_text(self, lease: Lease | None, now: float) -> str:
        if lease is None:
            return "no run holds it now"
        left = lease.expires_at - now
        state = f"in {left:.0f} s" if left > 0 else "expired"
        return f"{lease.owner} holds it until {_utc(lease.expires_at)} ({state})"

    async def acquire_lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
        now: float | None = None,
    ) -> Lease:
        """Take the lease of ``job``, atomically; a lease whose holder stopped renewing it
        (expired) is taken over.

        Args:
            owner: who takes it (default: ``host:pid:random``, see :func:`default_owner`).
            ttl: seconds it lasts without renewal (default: the journal's ``lease_ttl``).
            run_id: the run's id; its claims then check the lease is still held, and
                :meth:`overview` can tell which run left an entry in flight.

        Raises:
            BulkSendError: a live run holds the lease (the message names it and when its
                lease expires), or the journal failed.
        """
        owner = default_owner() if owner is None else owner
        ttl = self.lease_ttl if ttl is None else _check_seconds("ttl", ttl)
        stamp = time.time() if now is None else now

        def write(db: sqlite3.Connection) -> Lease:
            held = self._read_lease(db, job)
            if held is not None and held.owner != owner and held.is_live(stamp):
                raise BulkSendError(
                    f"job {job!r} is already running: its lease on the journal at {self.path} "
                    f"is held by {held.owner} until {_utc(held.expires_at)} (renewed while that "
                    "run lives). Wait for it to finish; if it died, run again once the lease "
                    "has expired"
                )
            if held is not None and held.owner != owner:
                logger.warning(
                    "job %r: taking over the lease of %s, which expired at %s; its sends left "
                    "in flight are looked up before anything is resent",
                    job,
                    held.owner,
                    _utc(held.expires_at),
                )
            lease = Lease(
                job=job,
                owner=owner,
                run_id=run_id,
                acquired_at=stamp,
                heartbeat_at=stamp,
                expires_at=stamp + ttl,
            )
            db.execute(
                "INSERT INTO leases (job, owner, run_id, acquired_at, heartbeat_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, "
                "run_id = excluded.run_id, acquired_at = excluded.acquired_at, "
                "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
                (job, owner, run_id, stamp, stamp, stamp + ttl),
            )
            if run_id is not None:
                db.execute(
                    "INSERT INTO runs (run_id, job, owner, started_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id) DO NOTHING",
                    (run_id, job, owner, stamp),
                )
            return lease

        started = time.monotonic()
        lease = await self._run(functools.partial(self._transaction, write))
        if run_id is not None:
            self._holdings[run_id] = _Holding(
                job=job, owner=owner, ttl=ttl, expires_at=started + ttl
            )
            self._unsettled.setdefault(run_id, set())
        return lease

    def _renew(self, job: str, owner: str, ttl: float, stamp: float) -> Lease | str:
        """Renew in one transaction: the renewed lease, or why it is no longer ours."""

        def write(db: sqlite3.Connection) -> Lease | str:
            held = self._read_lease(db, job)
            if held is None or held.owner != owner:
                return (
                    f"job {job!r} lost its lease on the journal at {self.path}: "
                    f"{self._holder_text(held, stamp)}. This run stalled for longer than the "
                    f"lease ({ttl:g} s) and another run took the job over"
                )
            db.execute(
                "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE job = ?",
                (stamp, stamp + ttl, job),
            )
            return attrs.evolve(held, heartbeat_at=stamp, expires_at=stamp + ttl)

        return self._transaction(write)

    async def renew_lease(
        self, job: str, *, owner: str, ttl: float | None = None, now: float | None = None
    ) -> Lease:
        """Extend ``owner``'s lease of ``job`` by ``ttl`` from now.

        Raises:
            BulkSendError: the lease is no longer ``owner``'s (another run took over after
                it expired), or the journal failed.
        """
        ttl = self.lease_ttl if ttl is None else _check_seconds("ttl", ttl)
        stamp = time.time() if now is None else now
        renewed = await self._run(lambda: self._renew(job, owner, ttl, stamp))
        if isinstance(renewed, str):
            raise BulkSendError(renewed)
        return renewed

    def _describe(self) -> str:
        return f"the journal at {self.path}"

    async def _renew_holding(self, holding: _Holding) -> str | None:
        """The heartbeat's renewal: ``None`` when renewed, else why the lease is lost."""
        stamp, started = time.time(), time.monotonic()
        renewed = await self._run(
            functools.partial(self._renew, holding.job, holding.owner, holding.ttl, stamp)
        )
        if isinstance(renewed, str):
            return renewed
        holding.expires_at = started + holding.ttl
        return None

    async def release_lease(self, job: str, *, owner: str, ending: str = "completed") -> None:
        """Give up ``owner``'s lease of ``job`` (nothing happens if it is not theirs) and
        record how its run ended (``completed``, ``cancelled``, or why it stopped)."""
        holdings = [
            run for run, held in self._holdings.items() if (held.job, held.owner) == (job, owner)
        ]
        stamp = time.time()

        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM leases WHERE job = ? AND owner = ?", (job, owner))
            db.execute(
                "UPDATE runs SET ended_at = ?, ending = ? WHERE job = ? AND owner = ? "
                "AND ended_at IS NULL",
                (stamp, ending, job, owner),
            )

        try:
            await self._run(functools.partial(self._transaction, write))
        finally:
            for run in holdings:
                self._holdings.pop(run, None)
                self._unsettled.pop(run, None)

    async def leases(self) -> list[Lease]:
        """Every lease recorded, live or expired."""

        def read() -> list[Lease]:
            return [] if self.schema_version < 1 else self._all_leases(self._db())

        return await self._run(read)

    def lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
    ) -> LeaseScope:
        """Hold ``job``'s lease for the body of an ``async with``: acquired on entry,
        renewed every ``ttl / 3`` by a heartbeat task, released on exit (cancellation too).

        If the lease is lost (this run stalled past its expiry and another run took over),
        the body is cancelled and the block raises :class:`BulkSendError`; the run's claims
        are refused from that moment. A ``BulkSendError`` from the journal inside the body
        comes out as one ``BulkSendError`` whose ``inflight`` lists the run's unsettled
        claims.

        Raises:
            BulkSendError: on entry, another live run holds the lease.
        """
        return LeaseScope(self, job, owner=owner or default_owner(), ttl=ttl, run_id=run_id)

    def _check_holding(self, db: sqlite3.Connection, run_id: str, stamp: float) -> None:
        """Inside a claim's transaction: refuse unless this run still holds its job's lease."""
        holding = self._holdings.get(run_id)
        if holding is None:
            return
        held = self._read_lease(db, holding.job)
        if held is None or held.owner != holding.owner:
            holding.lost = holding.lost or (
                f"job {holding.job!r} lost its lease on the journal at {self.path}: "
                f"{self._holder_text(held, stamp)}; this run stopped claiming sends"
            )
            raise BulkSendError(holding.lost)
        if held.expires_at <= stamp:
            # Expired but not taken over: extend it, so no run takes over while this send is
            # in flight.
            db.execute(
                "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE job = ?",
                (stamp, stamp + holding.ttl, holding.job),
            )

    async def ensure_lease(self, run_id: str) -> None:
        """Before a send goes out: make sure ``run_id`` still holds its job's lease (see
        :func:`ensure_holding`).

        Raises:
            BulkSendError: another run took the job over (nothing may be sent), or the
                journal failed.
        """
        await ensure_holding(self, run_id)

    # --- sends -----------------------------------------------------------------------

    @staticmethod
    def _read_entry(db: sqlite3.Connection, local_id: str) -> JournalEntry | None:
        row = db.execute(
            "SELECT local_id, state, run_id, first_attempt_at, message_id, error FROM sends "
            "WHERE local_id = ?",
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

        def read() -> JournalEntry | None:
            entry = self._read_entry(self._db(), local_id)
            if entry is None or self.schema_version < 1:
                return entry
            (note,) = (
                self._db()
                .execute("SELECT note FROM sends WHERE local_id = ?", (local_id,))
                .fetchone()
            )
            return attrs.evolve(entry, note=note)

        return await self._run(read)

    async def claim(
        self, local_id: str, *, run_id: str, now: float | None = None
    ) -> tuple[JournalEntry | None, float]:
        """Atomically commit ``local_id`` as in flight for this run, unless there is no need.

        Nothing is written when the entry is already ``sent`` or was claimed earlier in the
        same run (a duplicate); the caller sees why in the returned prior entry.

        Returns:
            (the entry as it was before, when the first attempt of this send started).

        Raises:
            BulkSendError: the run's lease was taken over by another run, or the journal
                failed.
        """
        stamp = time.time() if now is None else now

        def write(db: sqlite3.Connection) -> tuple[JournalEntry | None, float]:
            self._check_holding(db, run_id, stamp)
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

        prior, first_attempt = await self._run(functools.partial(self._transaction, write))
        unsettled = self._unsettled.get(run_id)
        if unsettled is not None and (
            prior is None or (prior.state != "sent" and prior.run_id != run_id)
        ):
            unsettled.add(local_id)
        return prior, first_attempt

    async def _in_flight(self, local_ids: list[str]) -> tuple[str, ...]:
        """Which of ``local_ids`` the journal still holds in flight (all of them, if it
        cannot be read: they may be)."""

        def read() -> tuple[str, ...]:
            db = self._db()
            return tuple(
                local_id
                for local_id in local_ids
                if db.execute(
                    "SELECT 1 FROM sends WHERE local_id = ? AND state = 'inflight'", (local_id,)
                ).fetchone()
            )

        try:
            return await self._run(read)
        except BulkSendError:
            return tuple(local_ids)

    def _settled(self, local_id: str) -> None:
        for unsettled in self._unsettled.values():
            unsettled.discard(local_id)

    async def finish(
        self,
        local_id: str,
        state: Literal["sent", "failed"],
        *,
        run_id: str,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the end of a send: ``sent`` (with its message id) or ``failed``.

        A ``sent`` entry is never changed again, and ``failed`` is written only while the
        entry is still ``run_id``'s: a run whose job was taken over must not erase what the
        newer run sent.

        Raises:
            BulkSendError: the journal failed; the entry stays in flight, and the next run
                looks it up before sending.
        """

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE sends SET state = ?, message_id = ?, error = ?, updated_at = ? "
                "WHERE local_id = ? AND state != 'sent' AND (? = 'sent' OR run_id = ?)",
                (state, message_id, error, time.time(), local_id, state, run_id),
            )

        await self._run(functools.partial(self._transaction, write))
        self._settled(local_id)

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
        self._settled(send_local_id)

    # --- inspecting and settling by hand -----------------------------------------------

    def _entries_sql(self) -> str:
        """Every entry with its job, its run's ending, any lease, and its reported status."""
        if self.schema_version < 1:
            return (
                "SELECT s.local_id, s.state, s.run_id, s.first_attempt_at, s.updated_at, "
                "s.message_id, s.error, NULL AS note, c.job_key AS job, NULL AS run_owner, "
                "NULL AS ending, c.size, c.list_id, NULL AS lease_owner, "
                "NULL AS lease_expires, s.state AS status FROM sends s "
                "LEFT JOIN broadcast_chunks c ON c.send_local_id = s.local_id"
            )
        return (
            "SELECT s.local_id, s.state, s.run_id, s.first_attempt_at, s.updated_at, "
            "s.message_id, s.error, s.note, COALESCE(c.job_key, r.job) AS job, "
            "r.owner AS run_owner, r.ending, c.size, c.list_id, l.owner AS lease_owner, "
            "l.expires_at AS lease_expires, "
            # A run that ended normally but left an entry in flight could not decide it.
            "CASE WHEN s.state = 'inflight' AND r.ending = 'completed' THEN 'unknown' "
            "ELSE s.state END AS status FROM sends s "
            "LEFT JOIN broadcast_chunks c ON c.send_local_id = s.local_id "
            "LEFT JOIN runs r ON r.run_id = s.run_id "
            "LEFT JOIN leases l ON l.run_id = s.run_id"
        )

    async def overview(
        self,
        *,
        job: str | None = None,
        local_ids: Sequence[str] = (),
        statuses: Iterable[EntryStatus] | None = None,
        limit: int | None = 100,
        now: float | None = None,
    ) -> JournalOverview:
        """What the journal holds: counts per job, the leases, and the entries selected by
        ``job``, ``local_ids`` and ``statuses`` (at most ``limit``, oldest first)."""
        stamp = time.time() if now is None else now
        wanted = None if statuses is None else sorted(set(statuses))

        def read() -> JournalOverview:
            db = self._db()
            base = self._entries_sql()
            where: list[str] = []
            params: list[object] = []
            if job is not None:
                where.append("job = ?")
                params.append(job)
            summaries: dict[str | None, dict[str, int]] = {}
            counted = f"SELECT job, status, COUNT(*) FROM ({base}) "  # noqa: S608 - fixed SQL
            counted += ("WHERE " + " AND ".join(where) if where else "") + " GROUP BY job, status"
            for job_name, status, count in db.execute(counted, params):
                summaries.setdefault(job_name, {})[status] = count
            if local_ids:
                where.append(f"local_id IN ({','.join('?' * len(local_ids))})")
                params.extend(local_ids)
            if wanted is not None:
                where.append(f"status IN ({','.join('?' * len(wanted))})")
                params.extend(wanted)
            selected = f"SELECT * FROM ({base}) "  # noqa: S608 - placeholders only
            selected += ("WHERE " + " AND ".join(where) if where else "") + " ORDER BY updated_at"
            rows = db.execute(selected, params).fetchall()
            shown = rows if limit is None else rows[:limit]
            return JournalOverview(
                path=str(self.path),
                schema_version=self.schema_version,
                jobs=tuple(
                    JobSummary(job=name, **counts)
                    for name, counts in sorted(summaries.items(), key=lambda i: i[0] or "")
                ),
                leases=(),
                entries=tuple(_entry_view(row, stamp) for row in shown),
                more=len(rows) - len(shown),
            )

        found = await self._run(read)
        leases = tuple(lease for lease in await self.leases() if job in {None, lease.job})
        return attrs.evolve(found, leases=leases)

    async def resolve(
        self,
        local_ids: Sequence[str],
        *,
        outcome: Literal["sent", "unsent"],
        now: float | None = None,
    ) -> int:
        """Settle in-flight or unknown entries by hand, in one transaction.

        ``sent``: recorded as sent (no message id); no run sends them again.
        ``unsent``: recorded as failed, so the next run sends them again (twice, if they
        had in fact been sent).

        Returns:
            how many entries changed.

        Raises:
            BulkSendError: an entry does not exist or is not in flight, a live run holds the
                lease of its job, or the journal failed; nothing changed then.
        """
        if outcome not in {"sent", "unsent"}:
            raise RequestValidationError("outcome", "must be 'sent' or 'unsent'")
        stamp = time.time() if now is None else now
        note = f"marked {outcome} by hand on {_utc(stamp)} (heymarket journal resolve)"
        base = self._entries_sql()

        def write(db: sqlite3.Connection) -> int:
            live = [lease for lease in self._all_leases(db) if lease.is_live(stamp)]
            for local_id in local_ids:
                row = db.execute(
                    f"SELECT local_id, state, job FROM ({base}) WHERE local_id = ?",  # noqa: S608
                    (local_id,),
                ).fetchone()
                if row is None:
                    raise BulkSendError(f"the journal at {self.path} has no entry {local_id!r}")
                if row[1] != "inflight":
                    raise BulkSendError(
                        f"entry {local_id!r} is {row[1]}, not in flight: only in-flight and "
                        "unknown entries can be resolved"
                    )
                holders = [lease for lease in live if row[2] in {None, lease.job}]
                if holders:
                    raise BulkSendError(
                        f"job {holders[0].job!r} is running (its lease is held by "
                        f"{holders[0].owner} until {_utc(holders[0].expires_at)}); "
                        "stop it, or let it finish, before resolving its entries"
                    )
                if outcome == "sent":
                    db.execute(
                        "UPDATE sends SET state = 'sent', message_id = NULL, error = NULL, "
                        "note = ?, updated_at = ? WHERE local_id = ?",
                        (note, stamp, local_id),
                    )
                else:
                    db.execute(
                        "UPDATE sends SET state = 'failed', error = ?, note = ?, updated_at = ? "
                        "WHERE local_id = ?",
                        (f"{note}; the next run sends it again", note, stamp, local_id),
                    )
            return len(local_ids)

        return await self._run(functools.partial(self._transaction, write))

    def _all_leases(self, db: sqlite3.Connection) -> list[Lease]:
        jobs = [job for (job,) in db.execute("SELECT job FROM leases ORDER BY job")]
        return [lease for job in jobs if (lease := self._read_lease(db, job)) is not None]


def _entry_view(row: sqlite3.Row | tuple[object, ...], now: float) -> EntryView:
    (
        local_id,
        state,
        run_id,
        first_attempt_at,
        updated_at,
        message_id,
        error,
        note,
        job,
        run_owner,
        ending,
        size,
        list_id,
        lease_owner,
        lease_expires,
        status,
    ) = row
    if state == "sent":
        if note:
            reason = str(note)
        elif message_id is None:
            reason = "sent (its answer was unreadable: message id unknown)"
        else:
            reason = f"sent, message id {message_id}"
    elif state == "failed":
        reason = f"not sent ({error or note or 'no error recorded'}); a rerun sends it"
    elif lease_owner is not None and isinstance(lease_expires, float) and lease_expires > now:
        reason = f"being sent now by {lease_owner}"
    elif status == "unknown":
        reason = "its run could not decide it (history did not confirm it); a rerun looks again"
    elif ending is not None:
        reason = f"its run stopped ({ending}) before recording it; a rerun looks it up first"
    elif run_owner is not None:
        reason = f"its run ({run_owner}) died before recording it; a rerun looks it up first"
    else:
        reason = "left in flight by an earlier run; a rerun looks it up first"
    return EntryView(
        local_id=str(local_id),
        job=None if job is None else str(job),
        status=status,  # type: ignore[arg-type]
        reason=reason,
        run_id=str(run_id),
        first_attempt_at=float(first_attempt_at),  # type: ignore[arg-type]
        updated_at=float(updated_at),  # type: ignore[arg-type]
        message_id=message_id,  # type: ignore[arg-type]
        recipients=size,  # type: ignore[arg-type]
        list_id=list_id,  # type: ignore[arg-type]
    )


def _only_bulk_errors(exc: BaseException | None) -> BulkSendError | None:
    """The first ``BulkSendError`` if ``exc`` is one, or a group of nothing else."""
    if isinstance(exc, BulkSendError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(BulkSendError)
        if matched is not None and rest is None:
            leaf: BaseException = matched
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            return leaf if isinstance(leaf, BulkSendError) else None
    return None


def _with_inflight(message: str, inflight: Sequence[str]) -> str:
    if not inflight:
        return message
    shown = ", ".join(inflight[:5]) + (", ..." if len(inflight) > 5 else "")
    return (
        f"{message}. {len(inflight)} send(s) this run claimed stay in flight in the journal "
        f"(outcome unknown or not recorded): the next run looks each up in history before "
        f"sending anything ({shown})"
    )


class LeaseScope:
    """The ``async with`` of :meth:`Journal.lease`; yields the :class:`Lease`."""

    def __init__(
        self, journal: _LeaseHost, job: str, *, owner: str, ttl: float | None, run_id: str | None
    ) -> None:
        self.job = job
        self.owner = owner
        self._journal = journal
        self._ttl = ttl
        self._run_id = run_id
        self._task: asyncio.Task[object] | None = None
        self._holding: _Holding | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._cancelling = 0
        self._cancel_sent = False
        self._closing = False

    async def __aenter__(self) -> Lease:
        task = asyncio.current_task()
        if task is None:
            raise BulkSendError("a journal lease must be held from a task")
        started = time.monotonic()
        lease = await self._journal.acquire_lease(
            self.job, owner=self.owner, ttl=self._ttl, run_id=self._run_id
        )
        ttl = lease.expires_at - lease.acquired_at
        holding = None if self._run_id is None else self._journal._holdings.get(self._run_id)
        self._holding = holding or _Holding(
            job=self.job, owner=self.owner, ttl=ttl, expires_at=started + ttl
        )
        self._task = task
        self._cancelling = task.cancelling()
        self._heartbeat = asyncio.create_task(self._beat(), name=f"heymarket-lease:{self.job}")
        return lease

    def _unsettled(self) -> list[str]:
        return sorted(self._journal._unsettled.get(self._run_id or "", ()))

    async def _beat(self) -> None:
        holding = self._holding
        assert holding is not None
        journal = self._journal
        while True:
            await asyncio.sleep(holding.ttl / 3)
            if holding.lost is not None:  # a claim found the lease taken over
                break
            try:
                lost = await journal._renew_holding(holding)
            except BulkSendError as exc:
                if time.monotonic() < holding.expires_at:
                    logger.warning("job %r: could not renew its lease (%s)", holding.job, exc)
                    continue
                holding.lost = (
                    f"job {holding.job!r} could not renew its lease on "
                    f"{journal._describe()} before it expired ({exc}); this run stopped so "
                    "that no other run sends alongside it"
                )
                break
            if lost is not None:
                holding.lost = lost
                break
        if not self._closing and self._task is not None:
            self._cancel_sent = True
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing = True
        assert self._task is not None
        assert self._heartbeat is not None
        assert self._holding is not None
        self._heartbeat.cancel()
        await asyncio.wait([self._heartbeat])
        cancelled_outside = isinstance(exc, asyncio.CancelledError)
        if self._cancel_sent:
            # Take back our own cancellation (as asyncio.timeout does); another one stays.
            pending = self._task.uncancel() > self._cancelling
            cancelled_outside = cancelled_outside and pending
        lost = self._holding.lost
        if cancelled_outside:
            ending = "cancelled"
        elif lost is not None:
            ending = "lost its lease"
        elif exc is None:
            ending = "completed"
        else:
            ending = f"stopped: {type(exc).__name__}: {exc}"[:300]
        failure = _only_bulk_errors(exc)
        stopping = lost is not None or failure is not None
        # Read before the release forgets them; only a run that stops needs the list.
        inflight = await self._journal._in_flight(self._unsettled()) if stopping else ()
        try:
            await self._journal.release_lease(self.job, owner=self.owner, ending=ending)
        except BulkSendError as release_failure:
            logger.warning(
                "job %r: could not release its lease (%s); the next run can take the job "
                "over once the lease expires",
                self.job,
                release_failure,
            )
        if cancelled_outside or not isinstance(exc, Exception | asyncio.CancelledError | None):
            return  # cancellation and KeyboardInterrupt go on as they are
        if lost is not None:
            raise BulkSendError(_with_inflight(lost, inflight), inflight=inflight) from exc
        if failure is not None and (inflight or failure is not exc):
            raise BulkSendError(_with_inflight(str(failure), inflight), inflight=inflight) from exc


@contextlib.asynccontextmanager
async def opened(
    journal: JournalStore | str | os.PathLike[str] | None,
) -> AsyncIterator[JournalStore]:
    """Open a journal given as an object (SQLite or Redis), a path (SQLite), or ``None``
    (temporary SQLite); close what we opened."""
    if journal is not None and not isinstance(journal, str | os.PathLike):
        yield await journal.open()
        return
    own = Journal(journal)
    await own.open()
    try:
        yield own
    finally:
        await own.close()
