"""Case 7: the limiter's sustained rate under a steady trickle of random 429s.

Another integration on the same key, or a server hiccup, makes a few answers 429 although
the client stays under the limit. The limiter should pause (per ``Retry-After``) and carry
on at the configured rate, not slow down for good.

Two measurements, each for the current limiter and for the one it replaced (a sliding
window that admitted a whole window at once, cut its limit by 30 % on every 429 and grew it
back by limit/500 per success):

* virtual clock: the real ``SlidingWindowLimiter`` at the API's 500/min, 16 workers, 0.2 s per
  request, 5 % of answers 429 with ``Retry-After: 1``, for 10 windows of simulated time on an
  event loop whose clock jumps whenever every task waits (runs in about a second).
* real HTTP: ``HeymarketClient`` against the in-process sandbox scaled down to 100 requests
  per 1 s window, 5 % of sends answered 429 with ``Retry-After: 0.05`` (a fault), 16 tasks
  sending for a few seconds; the rate is counted from the sandbox's ledger after the first
  window.

The figure is accepted sends per window over the limit; the 429s themselves also use slots
(the server counts them), so about 0.95 of the ceiling is the best possible.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.virtual_time

from heymarket_async import HeymarketClient, RetryPolicy
from heymarket_async._ratelimit import RateLimiter, SlidingWindowLimiter
from heymarket_async.errors import RateLimitError
from heymarket_async.sandbox import Fault, Sandbox
from tests.virtual_time import run_virtual

SHARE_429 = 0.05


class LegacyAimdLimiter:
    """The limiter before this change, kept only to compare against (same window rule)."""

    def __init__(self, limit: int, *, period: float = 60.0) -> None:
        self.limit = limit
        self.window = period + period / 60
        self._finished: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._released = asyncio.Event()
        self._effective = float(limit)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._recovery_step = max(limit / 500.0, 0.05)

    def _clock(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def effective_limit(self) -> int:
        return max(int(self._effective), 1)

    def _delay(self, now: float) -> float | None:
        while self._finished and self._finished[0] <= now - self.window:
            self._finished.popleft()
        wait = self._paused_until - now
        must_leave = self._in_flight + len(self._finished) - self.effective_limit + 1
        if must_leave > len(self._finished):
            return None
        if must_leave > 0:
            wait = max(wait, self._finished[must_leave - 1] + self.window - now)
        return max(wait, 0.0)

    async def acquire(self, *, deadline: float | None = None, lane: str = "interactive") -> None:
        async with self._lock:
            while (delay := self._delay(self._clock())) != 0:
                if delay is None:
                    self._released.clear()
                    await self._released.wait()
                else:
                    await asyncio.sleep(delay)
            self._in_flight += 1

    def release(self, *, lane: str = "interactive") -> None:
        self._in_flight -= 1
        self._finished.append(self._clock())
        self._released.set()

    async def aclose(self) -> None:
        return None

    def on_success(self) -> None:
        if self._effective < self.limit:
            self._effective = min(self.limit, self._effective + self._recovery_step)

    def on_rate_limited(self, retry_after: float | None) -> None:
        self._effective = max(1.0, math.floor(self._effective * 0.7))
        if retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)

    def close(self) -> None:
        pass


LimiterFactory = Callable[[int, float], RateLimiter]


def current(limit: int, period: float) -> RateLimiter:
    return SlidingWindowLimiter(
        limit, period=period, clock=lambda: asyncio.get_running_loop().time()
    )


def legacy(limit: int, period: float) -> RateLimiter:
    return LegacyAimdLimiter(limit, period=period)


CONTENDERS: dict[str, LimiterFactory] = {"current": current, "before": legacy}


@dataclass
class TrickleResult:
    name: str
    limit: int
    period: float
    ratio: float  # accepted per period / limit, after the first window
    answers: int
    share_429: float
    over_limit_429s: int | None = None  # 429s from the sandbox's own window (we went too fast)


def simulate(
    factory: LimiterFactory, *, limit: int = 500, windows: int = 10, seed: int = 7
) -> tuple[float, int, float]:
    """The virtual-clock run: (accepted per minute / limit, answers, share of 429s)."""
    rng = random.Random(seed)
    period, workers, latency = 60.0, 16, 0.2

    async def main() -> tuple[float, int, float]:
        limiter = factory(limit, period)
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + windows * period
        accepted: list[float] = []
        limited = 0

        async def worker() -> None:
            nonlocal limited
            while loop.time() < end:
                await limiter.acquire()
                try:
                    await asyncio.sleep(latency)
                    rejected = rng.random() < SHARE_429
                finally:
                    limiter.release()
                if rejected:
                    limited += 1
                    limiter.on_rate_limited(1.0)
                    await asyncio.sleep(1.0)  # the request's own retry honours Retry-After
                else:
                    limiter.on_success()
                    accepted.append(loop.time())

        await asyncio.gather(*(worker() for _ in range(workers)))
        steady = [t for t in accepted if start + period <= t < end]
        rate = len(steady) / ((windows - 1) * period) * period
        return rate / limit, len(accepted) + limited, limited / max(len(accepted) + limited, 1)

    return run_virtual(main())


async def over_http(
    factory: LimiterFactory, *, limit: int = 100, period: float = 1.0, seconds: float = 6.0
) -> tuple[float, int, float, int]:
    """The sandbox run: (accepted per period / limit, answers, share of 429s, 429s the
    sandbox's own window sent)."""
    async with Sandbox(
        rate_limit_per_minute=limit, rate_limit_window=period, dedupe_individual_sends=False
    ) as sb:
        sb.faults.random(
            Fault.rate_limited(retry_after=0.05),
            probability=SHARE_429,
            route="POST /v1/message/send",
        )
        retry = RetryPolicy(attempts=8, deadline=60.0, initial_wait=0.05, max_wait=1.0)
        async with HeymarketClient(**sb.client_kwargs(), retry=retry) as hm:
            hm._limiter = factory(limit, period)
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds
            counter = iter(range(10**9))

            async def worker() -> None:
                while loop.time() < end:
                    phone = f"1510{next(counter):07d}"
                    with contextlib.suppress(RateLimitError):  # out of attempts: not counted
                        await hm.messages.send(
                            inbox_id=sb.default_inbox_id,
                            creator_id=sb.default_creator_id,
                            phone_number=phone,
                            text="Hi",
                        )

            await asyncio.gather(*(worker() for _ in range(16)))
        at = sorted(entry.at for entry in sb.ledger)
        statuses = sb.stats.statuses
        answers = sum(statuses.values())
        share = statuses[429] / max(answers, 1)
        over_limit = sb.stats.rate_limited
    if len(at) < 2:
        return 0.0, answers, share, over_limit
    steady = [t for t in at if t >= at[0] + period]
    span = at[-1] - (at[0] + period)
    rate = len(steady) / span * period if span > 0 else 0.0
    return rate / limit, answers, share, over_limit


async def measure(*, quick: bool) -> list[TrickleResult]:
    results: list[TrickleResult] = []
    windows = 3 if quick else 10
    for name, factory in CONTENDERS.items():
        ratio, answers, share = await asyncio.to_thread(simulate, factory, windows=windows)
        results.append(TrickleResult(f"virtual clock, {name}", 500, 60.0, ratio, answers, share))
    seconds = 3.0 if quick else 8.0
    for name, factory in CONTENDERS.items():
        started = time.perf_counter()
        ratio, answers, share, over = await over_http(factory, seconds=seconds)
        assert time.perf_counter() - started < seconds + 30
        label = f"sandbox HTTP, {name}"
        results.append(TrickleResult(label, 100, 1.0, ratio, answers, share, over))
    return results
