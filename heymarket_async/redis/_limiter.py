"""A rate limiter shared through Redis by every process that names the same ``name``.

The rules are those of :class:`heymarket_async._ratelimit.SlidingWindowLimiter`, held for
all holders at once: a request counts from its admission until a window after it finished;
each lane keeps a steady pace with a small burst; bulk never takes the interactive share;
a 429 seen by one process pauses all of them. Every decision is one Lua script run
atomically by Redis on Redis's own clock (``TIME``), so the clocks of the machines do not
matter and no two holders can both take the last slot.

Keys (one hash slot per ``name``, so a Redis Cluster works too)::

    <prefix>:{<name>}:done         finished requests, scored by when they finished
    <prefix>:{<name>}:flight       requests in flight, scored by when they stop counting if
                                   their holder dies without releasing them
    <prefix>:{<name>}:bulk-done    the same two for the bulk lane alone
    <prefix>:{<name>}:bulk-flight
    <prefix>:{<name>}:pace         per-lane pacing state (the next slot, GCRA)
    <prefix>:{<name>}:pause        the shared pause after a 429 (expires with it)

Times in scripts are microseconds on the Redis server's clock.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import uuid
from collections.abc import Coroutine
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from .._ratelimit import (
    DEFAULT_BURST_RATIO,
    DEFAULT_INTERACTIVE_SHARE,
    DEFAULT_MAX_PAUSE,
    LANES,
    WINDOW_PADDING_RATIO,
    Lane,
    bulk_capacity,
    capped_wait,
    check_interactive_share,
    check_lane,
)
from ..errors import (
    ClientClosedError,
    ConfigurationError,
    PacingTimeoutError,
    RateLimiterUnavailableError,
)

__all__ = ["RedisRateLimiter"]

logger = logging.getLogger("heymarket_async.redis")

DEFAULT_KEY_PREFIX: Final = "heymarket:ratelimit"
DEFAULT_HOLD: Final = 60.0
DEFAULT_COMMAND_TIMEOUT: Final = 2.0
DEFAULT_MAX_OUTAGE_WAIT: Final = 10.0
_FIRST_RETRY: Final = 0.05
_LAST_RETRY: Final = 0.5
_MICRO: Final = 1_000_000

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS: done, flight, bulk-done, bulk-flight, pace, pause
# ARGV: lane, limit, bulk capacity, window, interval, tolerance, hold, member, key ttl (ms)
# Returns {1, 0} when admitted (the member is then in flight), else {0, microseconds that
# must pass at least before it could be}.
_ACQUIRE = (
    _NOW
    + """
local lane = ARGV[1]
local window = tonumber(ARGV[4])
local paused = tonumber(redis.call('GET', KEYS[6]) or '0')
if paused > now then return {0, math.ceil(paused - now)} end

local function delay(done_key, flight_key, capacity)
  redis.call('ZREMRANGEBYSCORE', done_key, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', flight_key, '-inf', now)
  local done = redis.call('ZCARD', done_key)
  local must_leave = redis.call('ZCARD', flight_key) + done - capacity + 1
  if must_leave <= 0 then return 0 end
  if must_leave <= done then
    local entry = redis.call('ZRANGE', done_key, must_leave - 1, must_leave - 1, 'WITHSCORES')
    return tonumber(entry[2]) + window - now
  end
  -- Only a request in flight can make room, a window after it finishes (or once its
  -- holder is presumed gone).
  local first = redis.call('ZRANGE', flight_key, 0, 0, 'WITHSCORES')
  return math.min(window, tonumber(first[2]) - now)
end

local wait = delay(KEYS[1], KEYS[2], tonumber(ARGV[2]))
if lane == 'bulk' then wait = math.max(wait, delay(KEYS[3], KEYS[4], tonumber(ARGV[3]))) end
local next_at = tonumber(redis.call('HGET', KEYS[5], lane) or '0')
wait = math.max(wait, next_at - tonumber(ARGV[6]) - now)
if wait > 0 then return {0, math.ceil(wait)} end

redis.call('HSET', KEYS[5], lane, math.max(next_at, now) + tonumber(ARGV[5]))
local lost_at = now + tonumber(ARGV[7]) + window
redis.call('ZADD', KEYS[2], lost_at, ARGV[8])
if lane == 'bulk' then redis.call('ZADD', KEYS[4], lost_at, ARGV[8]) end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[9]) end
return {1, 0}
"""
)

# KEYS: done, flight, bulk-done, bulk-flight; ARGV: lane, member, key ttl (ms).
# The request is over: it counts from now until a window has passed.
_RELEASE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[2])
if ARGV[1] == 'bulk' then
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('ZADD', KEYS[3], now, ARGV[2])
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return {1}
"""
)

