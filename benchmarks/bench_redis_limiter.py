"""Case 8: the shared (Redis) limiter next to the in-process one and the ``limits`` package.

Two measurements against a real ``redis-server`` on loopback (started here; the case is
skipped when there is no binary, or when ``limits`` is not installed for its column):

* acquire cost: one acquire plus its release, back to back, with a limit so high that
  nobody waits, for the in-process ``SlidingWindowLimiter``, ``RedisRateLimiter`` (one Lua
  script each way) and ``limits``' async moving window on Redis (``hit``; it has no release).
* admitted rate and what the server would see: three holders (separate limiter objects, as
  three processes would be) with 8 workers each share 100 requests per 1 s window for a few
  seconds. Each request is in flight 20-200 ms and reaches the server at a random moment of
  that flight (as over a real network). The figures are the admitted rate over the limit,
  and the most arrivals the server would count in any 1 s window: above 100 means 429s.
  ``limits`` counts a request when it is admitted, so a request admitted early in one
  window can arrive at the server in the next; ``RedisRateLimiter`` counts it until it
  finished, plus the window, as the in-process limiter does.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.redis_server

from heymarket_async._ratelimit import SlidingWindowLimiter
from heymarket_async.redis import RedisRateLimiter

LIMIT = 100
PERIOD = 1.0
HOLDERS = 3
WORKERS = 8


@dataclass(frozen=True)
class CostResult:
    name: str
    micros: float  # per acquire + release, median of rounds


@dataclass(frozen=True)
class RateResult:
    name: str
    ratio: float  # admitted per window / limit, after the first window
    server_max: int  # most arrivals in any window, as the server counts them
    over: int  # arrivals a sliding-window server would answer 429


Acquire = Callable[[], Awaitable[None]]
Release = Callable[[], Awaitable[None]]


async def _cost(acquire: Acquire, release: Release, calls: int, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            await acquire()
            await release()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def _limits_pair(url: str, limit: int, seconds: int, name: str) -> tuple[Acquire, Release]:
    from limits import RateLimitItemPerSecond  # noqa: PLC0415 - optional, benchmark only
    from limits.aio.storage import RedisStorage  # noqa: PLC0415
    from limits.aio.strategies import MovingWindowRateLimiter  # noqa: PLC0415

    storage = RedisStorage(url.replace("redis://", "async+redis://"), implementation="redispy")
    strategy = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(limit, seconds)

    async def acquire() -> None:
        while not await strategy.hit(item, name):
            stats = await strategy.get_window_stats(item, name)
            await asyncio.sleep(max(stats.reset_time - time.time(), 0.001))

    async def release() -> None:
        return None  # nothing to do: a hit counts from admission, for the window

    return acquire, release


def _redis_pair(limiter: RedisRateLimiter) -> tuple[Acquire, Release]:
    async def acquire() -> None:
        await limiter.acquire()

    async def release() -> None:
        limiter.release()
        await asyncio.sleep(0)

    return acquire, release


def _local_pair(limiter: SlidingWindowLimiter) -> tuple[Acquire, Release]:
    async def acquire() -> None:
        await limiter.acquire()

    async def release() -> None:
        limiter.release()

    return acquire, release


async def measure_cost(url: str, *, quick: bool) -> list[CostResult]:
    calls = 200 if quick else 2000
    huge = 10**9
    results = [
        CostResult(
            "in-process SlidingWindowLimiter",
            await _cost(*_local_pair(SlidingWindowLimiter(huge, burst=huge)), calls),
        )
    ]
    limiter = RedisRateLimiter(url, name="bench-cost", limit_per_minute=huge, burst=huge)
    try:
        results.append(CostResult("RedisRateLimiter", await _cost(*_redis_pair(limiter), calls)))
    finally:
        await limiter.aclose()
    try:
        pair = _limits_pair(url, huge, 60, "bench-cost")
    except ImportError:
        return results
    results.append(CostResult("limits moving window (Redis)", await _cost(*pair, calls)))
    return results


async def _run_holders(pairs: list[tuple[Acquire, Release]], seconds: float) -> RateResult:
    rng = random.Random(7)
    admitted: list[float] = []
    arrivals: list[float] = []
    started = time.monotonic()

    async def worker(acquire: Acquire, release: Release) -> None:
        while time.monotonic() - started < seconds:
            await acquire()
            at = time.monotonic()
            admitted.append(at)
            flight = rng.uniform(0.02, 0.2)
            arrivals.append(at + rng.random() * flight)
            await asyncio.sleep(flight)
            await release()

    await asyncio.gather(*(worker(*pair) for pair in pairs for _ in range(WORKERS)))
    steady = [t for t in admitted if t >= started + PERIOD]
    end = max(admitted)
    ratio = len(steady) / (end - started - PERIOD) * PERIOD / LIMIT if end > started + PERIOD else 0
    arrivals.sort()
    most, over, start, counted = 0, 0, 0, []
    for at in arrivals:  # a sliding-window server: count what it admitted in the last PERIOD
        while counted and counted[0] <= at - PERIOD:
            counted.pop(0)
        if len(counted) >= LIMIT:
            over += 1
        else:
            counted.append(at)
        most = max(most, sum(1 for a in arrivals[start:] if at - PERIOD < a <= at))
        while arrivals[start] <= at - PERIOD:
            start += 1
    return RateResult("", ratio, most, over)


async def measure_rate(url: str, *, quick: bool) -> list[RateResult]:
    seconds = 2.5 if quick else 6.0
    results = []
    limiters = [
        RedisRateLimiter(url, name="bench-rate", limit_per_minute=LIMIT, period=PERIOD)
        for _ in range(HOLDERS)
    ]
    try:
        result = await _run_holders([_redis_pair(lim) for lim in limiters], seconds)
    finally:
        for limiter in limiters:
            await limiter.aclose()
    results.append(RateResult("RedisRateLimiter", result.ratio, result.server_max, result.over))
    try:
        pairs = [_limits_pair(url, LIMIT, int(PERIOD), "bench-rate") for _ in range(HOLDERS)]
    except ImportError:
        return results
    result = await _run_holders(pairs, seconds)
    results.append(
        RateResult("limits moving window (Redis)", result.ratio, result.server_max, result.over)
    )
    return results


async def measure(*, quick: bool) -> tuple[list[CostResult], list[RateResult]]:
    from tests.redis_server import RedisServer  # noqa: PLC0415 - skips without a binary

    with RedisServer() as server:
        return await measure_cost(server.url, quick=quick), await measure_rate(
            server.url, quick=quick
        )


if __name__ == "__main__":
    costs, rates = asyncio.run(measure(quick="--quick" in sys.argv))
    for cost in costs:
        print(f"{cost.name}: {cost.micros:.1f} µs per acquire+release")
    for rate in rates:
        print(
            f"{rate.name}: admitted/limit {rate.ratio:.3f}, server max per window "
            f"{rate.server_max}, 429s {rate.over}"
        )
