"""Client-side pacing under the API's requests-per-minute limit (heymarket-api.md §1.3).

A sliding window, not a token bucket: a bucket of 500 refilling at 500/min admits close to
1,000 requests in some 60-second span, which is exactly when the server answers 429.
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

# Pad the window so that start-time jitter between client and server cannot squeeze one
# request too many into the server's minute.
WINDOW_PADDING_S: Final = 1.0
_DECREASE_FACTOR: Final = 0.7
_MIN_LIMIT: Final = 1.0


class SlidingWindowLimiter:
    """Admits at most ``limit`` acquisitions in any ``period``-second window.

    Shared by every task of a client; waiters sleep until the oldest admission leaves the
    window (no polling) and are served first come, first served. On a 429 the effective
    limit drops multiplicatively and climbs back one admission at a time (AIMD).
    """

    def __init__(
        self,
        limit: int,
        *,
        period: float = 60.0,
        padding: float = WINDOW_PADDING_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = period + padding
        self._clock = clock
        self._sleep = sleep
        self._admitted: collections.deque[float] = collections.deque()
        self._effective = float(limit)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._recovery_step = max(limit / 500.0, 0.05)

    @property
    def effective_limit(self) -> int:
        """The limit in force now (below ``limit`` for a while after a 429)."""
        return max(int(self._effective), 1)

    def _delay(self, now: float) -> float:
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()
        wait = self._paused_until - now
        excess = len(self._admitted) - self.effective_limit
        if excess >= 0:
            wait = max(wait, self._admitted[excess] + self.window - now)
        return wait

    async def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        async with self._lock:
            while (delay := self._delay(self._clock())) > 0:
                await self._sleep(delay)
            self._admitted.append(self._clock())

    def on_success(self) -> None:
        """Grow the effective limit back towards ``limit`` after a decrease."""
        if self._effective < self.limit:
            self._effective = min(self.limit, self._effective + self._recovery_step)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Slow down: the server said 429."""
        self._effective = max(_MIN_LIMIT, math.floor(self._effective * _DECREASE_FACTOR))
        if retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
