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
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from typing import Final, Protocol

from .errors import ClientClosedError, PacingTimeoutError

Clock = Callable[[], float]

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
    """What the client needs from a limiter (in-process here; a shared one may follow)."""

    async def acquire(self, *, deadline: float | None = None) -> None:
        """Wait for a slot; raise :class:`PacingTimeoutError` rather than wait past
        ``deadline`` (an absolute time on the limiter's clock)."""

    def release(self) -> None:
        """The request admitted by :meth:`acquire` is over (answered or failed)."""

    def on_success(self) -> None:
        """The server accepted a request (any answer but 429)."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server answered 429, with ``Retry-After`` in seconds if it sent one."""

    def close(self) -> None:
        """Wake every waiter with :class:`ClientClosedError`; later acquires raise it too."""


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
    until their slot (no polling), in the order they arrived.

    Args:
        limit: requests per period.
        period: the server's window in seconds.
        padding: seconds added to the window against clock skew (default 1 s per minute).
        burst: requests admitted back to back after a quiet spell (default 10 % of
            ``limit``, at least 1).
        max_pause: longest pause after a 429, whatever its ``Retry-After`` says.
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
        self._clock = clock
        self._finished: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self._effective = limit
        self._paused_until = -math.inf
        # Pacing (GCRA): the time at which the pace would admit the next request with no
        # burst left; a caller may go up to (burst - 1) intervals before it.
        self._next_at = -math.inf
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

    @property
    def _interval(self) -> float:
        return self.window / self._effective

    @property
    def _tolerance(self) -> float:
        return (min(self.burst, self._effective) - 1) * self._interval

    def _window_delay(self, now: float) -> float | None:
        """Seconds until the window has room, 0 if it has, ``None`` if only a release can
        make room (every slot is held by a request still in flight)."""
        while self._finished and self._finished[0] <= now - self.window:
            self._finished.popleft()
        must_leave = self._in_flight + len(self._finished) - self._effective + 1
        if must_leave <= 0:
            return 0.0
        if must_leave > len(self._finished):
            return None
        return max(self._finished[must_leave - 1] + self.window - now, 0.0)

    def _admission_delay(self, now: float) -> float | None:
        """Like :meth:`_window_delay`, also honouring a 429 pause that began after the
        caller took its place in the pace."""
        delay = self._window_delay(now)
        pause = self._paused_until - now
        if delay is None or pause <= 0:
            return delay
        return max(delay, pause)

    # --- acquire / release ---------------------------------------------------------------

    async def acquire(self, *, deadline: float | None = None) -> None:
        """Wait until one more request fits, then count it as in flight.

        Args:
            deadline: an absolute time (on ``clock``); if the slot cannot come by then,
                fail at once instead of waiting.

        Raises:
            PacingTimeoutError: the wait would pass ``deadline``.
            ClientClosedError: the limiter was closed (its client closed) while waiting.
        """
        now = self._clock()
        self._roll_windows(now)
        if self._closed:
            raise ClientClosedError("this client was closed; create a new HeymarketClient")
        # Reserve a place in the pace first, so callers keep their arrival order.
        slot = max(now, self._next_at - self._tolerance, self._paused_until)
        window_delay = self._window_delay(now)
        at_least = max(slot - now, self.window if window_delay is None else window_delay)
        if at_least > 0 and deadline is not None and now + at_least > deadline:
            raise PacingTimeoutError(wait=at_least, allowed=deadline - now)
        reserved_next = max(self._next_at, slot) + self._interval
        self._next_at = reserved_next
        try:
            if slot > now:
                await self._sleep_until(slot)
            while (delay := self._admission_delay(now := self._clock())) != 0:
                wait = self.window if delay is None else delay
                if deadline is not None and now + wait > deadline:
                    raise PacingTimeoutError(wait=wait, allowed=deadline - now)
                await self._sleep_until(None if delay is None else now + delay, deadline)
        except BaseException:
            # Give the place back if nobody reserved after it (cancelled, closed, too late).
            if self._next_at == reserved_next:
                self._next_at -= self._interval
            raise
        self._in_flight += 1

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

    def release(self) -> None:
        """The request admitted by :meth:`acquire` is over (answered or failed)."""
        self._in_flight -= 1
        self._finished.append(self._clock())
        self._wakeup.set()

    def close(self) -> None:
        """Wake every waiter with :class:`ClientClosedError`; later acquires raise it too."""
        self._closed = True
        self._wakeup.set()

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
