from __future__ import annotations

import asyncio

import pytest

from heymarket_async._ratelimit import SlidingWindowLimiter


class FakeTime:
    """A monotonic clock whose sleep advances it instantly and counts the calls."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _limiter(limit: int, fake: FakeTime) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, period=60.0, padding=1.0, clock=fake.clock, sleep=fake.sleep)


async def _admit_all(limiter: SlidingWindowLimiter, fake: FakeTime, n: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(fake.now)
        limiter.release()  # an instant request

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(times)


async def test_concurrent_callers_never_exceed_the_limit_in_any_window() -> None:
    """50 concurrent callers under a limit of 10/min never put 11 in one sliding window."""
    fake = FakeTime()
    limiter = _limiter(10, fake)
    times = await _admit_all(limiter, fake, 50)
    assert len(times) == 50
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 61.0
    # Paced, not stalled: five windows' worth of requests take four windows of waiting.
    assert times[-1] - times[0] == pytest.approx(4 * 61.0)


async def test_first_burst_is_admitted_without_waiting() -> None:
    """Up to the limit, acquisitions do not sleep at all."""
    fake = FakeTime()
    limiter = _limiter(10, fake)
    await _admit_all(limiter, fake, 10)
    assert fake.sleeps == []


async def test_waiting_is_not_busy() -> None:
    """Waiters sleep exactly until the window frees a slot, never in polling steps."""
    fake = FakeTime()
    limiter = _limiter(3, fake)
    await _admit_all(limiter, fake, 9)
    # Two full windows of waiting: one sleep each, as long as the padded window.
    assert fake.sleeps == [61.0, 61.0]


async def test_rate_limited_slows_down_and_honours_retry_after() -> None:
    """A 429 cuts the effective limit and pauses every caller for Retry-After seconds."""
    fake = FakeTime()
    limiter = _limiter(10, fake)
    limiter.on_rate_limited(retry_after=5.0)
    assert limiter.effective_limit == 7
    start = fake.now
    await limiter.acquire()
    assert fake.now - start == pytest.approx(5.0)


async def test_slots_count_from_when_requests_finish() -> None:
    """A slow request holds its slot until a full window after it finished."""
    fake = FakeTime()
    limiter = _limiter(2, fake)
    await limiter.acquire()
    await limiter.acquire()
    fake.now += 10.0  # both requests take 10 s on the wire
    limiter.release()
    limiter.release()
    start = fake.now
    await limiter.acquire()
    assert fake.now - start == pytest.approx(61.0)


async def test_waiters_wake_when_an_in_flight_request_finishes() -> None:
    """With every slot in flight, a waiter sleeps until a release and then the window."""
    fake = FakeTime()
    limiter = _limiter(1, fake)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    assert fake.sleeps == []  # waiting on the release, not polling the clock
    limiter.release()
    await waiter
    assert fake.sleeps == [61.0]


async def test_effective_limit_recovers_slowly_after_success() -> None:
    """After a 429 the limit climbs back by small steps per success, capped at the limit."""
    limiter = SlidingWindowLimiter(500)
    limiter.on_rate_limited(retry_after=None)
    assert limiter.effective_limit == 350
    for _ in range(10):
        limiter.on_success()
    assert limiter.effective_limit == 360
    for _ in range(10_000):
        limiter.on_success()
    assert limiter.effective_limit == 500


async def test_reduced_limit_is_enforced() -> None:
    """After a 429, fewer requests are admitted per window."""
    fake = FakeTime()
    limiter = _limiter(10, fake)
    limiter.on_rate_limited(retry_after=None)  # effective 7
    times = await _admit_all(limiter, fake, 14)
    assert times[7] - times[0] >= 61.0


def test_limit_must_be_positive() -> None:
    """A zero limit is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindowLimiter(0)
