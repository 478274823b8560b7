"""The bulk journal in Redis: a job that can resume on any machine that reaches the server.

Same contract as the SQLite :class:`~heymarket_async.bulk.Journal`: a send is committed as
``inflight`` before its first byte leaves; a job holds a lease while it runs, so two live
runs never claim the same send; a run whose holder died is taken over once its lease
expired. Every operation that reads and writes is one Lua script (atomic on the server),
and every lease time is the server's ``TIME``, so the machines' clocks do not matter.

Layout of a journal (``namespace``; every key carries the hash tag ``{namespace}`` so a
journal lives on one cluster slot):

- ``sends``: hash ``local_id`` -> the entry (compact JSON); ``counts``: entries per state.
- ``leases``: hash job -> the lease; ``runs``: hash run id -> the run (job, owner, ending);
  ``run-numbers``: run id -> a small number used by the recipient bookkeeping.
- ``chunks``: hash broadcast send ``local_id`` -> the chunk; ``chunk-ids`` and ``members``:
  chunk number -> send ``local_id`` / its phones (comma-joined).
- ``recipients:<job>``: hash phone -> ``run`` or ``run:chunk`` (numbers: a few bytes each).
- ``meta``: the journal's mark and counters; ``jobs``: the jobs seen.

Nothing expires by itself (an expired key would let a rerun send again): call
:meth:`RedisJournal.expire` once a campaign is over, or :meth:`RedisJournal.delete`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, cast
from urllib.parse import urlsplit

try:
    import redis.asyncio as aioredis
    from redis.asyncio.connection import parse_url
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        'heymarket_async.redis needs the redis extra: pip install "heymarket-async[redis]"'
    ) from exc

from .._config import DEFAULT_LEASE_TTL
from ..bulk._journal import (
    ChunkRecord,
    JournalEntry,
    JournalStore,
    Lease,
    LeaseScope,
    _check_seconds,
    _Holding,
    _utc,
    default_owner,
    ensure_holding,
)
from ..errors import BulkSendError, RequestValidationError

logger = logging.getLogger("heymarket_async.bulk")

DEFAULT_NAMESPACE: Final = "heymarket:journal"
DEFAULT_TIMEOUT: Final = 5.0
MARK: Final = "heymarket-journal 1"
"""What ``meta.mark`` holds: the journal's format (another value is refused)."""

_NAMESPACE = re.compile(r"[A-Za-z0-9._:/-]{1,100}")
_BATCH = 500  # phones per script call: bounded work per atomic step

# Shared Lua: the server's clock (or the caller's, for tests), and JSON without nulls.
_PRELUDE = """
local function stamp(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function load(raw)
  if not raw then return nil end
  return cjson.decode(raw)
end
local function count(counts, state, delta)
  if state then redis.call('HINCRBY', counts, state, delta) end
end
"""

# KEYS: leases, runs, jobs. ARGV: job, owner, ttl, run_id, now.
_ACQUIRE = (
    _PRELUDE
    + """
local now = stamp(ARGV[5])
local held = load(redis.call('HGET', KEYS[1], ARGV[1]))
if held and held.o ~= ARGV[2] and held.x > now then
  return {'held', cjson.encode(held), tostring(now)}
end
local lease = {o = ARGV[2], a = now, h = now, x = now + tonumber(ARGV[3])}
if ARGV[4] ~= '' then lease.r = ARGV[4] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(lease))
redis.call('SADD', KEYS[3], ARGV[1])
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[4]) == 0 then
  redis.call('HSET', KEYS[2], ARGV[4], cjson.encode({j = ARGV[1], o = ARGV[2], s = now}))
end
local previous = ''
if held and held.o ~= ARGV[2] then previous = cjson.encode(held) end
return {'ok', cjson.encode(lease), tostring(now), previous}
"""
)

# KEYS: leases. ARGV: job, owner, ttl, now.
_RENEW = (
    _PRELUDE
    + """
local now = stamp(ARGV[4])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local held = load(raw)
if not held or held.o ~= ARGV[2] then
  return {'lost', raw or '', tostring(now)}
end
held.h = now
held.x = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(held))
return {'ok', cjson.encode(held), tostring(now)}
"""
)

