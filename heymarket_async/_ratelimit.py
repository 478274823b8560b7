"""Client-side pacing under the API's requests-per-minute limit (heymarket-api.md §1.3).

A sliding window, not a token bucket: a bucket of 500 refilling at 500/min admits close to
1,000 requests in some 60-second span, which is exactly when the server answers 429.
The window counts requests by when they finished, so network delay cannot move two of them
closer together on the server's clock than they were on ours.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Pad the window (1 s per minute) so that start-time jitter between client and server
# cannot squeeze one request too many into the server's window.
WINDOW_PADDING_RATIO: Final = 1 / 60
_DECREASE_FACTOR: Final = 0.7
_MIN_LIMIT: Final = 1.0


class SlidingWindowLimiter:
    """Keeps at most ``limit`` requests in any ``period``-second window, as the server sees it.

    A request occupies the window from the moment it is admitted until ``window`` seconds
    after it finished (:meth:`release`): the server saw it somewhere in between, so however
    long the network took, no window the server measures can hold more than ``limit``.
    Shared by every task of a client; waiters sleep until a slot frees (no polling) and are
    served first come, first served. On a 429 the effective limit drops multiplicatively and
    climbs back a little with each success (AIMD).
    """

    def __init__(
        self,
        limit: int,
        *,
        period: float = 60.0,
        padding: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = period + (period * WINDOW_PADDING_RATIO if padding is None else padding)
        self._clock = clock
        self._sleep = sleep
        self._finished: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._released = asyncio.Event()
        self._effective = float(limit)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._recovery_step = max(limit / 500.0, 0.05)

    @property
    def effective_limit(self) -> int:
        """The limit in force now (below ``limit`` for a while after a 429)."""
        return max(int(self._effective), 1)

    def _delay(self, now: float) -> float | None:
        """Seconds to wait for a slot, 0 if one is free, ``None`` to wait for a release."""
        while self._finished and self._finished[0] <= now - self.window:
            self._finished.popleft()
        wait = self._paused_until - now
        must_leave = self._in_flight + len(self._finished) - self.effective_limit + 1
        if must_leave > len(self._finished):
            return None  # every slot is held by a request still in flight
        if must_leave > 0:
            wait = max(wait, self._finished[must_leave - 1] + self.window - now)
        return max(wait, 0.0)

    async def acquire(self) -> None:
        """Wait until one more request fits, then count it as in flight."""
        async with self._lock:
            while (delay := self._delay(self._clock())) != 0:
                if delay is None:
                    self._released.clear()
                    await self._released.wait()
                else:
                    await self._sleep(delay)
            self._in_flight += 1

    def release(self) -> None:
        """The request admitted by :meth:`acquire` is over (answered or failed)."""
        self._in_flight -= 1
        self._finished.append(self._clock())
        self._released.set()

    def on_success(self) -> None:
        """Grow the effective limit back towards ``limit`` after a decrease."""
        if self._effective < self.limit:
            self._effective = min(self.limit, self._effective + self._recovery_step)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Slow down: the server said 429."""
        self._effective = max(_MIN_LIMIT, math.floor(self._effective * _DECREASE_FACTOR))
        if retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