# KEYS: pause; ARGV: pause (microseconds). Extends (never shortens) the shared pause, which
# expires by itself when it ends. Returns the microseconds it still lasts.
_PAUSE = (
    _NOW
    + """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local ends = math.max(current, now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], ends, 'PX', math.max(1, math.ceil((ends - now) / 1000)))
return {math.ceil(ends - now)}
"""
)


class RedisRateLimiter:
    """A :class:`~heymarket_async._ratelimit.RateLimiter` shared by every process (on any
    machine) that uses the same Redis ``url`` and ``name``: together they keep at most
    ``limit_per_minute`` requests in any sliding window.

    Pass it to one client: ``HeymarketClient(..., rate_limiter=RedisRateLimiter(url,
    name="team-7"))``; the client closes it when it closes. Create one per client (any
    number of limiters may share a ``name``).

    Redis down: the first :meth:`acquire` (or :meth:`check`) raises
    :class:`~heymarket_async.errors.ConfigurationError` when Redis cannot be reached. Later,
    a request waits for Redis up to its deadline (at most ``max_outage_wait``) and then
    fails with :class:`~heymarket_async.errors.RateLimiterUnavailableError`; it is never sent
    without a slot. Once Redis has been unreachable for ``max_outage_wait``, each later
    request tries it once and fails at once, until Redis answers again.

    Args:
        url: a redis-py URL (``redis://``, ``rediss://``, ``unix://``).
        name: what the holders share, e.g. the API key's team; one budget per name.
        limit_per_minute: requests per ``period`` (500, the API's limit).
        interactive_share: the fraction of the limit the bulk lane leaves to interactive
            requests (default 0.2; 0 lets bulk use everything).
        period: the server's window in seconds (60; shorter only for tests).
        padding: seconds added to the window against clock skew (default 1 s per minute).
        burst: requests a lane may take back to back after a quiet spell (default 10 % of
            its share, at least 1).
        max_pause: longest shared pause after a 429, whatever its ``Retry-After`` says.
        hold: seconds after admission a request may still reach the server; a request whose
            holder died without releasing it counts for ``hold`` plus a window.
        command_timeout: seconds one Redis command may take (connect included).
        max_outage_wait: the longest a request waits for an unreachable Redis, whatever its
            deadline, counted from when the outage began.
        key_prefix: the start of every key the limiter writes.

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        limit_per_minute: int = 500,
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        period: float = 60.0,
        padding: float | None = None,
        burst: int | None = None,
        max_pause: float = DEFAULT_MAX_PAUSE,
        hold: float = DEFAULT_HOLD,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        max_outage_wait: float = DEFAULT_MAX_OUTAGE_WAIT,
        key_prefix: str = DEFAULT_KEY_PREFIX,
    ) -> None:
        _check_options(
            name=name,
            limit=limit_per_minute,
            burst=burst,
            padding=padding,
            seconds={
                "period": period,
                "max_pause": max_pause,
                "hold": hold,
                "command_timeout": command_timeout,
                "max_outage_wait": max_outage_wait,
            },
        )
        try:
            share = check_interactive_share(interactive_share)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        try:
            self._redis = aioredis.Redis.from_url(
                url,
                socket_connect_timeout=command_timeout,
                socket_timeout=command_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except (ValueError, RedisError) as exc:
            raise ConfigurationError(f"invalid Redis URL: {type(exc).__name__}") from None
        kwargs = self._redis.connection_pool.connection_kwargs
        # Where, for messages: never the URL itself (it may hold a password).
        self._where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.name: Final = name
        self.limit: Final = limit_per_minute
        self.interactive_share: Final = share
        self.window: Final = period + (
            period * WINDOW_PADDING_RATIO if padding is None else padding
        )
        self.max_pause: Final = max_pause
        self.hold: Final = hold
        self.command_timeout: Final = command_timeout
        self.max_outage_wait: Final = max_outage_wait
        burst = burst if burst is not None else max(1, int(limit_per_minute * DEFAULT_BURST_RATIO))
        self._capacity: Final[dict[Lane, int]] = {
            "interactive": limit_per_minute,
            "bulk": bulk_capacity(limit_per_minute, share),
        }
        self._interval: Final = {lane: self.window / self._capacity[lane] for lane in LANES}
        self._tolerance: Final = {
            lane: (min(burst, self._capacity[lane]) - 1) * self._interval[lane] for lane in LANES
        }
        base = f"{key_prefix}:{{{name}}}"
        self._keys: Final = [
            f"{base}:{part}" for part in ("done", "flight", "bulk-done", "bulk-flight", "pace")
        ]
        self._pause_key: Final = f"{base}:pause"
        self._ttl_ms: Final = math.ceil((hold + 2 * self.window) * 1000)
        self._acquire_script = self._redis.register_script(_ACQUIRE)
        self._release_script = self._redis.register_script(_RELEASE)
        self._pause_script = self._redis.register_script(_PAUSE)
        self._token = uuid.uuid4().hex[:16]
        self._serial = itertools.count()
        # This process's requests in flight, per lane: any one of them stands for the
        # request being released (they count alike).
        self._members: dict[Lane, collections.deque[str]] = {
            lane: collections.deque() for lane in LANES
        }
        self._lane_locks: dict[Lane, asyncio.Lock] = {lane: asyncio.Lock() for lane in LANES}
        self._start_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self._dropped = False
        self._closing = asyncio.Event()
        self._local_pause_until = -math.inf
        # When Redis stopped answering (loop time), for every request of this limiter: once
        # an outage is max_outage_wait old, each later request tries once and fails at once,
        # so a job's remaining sends end in moments, not one max_outage_wait each.
        self._outage_since: float | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<RedisRateLimiter name={self.name!r} limit={self.limit} at {self._where}>"

    # --- start-up ------------------------------------------------------------------------

    async def check(self) -> None:
        """Make sure Redis answers (the first :meth:`acquire` does this by itself).

        Raises:
            ConfigurationError: Redis cannot be reached or refused the connection.
        """
        async with self._start_lock:
            if self._started:
                return
            try:
                async with asyncio.timeout(self.command_timeout):
                    await self._redis.ping()
            except (RedisError, OSError, TimeoutError) as exc:
                raise ConfigurationError(
                    f"the shared rate limiter cannot reach Redis at {self._where} "
                    f"({type(exc).__name__}); start Redis or fix the URL"
                ) from None
            self._started = True

    # --- acquire / release ---------------------------------------------------------------

    async def acquire(self, *, deadline: float | None = None, lane: Lane = "interactive") -> None:
        """Wait until one more request of ``lane`` fits for every holder, then count it.

        Args:
            deadline: an absolute time on the event loop's clock (``time.monotonic``).
            lane: ``"interactive"`` (may use the whole limit) or ``"bulk"``.

        Raises:
            PacingTimeoutError: the wait for a slot would pass ``deadline``.
            RateLimiterUnavailableError: Redis kept failing (each script may take
                ``command_timeout``) until ``deadline`` or ``max_outage_wait``; nothing may
                be sent.
            ConfigurationError: Redis could not be reached when the limiter started.
            ClientClosedError: the limiter was closed (its client closed) while waiting.
        """
        check_lane(lane)
        if self._closed:
            raise ClientClosedError("this client was closed; create a new HeymarketClient")
        if not self._started:
            await self.check()
        loop = asyncio.get_running_loop()
        started = loop.time()
        lock = self._lane_locks[lane]
        # One poller per lane and process: the others queue here in arrival order.
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            allowed = (deadline or started) - started
            raise PacingTimeoutError(wait=allowed + self._interval[lane], allowed=allowed) from None
        try:
            await self._acquire_locked(lane, deadline, loop)
        finally:
            lock.release()

    async def _acquire_locked(
        self, lane: Lane, deadline: float | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        args: list[str | int] = [
            lane,
            self.limit,
            self._capacity["bulk"],
            round(self.window * _MICRO),
            round(self._interval[lane] * _MICRO),
            round(self._tolerance[lane] * _MICRO),
            round(self.hold * _MICRO),
            "",
            self._ttl_ms,
        ]
        failures = 0
        retry = _FIRST_RETRY
        while True:
            now = loop.time()
            wait = self._local_pause_until - now
            if wait <= 0:
                # A fresh member per attempt: a late forget of one never hits another.
                member = args[7] = f"{self._token}:{next(self._serial)}"
                try:
                    # The deadline bounds the pacing wait, not Redis's answer.
                    admitted, wait_us = await self._run(
                        self._acquire_script, [*self._keys, self._pause_key], args
                    )
                except (RedisError, OSError, TimeoutError) as exc:
                    self._forget(lane, member)  # the script may have run and admitted it
                    failures += 1
                    if self._outage_since is None:
                        self._outage_since = now  # from before the failed call
                    outage_since = self._outage_since
                    now = loop.time()
                    give_up = outage_since + self.max_outage_wait
                    if deadline is not None:
                        give_up = min(give_up, deadline)
                    if now + retry >= give_up:
                        raise RateLimiterUnavailableError(
                            f"the shared rate limiter's Redis at {self._where} failed "
                            f"({type(exc).__name__}; {failures} attempt(s) by this request, "
                            f"failing for {now - outage_since:.1f} s); nothing was sent"
                        ) from None
                    await self._sleep(retry)
                    retry = min(retry * 2, _LAST_RETRY)
                    continue
                except asyncio.CancelledError:
                    self._forget(lane, member)
                    raise
                self._outage_since, failures, retry = None, 0, _FIRST_RETRY
                if admitted:
                    self._members[lane].append(member)
                    return
                now = loop.time()
                wait = wait_us / _MICRO
            if deadline is not None and now + wait > deadline:
                raise PacingTimeoutError(wait=wait, allowed=deadline - now)
            await self._sleep(wait)

    async def _run(self, script: AsyncScript, keys: list[str], args: list[str | int]) -> list[int]:
        """Run ``script`` within the command timeout."""
        async with asyncio.timeout(self.command_timeout):
            result = await script(keys=keys, args=args)
        return [int(value) for value in result]

    def _forget(self, lane: Lane, member: str) -> None:
        """Drop ``member`` from flight in the background: its acquire gave up, so nothing
        was sent under it (it would otherwise hold a slot for ``hold`` plus a window)."""
        if not self._dropped:
            self._spawn(self._remove(lane, member))

    async def _remove(self, lane: Lane, member: str) -> None:
        try:
            async with asyncio.timeout(self.command_timeout):
                await self._redis.zrem(self._keys[1], member)
                if lane == "bulk":
                    await self._redis.zrem(self._keys[3], member)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "could not drop an abandoned rate limiter slot in Redis at %s (%s); it "
                "counts until it expires",
                self._where,
                type(exc).__name__,
            )

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or raise :class:`ClientClosedError` as soon as the limiter closes."""
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return
        raise ClientClosedError("this client was closed; create a new HeymarketClient")

    def release(self, *, lane: Lane = "interactive") -> None:
        """A request of ``lane`` is over: from now it counts for one more window.

        Runs in the background; if Redis cannot take it, the request keeps counting until
        ``hold`` plus a window have passed (slower, never faster).
        """
        members = self._members[lane]
        if not members:
            return
        member = members.popleft()
        if self._dropped:
            return  # the connections are gone; the slot expires by itself
        self._spawn(self._release(lane, member))

    async def _release(self, lane: Lane, member: str) -> None:
        try:
            await self._run(self._release_script, self._keys[:4], [lane, member, self._ttl_ms])
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "could not release a rate limiter slot in Redis at %s (%s); it counts until "
                "it expires",
                self._where,
                type(exc).__name__,
            )

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # --- what the server said ------------------------------------------------------------

    def on_success(self) -> None:
        """Nothing to do: the shared window already keeps every holder under the limit."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server said 429: pause every holder for ``Retry-After`` (capped by
        ``max_pause``), or for one second per minute of window when it gave none."""
        pause = capped_wait(retry_after, self.max_pause)
        if pause is None:
            pause = min(self.window * WINDOW_PADDING_RATIO, self.max_pause)
        loop = asyncio.get_running_loop()
        self._local_pause_until = max(self._local_pause_until, loop.time() + pause)
        if not self._dropped:
            self._spawn(self._share_pause(pause))

    async def _share_pause(self, pause: float) -> None:
        try:
            await self._run(self._pause_script, [self._pause_key], [round(pause * _MICRO)])
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "could not share a 429 pause through Redis at %s (%s); only this process pauses",
                self._where,
                type(exc).__name__,
            )

    # --- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Wake every waiter with :class:`ClientClosedError`; later acquires raise it too."""
        self._closed = True
        self._closing.set()

    async def aclose(self) -> None:
        """Close, finish the releases still on their way to Redis, and drop the connections."""
        self.close()
        self._dropped = True
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._redis.aclose()


def _positive_seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _check_options(
    *,
    name: object,
    limit: object,
    burst: int | None,
    padding: float | None,
    seconds: dict[str, float],
) -> None:
    if not isinstance(name, str) or not name or "{" in name or "}" in name:
        raise ConfigurationError("name must be a non-empty string without braces")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError("limit_per_minute must be a positive integer")
    for option, value in seconds.items():
        if not _positive_seconds(value):
            raise ConfigurationError(f"{option} must be a positive number of seconds")
    if padding is not None and not (_positive_seconds(padding) or padding == 0):
        raise ConfigurationError("padding must be a number of seconds >= 0")
    if burst is not None and not 1 <= burst <= limit:
        raise ConfigurationError("burst must be between 1 and limit_per_minute")