# KEYS: leases, runs. ARGV: job, owner, ending, run ids...
_RELEASE = (
    _PRELUDE
    + """
local now = stamp('')
local held = load(redis.call('HGET', KEYS[1], ARGV[1]))
if held and held.o == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
for i = 4, #ARGV do
  local run = load(redis.call('HGET', KEYS[2], ARGV[i]))
  if run and not run.e then
    run.e = now
    run.d = ARGV[3]
    redis.call('HSET', KEYS[2], ARGV[i], cjson.encode(run))
  end
end
return 1
"""
)

# KEYS: sends, counts, leases. ARGV: local_id, run_id, now, job, owner, ttl.
_CLAIM = (
    _PRELUDE
    + """
local now = stamp(ARGV[3])
if ARGV[4] ~= '' then
  local raw = redis.call('HGET', KEYS[3], ARGV[4])
  local held = load(raw)
  if not held or held.o ~= ARGV[5] then
    return {'lost', raw or '', tostring(now)}
  end
  if held.x <= now then
    -- Expired but not taken over: extend it, so nobody takes over while this send flies.
    held.h = now
    held.x = now + tonumber(ARGV[6])
    redis.call('HSET', KEYS[3], ARGV[4], cjson.encode(held))
  end
end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local prior = load(raw)
if prior and (prior.s == 'sent' or prior.r == ARGV[2]) then
  return {'prior', raw, tostring(prior.f)}
end
local entry = {s = 'inflight', r = ARGV[2], f = now, u = now}
if prior then
  entry.f = prior.f
  entry.m = prior.m
  entry.n = prior.n
  count(KEYS[2], prior.s, -1)
end
count(KEYS[2], 'inflight', 1)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return {'claimed', raw or '', tostring(entry.f)}
"""
)

# KEYS: sends, counts. ARGV: local_id, state, message_id, error, run_id.
# Never undo a `sent`; `failed` only from the run that holds the entry.
_FINISH = (
    _PRELUDE
    + """
local entry = load(redis.call('HGET', KEYS[1], ARGV[1]))
if not entry or entry.s == 'sent' then return 0 end
if ARGV[2] ~= 'sent' and entry.r ~= ARGV[5] then return 0 end
count(KEYS[2], entry.s, -1)
count(KEYS[2], ARGV[2], 1)
entry.s = ARGV[2]
entry.m = nil
entry.e = nil
-- Ids stay strings: cjson keeps only 14 significant digits of a number.
if ARGV[3] ~= '' then entry.m = ARGV[3] end
if ARGV[4] ~= '' then entry.e = ARGV[4] end
entry.u = stamp('')
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return 1
"""
)

# KEYS: recipients of the job, run-numbers, meta, chunk-ids, sends. ARGV: run_id, phones...
_RECIPIENT_STATES = """
local run = redis.call('HGET', KEYS[2], ARGV[1])
local found = {}
for i = 2, #ARGV do
  local mark = redis.call('HGET', KEYS[1], ARGV[i])
  if mark then
    local owner, chunk = string.match(mark, '^(%d+):?(%d*)$')
    local state = nil
    if chunk and chunk ~= '' then
      local send = redis.call('HGET', KEYS[4], chunk)
      if send then
        local entry = redis.call('HGET', KEYS[5], send)
        if entry then state = cjson.decode(entry).s end
      end
    end
    if state == 'sent' then
      table.insert(found, ARGV[i]); table.insert(found, 'sent')
    elseif run and owner == run then
      table.insert(found, ARGV[i]); table.insert(found, 'duplicate')
    end
  end
end
return found
"""

# The run's number (assigned on first use). KEYS: run-numbers, meta. ARGV[1]: run_id.
_RUN_NUMBER = """
local function run_number(numbers, meta, run_id)
  local n = redis.call('HGET', numbers, run_id)
  if not n then
    n = tostring(redis.call('HINCRBY', meta, 'runs', 1))
    redis.call('HSET', numbers, run_id, n)
  end
  return n
end
"""

