"""Client-side pacing under the API's requests-per-minute limit (heymarket-api.md §1.3).

Two rules admit a request, and both must hold:

* A sliding window, not a token bucket: a bucket of 500 refilling at 500/min admits close
  to 1,000 requests in some 60-second span, which is exactly when the server answers 429.
  The window counts requests by when they finished, so network delay cannot move two of
  them closer together on the server's clock than they were on ours.
* A steady pace (one request every ``window / limit`` seconds, after a small burst), so a
  busy client spreads its requests through the window instead of spending the whole window
  at once and then idling for a minute.

A 429 pauses every caller (for ``Retry-After``, capped); the rate itself is cut only when
429s keep arriving window after window, and climbs back once a window passes without them.

Two lanes share the limit: ``interactive`` (single calls, by default) may use all of it,
``bulk`` (``BatchSender``, ``broadcast()``) never the share kept for interactive traffic, so
a campaign cannot starve the calls a person is waiting for. Each lane keeps its own pace.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import math
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Final, Literal, ParamSpec, Protocol, TypeVar

from .errors import ClientClosedError, PacingTimeoutError

Clock = Callable[[], float]
Lane = Literal["interactive", "bulk"]
LANES: Final[tuple[Lane, ...]] = ("interactive", "bulk")
DEFAULT_INTERACTIVE_SHARE: Final = 0.2

_P = ParamSpec("_P")
_T = TypeVar("_T")

# The lane of requests made by the current task when its client names none; the bulk
# machinery sets it around its own requests.
current_lane: contextvars.ContextVar[Lane] = contextvars.ContextVar(
    "heymarket_lane", default="interactive"
)


@contextlib.contextmanager
def lane_scope(lane: Lane) -> Iterator[None]:
    """Requests made inside the block (and by tasks started there) use ``lane``."""
    check_lane(lane)
    token = current_lane.set(lane)
    try:
        yield
    finally:
        current_lane.reset(token)


def in_bulk_lane(
    function: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Run an async function's requests in the bulk lane (unless its client names a lane)."""

    @functools.wraps(function)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with lane_scope("bulk"):
            return await function(*args, **kwargs)

    return wrapper


def check_lane(lane: object) -> Lane:
    """``lane`` if it names a lane, else ``ValueError``."""
    if lane not in LANES:
        raise ValueError(f"lane must be 'interactive' or 'bulk', got {lane!r}")
    return lane


def check_interactive_share(share: object) -> float:
    """``share`` if it is a fraction in [0, 1), else ``ValueError``."""
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not math.isfinite(share)
        or not 0 <= share < 1
    ):
        raise ValueError(f"interactive_share must be a fraction in [0, 1), got {share!r}")
    return float(share)


def bulk_capacity(limit: int, interactive_share: float) -> int:
    """Requests per window the bulk lane may use: ``limit`` less the interactive reserve
    (rounded up), and at least one so that a tiny limit cannot stop bulk traffic."""
    return max(1, limit - math.ceil(limit * interactive_share))


# Pad the window (1 s per minute) so that start-time jitter between client and server
# cannot squeeze one request too many into the server's window.
WINDOW_PADDING_RATIO: Final = 1 / 60
DEFAULT_BURST_RATIO: Final = 0.1
DEFAULT_MAX_PAUSE: Final = 30.0
# A window in which more than this share of answers were 429s counts as "limited"; two such
# windows in a row cut the rate. A trickle (another integration on the same key, a server
# hiccup) stays below it and costs only the pauses.
LIMITED_SHARE: Final = 0.1
_DECREASE_FACTOR: Final = 0.7


class RateLimiter(Protocol):
    """What the client needs from a limiter: :class:`SlidingWindowLimiter` in one process,
    ``heymarket_async.redis.RedisRateLimiter`` shared by many."""

    async def acquire(self, *, deadline: float | None = None, lane: Lane = "interactive") -> None:
        """Wait for a slot in ``lane``; raise :class:`PacingTimeoutError` rather than wait
        past ``deadline`` (an absolute time on the limiter's clock)."""

    def release(self, *, lane: Lane = "interactive") -> None:
        """A request of ``lane`` admitted by :meth:`acquire` is over (answered or failed)."""

    def on_success(self) -> None:
        """The server accepted a request (any answer but 429)."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server answered 429, with ``Retry-After`` in seconds if it sent one."""

    def close(self) -> None:
        """Wake every waiter with :class:`ClientClosedError`; later acquires raise it too."""

    async def aclose(self) -> None:
        """After :meth:`close`: let go of what the limiter holds (connections, tasks)."""