# KEYS: recipients of the job, run-numbers, meta, jobs. ARGV: job, run_id, phones...
_CLAIM_RECIPIENTS = (
    _RUN_NUMBER
    + """
local run = run_number(KEYS[2], KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], run) end
return 1
"""
)

# KEYS: recipients of the job, run-numbers, meta, jobs, chunks, chunk-ids, members.
# ARGV: job, run_id, send_local_id, list_local_id, size, first batch (1/0), phones...
_RECORD_CHUNK = (
    _RUN_NUMBER
    + """
local run = run_number(KEYS[2], KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
local chunk = redis.call('HGET', KEYS[5], ARGV[3])
local n
if chunk then
  n = tostring(cjson.decode(chunk).n)
else
  n = tostring(redis.call('HINCRBY', KEYS[3], 'chunks', 1))
  redis.call('HSET', KEYS[5], ARGV[3],
    cjson.encode({j = ARGV[1], l = ARGV[4], z = tonumber(ARGV[5]), n = tonumber(n)}))
  redis.call('HSET', KEYS[6], n, ARGV[3])
end
local phones = {}
for i = 7, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], run .. ':' .. n)
  table.insert(phones, ARGV[i])
end
local joined = table.concat(phones, ',')
local members = redis.call('HGET', KEYS[7], n)
-- The first batch states the members (a chunk's id is a digest of them); later batches add.
if ARGV[6] == '1' or not members or members == '' then
  members = joined
elseif joined ~= '' then
  members = members .. ',' .. joined
end
redis.call('HSET', KEYS[7], n, members)
return n
"""
)

# KEYS: chunks, members, recipients of the job. ARGV: send_local_id, limit.
_CHUNK_PHONES = """
local chunk = redis.call('HGET', KEYS[1], ARGV[1])
if not chunk then return {} end
local n = tostring(cjson.decode(chunk).n)
local members = redis.call('HGET', KEYS[2], n) or ''
local found = {}
local limit = tonumber(ARGV[2])
for phone in string.gmatch(members, '[^,]+') do
  if #found >= limit then break end
  local mark = redis.call('HGET', KEYS[3], phone)
  if mark and string.match(mark, ':(%d+)$') == n then table.insert(found, phone) end
end
return found
"""

# KEYS: chunks. ARGV: send_local_id, list_id.
_SET_CHUNK_LIST = """
local chunk = redis.call('HGET', KEYS[1], ARGV[1])
if not chunk then return 0 end
local record = cjson.decode(chunk)
record.i = ARGV[2]  -- a string: cjson rounds long numbers
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""

# KEYS: chunks, chunk-ids, members, recipients of the job, sends, counts. ARGV: send_local_id.
_RELEASE_CHUNK = """
local chunk = redis.call('HGET', KEYS[1], ARGV[1])
if chunk then
  local n = tostring(cjson.decode(chunk).n)
  local members = redis.call('HGET', KEYS[3], n) or ''
  for phone in string.gmatch(members, '[^,]+') do
    local mark = redis.call('HGET', KEYS[4], phone)
    if mark then
      local run, chunk_of = string.match(mark, '^(%d+):(%d+)$')
      if chunk_of == n then redis.call('HSET', KEYS[4], phone, run) end
    end
  end
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], n)
  redis.call('HDEL', KEYS[3], n)
end
local entry = redis.call('HGET', KEYS[5], ARGV[1])
if entry then
  local state = cjson.decode(entry).s
  if state ~= 'sent' then
    redis.call('HDEL', KEYS[5], ARGV[1])
    redis.call('HINCRBY', KEYS[6], state, -1)
  end
end
return 1
"""

# KEYS: meta. ARGV: mark. The journal's mark, set on first use, checked after.
_MARK = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'none' and kind ~= 'hash' then return {'foreign', kind} end
local mark = redis.call('HGET', KEYS[1], 'mark')
if kind == 'hash' and not mark then return {'foreign', 'hash'} end
if not mark then
  redis.call('HSET', KEYS[1], 'mark', ARGV[1])
  return {'ok', ARGV[1]}
end
if mark ~= ARGV[1] then return {'other', mark} end
return {'ok', mark}
"""


def _safe_url(url: str) -> str:
    """``redis://host:port/db`` without user or password (for messages and reprs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable Redis URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise RequestValidationError("url", "must be a redis://, rediss:// or unix:// URL")
    try:
        parse_url(url)  # what the connection will read: refuse it now, typed
    except ValueError as exc:
        # Never the URL nor redis-py's message about it: it may hold a password.
        raise RequestValidationError(
            "url",
            f"is not a valid Redis URL ({type(exc).__name__}); check its host, port, "
            "database and options",
        ) from None
    return url


def _check_namespace(namespace: object) -> None:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise RequestValidationError(
            "namespace", "must be 1-100 of A-Z a-z 0-9 . _ : / - (it names the keys)"
        )


def _lease_from(job: str, raw: str) -> Lease:
    data = json.loads(raw)
    return Lease(
        job=job,
        owner=str(data["o"]),
        run_id=data.get("r"),
        acquired_at=float(data["a"]),
        heartbeat_at=float(data["h"]),
        expires_at=float(data["x"]),
    )


def _entry_from(local_id: str, raw: str) -> JournalEntry:
    data = json.loads(raw)
    message_id = data.get("m")
    return JournalEntry(
        local_id=local_id,
        state=data["s"],
        run_id=str(data["r"]),
        first_attempt_at=float(data["f"]),
        message_id=None if message_id is None else int(message_id),
        error=data.get("e"),
        note=data.get("n"),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisJournal:
    """A bulk journal in Redis, shared by every process and machine that reaches the server.

    Pass it wherever a journal goes (``BatchSender(journal=...)``, ``broadcast(journal=...)``);
    a job run elsewhere with the same ``key`` on the same namespace resumes it.

    Args:
        url: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS).
        namespace: names the journal (like a SQLite file): one per campaign keeps its
            bookkeeping apart and lets :meth:`delete` or :meth:`expire` drop it at once.
        lease_ttl: seconds a job's lease survives without a heartbeat (the server's clock).
        timeout: seconds each Redis call may take (connect, read) before it fails with
            :class:`~heymarket_async.errors.BulkSendError`.

    Raises:
        RequestValidationError: a bad option.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._url = _check_url(url)
        _check_namespace(namespace)
        self.where = _safe_url(url)
        self.namespace = namespace
        self.lease_ttl = _check_seconds("lease_ttl", lease_ttl)
        self.timeout = _check_seconds("timeout", timeout)
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._holdings: dict[str, _Holding] = {}  # by run id
        self._unsettled: dict[str, set[str]] = {}  # run id -> local_ids claimed, not finished

    def __repr__(self) -> str:
        return f"<RedisJournal {self.where} namespace={self.namespace!r}>"

    @property
    def is_temporary(self) -> bool:
        """Always ``False``: the journal outlives the process."""
        return False

    def key(self, name: str) -> str:
        """The Redis key of one part of the journal (see the module's layout)."""
        return f"{{{self.namespace}}}:{name}"

    def _recipients(self, job: str) -> str:
        return self.key(f"recipients:{job}")

    def _describe(self) -> str:
        return f"the Redis journal {self.namespace!r} at {self.where}"

    # --- connection --------------------------------------------------------------------

    async def open(self) -> RedisJournal:
        """Connect and check the namespace holds this journal's format (idempotent).

        Raises:
            BulkSendError: the server cannot be reached, or the namespace holds something
                else (another application's keys, another journal format).
        """
        if self._client is not None:
            return self
        client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            decode_responses=True,
        )
        scripts = {
            "acquire": _ACQUIRE,
            "renew": _RENEW,
            "release": _RELEASE,
            "claim": _CLAIM,
            "finish": _FINISH,
            "recipient_states": _RECIPIENT_STATES,
            "claim_recipients": _CLAIM_RECIPIENTS,
            "record_chunk": _RECORD_CHUNK,
            "chunk_phones": _CHUNK_PHONES,
            "set_chunk_list": _SET_CHUNK_LIST,
            "release_chunk": _RELEASE_CHUNK,
            "mark": _MARK,
        }
        self._scripts = {name: client.register_script(text) for name, text in scripts.items()}
        try:
            verdict, found = await self._scripts["mark"](
                keys=[self.key("meta")], args=[MARK], client=client
            )
        except BaseException as exc:
            self._scripts = {}
            await client.aclose()
            if isinstance(exc, RedisError):
                raise BulkSendError(
                    f"cannot open {self._describe()}: {type(exc).__name__}: {exc}"
                ) from exc
            raise
        if verdict != "ok":
            await client.aclose()
            what = (
                f"its key {self.key('meta')} is a Redis {found}, not a journal's"
                if verdict == "foreign"
                else f"it holds a journal of another format ({found!r}, this version reads "
                f"{MARK!r})"
            )
            raise BulkSendError(
                f"cannot open {self._describe()}: {what}; give the job its own namespace"
            )
        self._client = client
        return self

    async def close(self) -> None:
        """Disconnect (the journal stays in Redis)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> RedisJournal:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _failure(self, exc: Exception) -> BulkSendError:
        return BulkSendError(f"{self._describe()} failed: {type(exc).__name__}: {exc}")

    async def _script(
        self,
        name: str,
        keys: list[str],
        args: Sequence[object],
    ) -> Any:
        client = self._connected()
        try:
            return await self._scripts[name](keys=keys, args=list(args), client=client)
        except RedisError as exc:
            raise self._failure(exc) from exc

    async def _call(self, name: str, *args: object) -> Any:
        client = self._connected()
        try:
            return await getattr(client, name)(*args)
        except RedisError as exc:
            raise self._failure(exc) from exc

    def _connected(self) -> aioredis.Redis:
        if self._client is None:
            raise BulkSendError(f"{self._describe()} is not open")
        return self._client

    # --- leases ------------------------------------------------------------------------

    async def acquire_lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
        now: float | None = None,
    ) -> Lease:
        """Take the lease of ``job`` atomically (an expired one is taken over).

        Args:
            owner: who takes it (default ``host:pid:random``).
            ttl: seconds it lasts without renewal (default: the journal's ``lease_ttl``).
            run_id: the run's id; its claims then check the lease is still held.
            now: a time to use instead of the server's clock (tests).

        Raises:
            BulkSendError: a live run holds the lease (named, with its expiry), or Redis
                failed.
        """
        owner = default_owner() if owner is None else owner
        ttl = self.lease_ttl if ttl is None else _check_seconds("ttl", ttl)
        started = time.monotonic()
        result = await self._script(
            "acquire",
            [self.key("leases"), self.key("runs"), self.key("jobs")],
            [job, owner, repr(ttl), run_id or "", "" if now is None else repr(now)],
        )
        if result[0] == "held":
            held = _lease_from(job, result[1])
            raise BulkSendError(
                f"job {job!r} is already running: its lease on {self._describe()} is held by "
                f"{held.owner} until {_utc(held.expires_at)} (renewed while that run lives). "
                "Wait for it to finish; if it died, run again once the lease has expired"
            )
        lease = _lease_from(job, result[1])
        if result[3]:
            previous = _lease_from(job, result[3])
            logger.warning(
                "job %r: taking over the lease of %s, which expired at %s; its sends left "
                "in flight are looked up before anything is resent",
                job,
                previous.owner,
                _utc(previous.expires_at),
            )
        if run_id is not None:
            # Expiry on this process's monotonic clock, counted from before the call (never
            # later than the server's).
            self._holdings[run_id] = _Holding(
                job=job, owner=owner, ttl=ttl, expires_at=started + ttl
            )
            self._unsettled.setdefault(run_id, set())
        return lease

    def _holder_text(self, job: str, raw: str, now: float) -> str:
        if not raw:
            return "no run holds it now"
        held = _lease_from(job, raw)
        left = held.expires_at - now
        state = f"in {left:.0f} s" if left > 0 else "expired"
        return f"{held.owner} holds it until {_utc(held.expires_at)} ({state})"

    def _lost_text(self, job: str, raw: str, now: float, ttl: float) -> str:
        return (
            f"job {job!r} lost its lease on {self._describe()}: "
            f"{self._holder_text(job, raw, now)}. This run stalled for longer than the "
            f"lease ({ttl:g} s) and another run took the job over"
        )

    async def renew_lease(
        self, job: str, *, owner: str, ttl: float | None = None, now: float | None = None
    ) -> Lease:
        """Extend ``owner``'s lease of ``job`` by ``ttl`` from the server's now.

        Raises:
            BulkSendError: the lease is no longer ``owner``'s, or Redis failed.
        """
        ttl = self.lease_ttl if ttl is None else _check_seconds("ttl", ttl)
        result = await self._script(
            "renew",
            [self.key("leases")],
            [job, owner, repr(ttl), "" if now is None else repr(now)],
        )
        if result[0] == "lost":
            raise BulkSendError(self._lost_text(job, result[1], float(result[2]), ttl))
        return _lease_from(job, result[1])

    async def _renew_holding(self, holding: _Holding) -> str | None:
        started = time.monotonic()
        result = await self._script(
            "renew", [self.key("leases")], [holding.job, holding.owner, repr(holding.ttl), ""]
        )
        if result[0] == "lost":
            return self._lost_text(holding.job, result[1], float(result[2]), holding.ttl)
        holding.expires_at = started + holding.ttl
        return None

    async def ensure_lease(self, run_id: str) -> None:
        """Before a send goes out: make sure ``run_id`` still holds its job's lease (see
        :func:`heymarket_async.bulk._journal.ensure_holding`).

        Raises:
            BulkSendError: another run took the job over (nothing may be sent), or Redis
                failed.
        """
        await ensure_holding(self, run_id)

    async def release_lease(self, job: str, *, owner: str, ending: str = "completed") -> None:
        """Give up ``owner``'s lease of ``job`` (nothing happens if it is not theirs) and
        record how its run ended."""
        runs = [
            run for run, held in self._holdings.items() if (held.job, held.owner) == (job, owner)
        ]
        try:
            await self._script(
                "release", [self.key("leases"), self.key("runs")], [job, owner, ending, *runs]
            )
        finally:
            for run in runs:
                self._holdings.pop(run, None)
                self._unsettled.pop(run, None)

    async def leases(self) -> list[Lease]:
        """Every lease recorded, live or expired."""
        found = await self._call("hgetall", self.key("leases"))
        return [_lease_from(job, raw) for job, raw in sorted(found.items())]

    def lease(
        self,
        job: str,
        *,
        owner: str | None = None,
        ttl: float | None = None,
        run_id: str | None = None,
    ) -> LeaseScope:
        """Hold ``job``'s lease for the body of an ``async with`` (see
        :meth:`heymarket_async.bulk.Journal.lease`: heartbeat every ``ttl / 3``, the body
        is stopped with :class:`BulkSendError` if another run took the lease over)."""
        return LeaseScope(self, job, owner=owner or default_owner(), ttl=ttl, run_id=run_id)

    # --- sends -------------------------------------------------------------------------

    async def get(self, local_id: str) -> JournalEntry | None:
        """The entry for ``local_id``, or ``None`` if it was never claimed."""
        raw = await self._call("hget", self.key("sends"), local_id)
        return None if raw is None else _entry_from(local_id, raw)

    async def claim(
        self, local_id: str, *, run_id: str, now: float | None = None
    ) -> tuple[JournalEntry | None, float]:
        """Atomically commit ``local_id`` as in flight for this run, unless it is already
        ``sent`` or was claimed earlier in the same run (then nothing is written).

        Returns:
            (the entry as it was before, when the first attempt of this send started).

        Raises:
            BulkSendError: the run's lease was taken over, or Redis failed.
        """
        holding = self._holdings.get(run_id)
        result = await self._script(
            "claim",
            [self.key("sends"), self.key("counts"), self.key("leases")],
            [
                local_id,
                run_id,
                "" if now is None else repr(now),
                "" if holding is None else holding.job,
                "" if holding is None else holding.owner,
                "" if holding is None else repr(holding.ttl),
            ],
        )
        verdict, raw, first = result[0], result[1], float(result[2])
        if verdict == "lost":
            assert holding is not None
            holding.lost = holding.lost or (
                f"job {holding.job!r} lost its lease on {self._describe()}: "
                f"{self._holder_text(holding.job, raw, first)}; this run stopped claiming sends"
            )
            raise BulkSendError(holding.lost)
        prior = _entry_from(local_id, raw) if raw else None
        unsettled = self._unsettled.get(run_id)
        if verdict == "claimed" and unsettled is not None:
            unsettled.add(local_id)
        return prior, first

    async def _in_flight(self, local_ids: list[str]) -> tuple[str, ...]:
        """Which of ``local_ids`` are still in flight (all of them, if Redis cannot say)."""
        if not local_ids:
            return ()
        try:
            raws = await self._call("hmget", self.key("sends"), local_ids)
        except BulkSendError:
            return tuple(local_ids)
        return tuple(
            local_id
            for local_id, raw in zip(local_ids, raws, strict=True)
            if raw is not None and json.loads(raw)["s"] == "inflight"
        )

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
        entry is still ``run_id``'s (see :meth:`Journal.finish`).

        Raises:
            BulkSendError: Redis failed; the entry stays in flight and the next run looks
                it up before sending.
        """
        await self._script(
            "finish",
            [self.key("sends"), self.key("counts")],
            [
                local_id,
                state,
                "" if message_id is None else str(message_id),
                error or "",
                run_id,
            ],
        )
        self._settled(local_id)

    async def counts(self) -> dict[str, int]:
        """How many entries are in each state (kept by every write: O(1))."""
        found = await self._call("hgetall", self.key("counts"))
        return {state: int(n) for state, n in sorted(found.items()) if int(n) > 0}

    # --- broadcast chunks --------------------------------------------------------------

    async def chunks(self, job_key: str) -> list[ChunkRecord]:
        """Every chunk recorded for ``job_key``."""
        found = await self._call("hgetall", self.key("chunks"))
        records = []
        for send_local_id, raw in found.items():
            data = json.loads(raw)
            if data["j"] == job_key:
                records.append(
                    ChunkRecord(
                        send_local_id=send_local_id,
                        list_local_id=str(data["l"]),
                        list_id=None if data.get("i") is None else int(data["i"]),
                        size=int(data["z"]),
                    )
                )
        return sorted(records, key=lambda record: record.send_local_id)

    async def recipient_states(
        self, job_key: str, phones: Sequence[str], *, run_id: str
    ) -> dict[str, Literal["sent", "duplicate"]]:
        """Which of ``phones`` need no new send: ``sent`` by a chunk of this job, or a
        ``duplicate`` of a phone met earlier in this run."""
        found: dict[str, Literal["sent", "duplicate"]] = {}
        keys = [
            self._recipients(job_key),
            self.key("run-numbers"),
            self.key("meta"),
            self.key("chunk-ids"),
            self.key("sends"),
        ]
        for start in range(0, len(phones), _BATCH):
            flat = await self._script(
                "recipient_states", keys, [run_id, *phones[start : start + _BATCH]]
            )
            for phone, mark in zip(flat[::2], flat[1::2], strict=True):
                found[phone] = cast(Literal["sent", "duplicate"], mark)
        return found

    async def claim_recipients(self, job_key: str, phones: Iterable[str], *, run_id: str) -> None:
        """Note ``phones`` as met in this run (not yet in a chunk)."""
        keys = [
            self._recipients(job_key),
            self.key("run-numbers"),
            self.key("meta"),
            self.key("jobs"),
        ]
        batch = list(phones)
        for start in range(0, len(batch), _BATCH):
            await self._script(
                "claim_recipients", keys, [job_key, run_id, *batch[start : start + _BATCH]]
            )

    async def record_chunk(
        self, job_key: str, chunk: ChunkRecord, phones: Sequence[str], *, run_id: str
    ) -> None:
        """Commit a chunk and its members before its list is created."""
        keys = [
            self._recipients(job_key),
            self.key("run-numbers"),
            self.key("meta"),
            self.key("jobs"),
            self.key("chunks"),
            self.key("chunk-ids"),
            self.key("members"),
        ]
        head = [job_key, run_id, chunk.send_local_id, chunk.list_local_id, chunk.size]
        # The first call creates the chunk; later ones (big lists) add members to it.
        for start in range(0, max(len(phones), 1), _BATCH):
            first = "1" if start == 0 else "0"
            await self._script(
                "record_chunk", keys, [*head, first, *phones[start : start + _BATCH]]
            )

    async def _job_of_chunk(self, send_local_id: str) -> str | None:
        raw = await self._call("hget", self.key("chunks"), send_local_id)
        return None if raw is None else str(json.loads(raw)["j"])

    async def chunk_phones(self, send_local_id: str, *, limit: int) -> list[str]:
        """Up to ``limit`` phones of a chunk (those a history lookup may probe)."""
        job = await self._job_of_chunk(send_local_id)
        if job is None:
            return []
        found = await self._script(
            "chunk_phones",
            [self.key("chunks"), self.key("members"), self._recipients(job)],
            [send_local_id, limit],
        )
        return [_text(phone) for phone in found]

    async def set_chunk_list(self, send_local_id: str, list_id: int) -> None:
        """Remember the list created for a chunk."""
        await self._script("set_chunk_list", [self.key("chunks")], [send_local_id, list_id])

    async def release_chunk(self, send_local_id: str) -> None:
        """Forget a chunk that was certainly never sent, so its phones can be re-chunked."""
        job = await self._job_of_chunk(send_local_id)
        await self._script(
            "release_chunk",
            [
                self.key("chunks"),
                self.key("chunk-ids"),
                self.key("members"),
                self._recipients(job or ""),
                self.key("sends"),
                self.key("counts"),
            ],
            [send_local_id],
        )
        self._settled(send_local_id)

    # --- the journal's lifetime --------------------------------------------------------

    async def _all_keys(self) -> list[str]:
        jobs = await self._call("smembers", self.key("jobs"))
        fixed = [
            "meta",
            "jobs",
            "sends",
            "counts",
            "leases",
            "runs",
            "run-numbers",
            "chunks",
            "chunk-ids",
            "members",
        ]
        return [self.key(name) for name in fixed] + [self._recipients(job) for job in jobs]

    async def expire(self, seconds: float) -> None:
        """Drop the whole journal ``seconds`` from now (call it once the campaign is over:
        a rerun after that sends everything again).

        Raises:
            BulkSendError: a live run holds a lease, or Redis failed.
        """
        milliseconds = max(1, int(_check_seconds("seconds", seconds) * 1000))
        await self._refuse_while_running("expire")
        for key in await self._all_keys():
            await self._call("pexpire", key, milliseconds)

    async def delete(self) -> None:
        """Delete the whole journal now (a rerun of its jobs would send everything again).

        Raises:
            BulkSendError: a live run holds a lease, or Redis failed.
        """
        await self._refuse_while_running("delete")
        keys = await self._all_keys()
        await self._call("delete", *keys)

    async def _refuse_while_running(self, action: str) -> None:
        now = float((await self._call("time"))[0])
        live = [lease for lease in await self.leases() if lease.is_live(now)]
        if live:
            raise BulkSendError(
                f"cannot {action} {self._describe()}: job {live[0].job!r} is running (its "
                f"lease is held by {live[0].owner} until {_utc(live[0].expires_at)})"
            )


if TYPE_CHECKING:
    _CONFORMS: type[JournalStore] = RedisJournal