def capped_wait(seconds: float | None, cap: float) -> float | None:
    """A server-chosen wait made safe: ``None`` if unusable (NaN), within ``[0, cap]``."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


class SlidingWindowLimiter:
    """Keeps at most ``limit`` requests in any ``period``-second window, as the server sees it.

    A request occupies the window from the moment it is admitted until ``window`` seconds
    after it finished (:meth:`release`): the server saw it somewhere in between, so however
    long the network took, no window the server measures can hold more than ``limit``.
    Within that bound requests are paced one every ``window / limit`` seconds, with up to
    ``burst`` at once after a quiet spell. Shared by every task of a client; waiters sleep
    until their slot (no polling), in the order they arrived within their lane.

    The ``bulk`` lane keeps at most ``limit`` less the interactive share in any window, at
    its own pace; the ``interactive`` lane may use the whole limit and never queues behind
    bulk requests for its place in the pace.

    Args:
        limit: requests per period.
        period: the server's window in seconds.
        padding: seconds added to the window against clock skew (default 1 s per minute).
        burst: requests admitted back to back after a quiet spell (default 10 % of
            ``limit``, at least 1).
        max_pause: longest pause after a 429, whatever its ``Retry-After`` says.
        interactive_share: the fraction of ``limit`` the bulk lane leaves to interactive
            requests (default 0.2; 0 lets bulk use everything).
        clock: monotonic seconds (for tests); deadlines are on this clock.
    """

    def __init__(
        self,
        limit: int,
        *,
        period: float = 60.0,
        padding: float | None = None,
        burst: int | None = None,
        max_pause: float = DEFAULT_MAX_PAUSE,
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if burst is not None and not 1 <= burst <= limit:
            raise ValueError("burst must be between 1 and limit")
        self.limit = limit
        self.window = period + (period * WINDOW_PADDING_RATIO if padding is None else padding)
        self.burst = burst if burst is not None else max(1, int(limit * DEFAULT_BURST_RATIO))
        self.max_pause = max_pause
        self.interactive_share = check_interactive_share(interactive_share)
        self._clock = clock
        # Finish times and in-flight counts: index 0 for every request, 1 for bulk ones.
        self._finished = (collections.deque[float](), collections.deque[float]())
        self._in_flight = [0, 0]
        self._wakeup = asyncio.Event()
        self._closed = False
        self._effective = limit
        self._paused_until = -math.inf
        # Pacing (GCRA), per lane: the time at which the pace would admit the lane's next
        # request with no burst left; a caller may go up to (burst - 1) intervals before it.
        self._next_at: dict[Lane, float] = dict.fromkeys(LANES, -math.inf)
        # 429 accounting per window, evaluated when a window ends.
        self._window_index = 0
        self._window_ok = 0
        self._window_limited = 0
        self._previous_limited = False

    # --- what is in force now ------------------------------------------------------------

    @property
    def effective_limit(self) -> int:
        """The limit in force now (below ``limit`` while 429s persist across windows)."""
        self._roll_windows(self._clock())
        return self._effective

    @property
    def paused_for(self) -> float:
        """Seconds every caller still waits because of the last 429 (0 if none)."""
        return max(self._paused_until - self._clock(), 0.0)

    def _capacity(self, lane: Lane) -> int:
        if lane == "bulk":
            return bulk_capacity(self._effective, self.interactive_share)
        return self._effective

    def _interval(self, lane: Lane) -> float:
        return self.window / self._capacity(lane)

    def _tolerance(self, lane: Lane) -> float:
        return (min(self.burst, self._capacity(lane)) - 1) * self._interval(lane)

    def _count_delay(self, now: float, which: int, capacity: int) -> float | None:
        finished = self._finished[which]
        while finished and finished[0] <= now - self.window:
            finished.popleft()
        must_leave = self._in_flight[which] + len(finished) - capacity + 1
        if must_leave <= 0:
            return 0.0
        if must_leave > len(finished):
            return None
        return max(finished[must_leave - 1] + self.window - now, 0.0)

    def _window_delay(self, now: float, lane: Lane) -> float | None:
        """Seconds until the window has room for ``lane``, 0 if it has, ``None`` if only a
        release can make room (every slot is held by a request still in flight)."""
        delay = self._count_delay(now, 0, self._effective)
        if lane != "bulk" or delay is None:
            return delay
        bulk = self._count_delay(now, 1, self._capacity("bulk"))
        return None if bulk is None else max(delay, bulk)

    def _admission_delay(self, now: float, lane: Lane) -> float | None:
        """Like :meth:`_window_delay`, also honouring a 429 pause that began after the
        caller took its place in the pace."""
        delay = self._window_delay(now, lane)
        pause = self._paused_until - now
        if delay is None or pause <= 0:
            return delay
        return max(delay, pause)

    # --- acquire / release ---------------------------------------------------------------

    async def acquire(self, *, deadline: float | None = None, lane: Lane = "interactive") -> None:
        """Wait until one more request of ``lane`` fits, then count it as in flight.

        Args:
            deadline: an absolute time (on ``clock``); if the slot cannot come by then,
                fail at once instead of waiting.
            lane: ``"interactive"`` (may use the whole limit) or ``"bulk"``.

        Raises:
            PacingTimeoutError: the wait would pass ``deadline``.
            ClientClosedError: the limiter was closed (its client closed) while waiting.
        """
        now = self._clock()
        self._roll_windows(now)
        if self._closed:
            raise ClientClosedError("this client was closed; create a new HeymarketClient")
        # Reserve a place in the lane's pace first, so callers keep their arrival order.
        interval = self._interval(lane)
        slot = max(now, self._next_at[lane] - self._tolerance(lane), self._paused_until)
        window_delay = self._window_delay(now, lane)
        at_least = max(slot - now, self.window if window_delay is None else window_delay)
        if at_least > 0 and deadline is not None and now + at_least > deadline:
            raise PacingTimeoutError(wait=at_least, allowed=deadline - now)
        reserved_next = max(self._next_at[lane], slot) + interval
        self._next_at[lane] = reserved_next
        try:
            if slot > now:
                await self._sleep_until(slot)
            while (delay := self._admission_delay(now := self._clock(), lane)) != 0:
                wait = self.window if delay is None else delay
                if deadline is not None and now + wait > deadline:
                    raise PacingTimeoutError(wait=wait, allowed=deadline - now)
                await self._sleep_until(None if delay is None else now + delay, deadline)
        except BaseException:
            # Give the place back if nobody reserved after it (cancelled, closed, too late).
            if self._next_at[lane] == reserved_next:
                self._next_at[lane] -= interval
            raise
        self._in_flight[0] += 1
        if lane == "bulk":
            self._in_flight[1] += 1

    async def _sleep_until(self, when: float | None, deadline: float | None = None) -> None:
        """Sleep until ``when`` (``None``: until a release, or ``deadline``); wake on close."""
        until = when if when is not None else deadline
        self._wakeup.clear()
        timeout = None if until is None else max(until - self._clock(), 0.0)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    if self._closed:
                        raise ClientClosedError(
                            "this client was closed; create a new HeymarketClient"
                        )
                    if when is None:
                        return  # a release: the caller recomputes
        except TimeoutError:
            return

    def release(self, *, lane: Lane = "interactive") -> None:
        """A request of ``lane`` admitted by :meth:`acquire` is over (answered or failed)."""
        finished_at = self._clock()
        self._in_flight[0] -= 1
        self._finished[0].append(finished_at)
        if lane == "bulk":
            self._in_flight[1] -= 1
            self._finished[1].append(finished_at)
        self._wakeup.set()

    def close(self) -> None:
        """Wake every waiter with :class:`ClientClosedError`; later acquires raise it too."""
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        """Nothing to let go of in one process."""

    # --- what the server said ------------------------------------------------------------

    def _roll_windows(self, now: float) -> None:
        """Close the 429 accounting of every window that ended before ``now``."""
        index = int(now // self.window) if math.isfinite(now) else self._window_index
        if index == self._window_index:
            return
        answered = self._window_ok + self._window_limited
        limited = answered > 0 and self._window_limited > LIMITED_SHARE * answered
        # A whole window that went by without a word from the server is not limited.
        limited_now = limited and index == self._window_index + 1
        if limited and self._previous_limited:
            # 429s persisted across windows: the key's budget is shared or smaller.
            self._effective = max(1, math.floor(self._effective * _DECREASE_FACTOR))
        elif not limited and self._effective < self.limit:
            self._effective = min(self.limit, math.ceil(self._effective / _DECREASE_FACTOR))
        self._previous_limited = limited_now
        self._window_index = index
        self._window_ok = self._window_limited = 0

    def on_success(self) -> None:
        """Count an answer that was not a 429."""
        self._roll_windows(self._clock())
        self._window_ok += 1

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server said 429: pause everyone for ``Retry-After`` (capped by ``max_pause``),
        or for one second per minute of window when it gave none."""
        now = self._clock()
        self._roll_windows(now)
        self._window_limited += 1
        pause = capped_wait(retry_after, self.max_pause)
        if pause is None:
            pause = min(self.window * WINDOW_PADDING_RATIO, self.max_pause)
        self._paused_until = max(self._paused_until, now + pause)
