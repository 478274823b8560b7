"""The limiter on a virtual clock: minutes of pacing run in milliseconds, deterministically."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Callable

import pytest

from heymarket_async._ratelimit import SlidingWindowLimiter, capped_wait
from heymarket_async.errors import ClientClosedError, PacingTimeoutError, RateLimitError

from ..virtual_time import run_virtual

WINDOW = 61.0  # period 60 s plus 1 s of padding


def _now() -> float:
    return asyncio.get_running_loop().time()


def _limiter(limit: int, **options: object) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, period=60.0, padding=1.0, clock=_now, **options)  # type: ignore[arg-type]


async def _admit_all(
    limiter: SlidingWindowLimiter, n: int, *, duration: float = 0.0
) -> list[float]:
    """``n`` concurrent callers; each request takes ``duration``. Returns admission times."""
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(_now())
        await asyncio.sleep(duration)
        limiter.release()

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(times)


def _max_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


Answer = Callable[[float], float | None]  # now -> None (accepted), or a 429's Retry-After


async def _campaign(
    limiter: SlidingWindowLimiter,
    *,
    seconds: float,
    answer: Answer,
    workers: int = 16,
    latency: float = 0.2,
) -> list[float]:
    """Workers send back to back for ``seconds``; a 429 waits its Retry-After (capped) and
    retries. Returns the times of accepted (non-429) answers."""
    accepted: list[float] = []
    end = _now() + seconds

    async def worker() -> None:
        while _now() < end:
            await limiter.acquire()
            try:
                await asyncio.sleep(latency)
                verdict = answer(_now())
            finally:
                limiter.release()
            if verdict is None:
                limiter.on_success()
                accepted.append(_now())
            else:
                limiter.on_rate_limited(verdict)
                await asyncio.sleep(capped_wait(verdict, 30.0) or 0.0)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return accepted


def _per_window(times: list[float], start: float, windows: int) -> list[int]:
    counts = [0] * windows
    for t in times:
        index = int((t - start) // WINDOW)
        if 0 <= index < windows:
            counts[index] += 1
    return counts


# --- the window and the pace -------------------------------------------------------------


def test_concurrent_callers_never_exceed_the_limit_in_any_window() -> None:
    """50 concurrent callers under a limit of 10/min never put 11 in one sliding window."""

    async def main() -> list[float]:
        return await _admit_all(_limiter(10), 50, duration=2.0)

    times = run_virtual(main())
    assert len(times) == 50
    assert _max_in_any_window(times, WINDOW) <= 10
    # Paced, not stalled: one per 6.1 s, slowed only by each slot being held 2 s longer.
    assert 49 * WINDOW / 10 <= times[-1] - times[0] <= 5 * (WINDOW + 2.0)


def test_requests_are_spread_through_the_window_after_a_small_burst() -> None:
    """A burst of 10 % of the limit goes at once, then one request every window/limit."""

    async def main() -> list[float]:
        return await _admit_all(_limiter(100), 14)

    times = run_virtual(main())
    start = times[0]
    assert times[:10] == [start] * 10  # the burst: default 10 % of 100
    gaps = [b - a for a, b in itertools.pairwise(times[9:])]
    assert gaps == pytest.approx([WINDOW / 100] * 4)


def test_burst_is_configurable() -> None:
    """``burst`` sets how many go back to back; 1 means strictly one per interval."""

    async def main() -> list[float]:
        return await _admit_all(_limiter(10, burst=1), 3)

    times = run_virtual(main())
    assert [t - times[0] for t in times] == pytest.approx([0.0, 6.1, 12.2])


def test_a_caller_arriving_mid_campaign_waits_a_few_intervals_not_a_window() -> None:
    """While 8 workers send back to back, a newcomer waits behind them only, about 8 slots."""

    async def main() -> float:
        limiter = _limiter(60)
        stop = asyncio.Event()

        async def worker() -> None:
            while not stop.is_set():
                await limiter.acquire()
                await asyncio.sleep(0.1)
                limiter.release()

        tasks = [asyncio.create_task(worker()) for _ in range(8)]
        await asyncio.sleep(30.0)
        asked = _now()
        await limiter.acquire()
        waited = _now() - asked
        limiter.release()
        stop.set()
        await asyncio.gather(*tasks)
        return waited

    waited = run_virtual(main())
    # One slot per 61/60 s; 8 workers ahead. (Burst-then-idle pacing made this ~31 s.)
    assert waited <= 9 * WINDOW / 60


def test_slots_count_from_when_requests_finish() -> None:
    """A slow request holds its slot until a full window after it finished."""

    async def main() -> float:
        limiter = _limiter(2, burst=2)
        await limiter.acquire()
        await limiter.acquire()
        await asyncio.sleep(10.0)  # both requests take 10 s on the wire
        limiter.release()
        limiter.release()
        start = _now()
        await limiter.acquire()
        return _now() - start

    assert run_virtual(main()) == pytest.approx(WINDOW)


def test_waiters_wake_when_an_in_flight_request_finishes() -> None:
    """With every slot in flight, a waiter sleeps until a release, then the window."""

    async def main() -> None:
        limiter = _limiter(1)
        await limiter.acquire()
        start = _now()
        waiter = asyncio.create_task(limiter.acquire())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()
        await asyncio.sleep(3.0)
        assert not waiter.done()  # nothing frees a slot but a release
        limiter.release()
        await waiter
        assert _now() - start == pytest.approx(3.0 + WINDOW)

    run_virtual(main())


# --- deadlines and closing ---------------------------------------------------------------


def test_a_wait_past_the_deadline_fails_at_once_with_its_length() -> None:
    """If the slot comes after the deadline, acquire raises at once and keeps no place."""

    async def main() -> None:
        limiter = _limiter(10, burst=1)
        await limiter.acquire()
        limiter.release()
        start = _now()
        with pytest.raises(PacingTimeoutError) as info:
            await limiter.acquire(deadline=start + 1.0)
        assert _now() == start  # no waiting at all
        assert info.value.wait == pytest.approx(6.1)
        assert isinstance(info.value, RateLimitError)
        assert "6.1 s" in str(info.value)
        assert "nothing was sent" in str(info.value)
        # The refused caller took no place: the next one still gets the first free slot.
        await limiter.acquire(deadline=start + 7.0)
        assert _now() - start == pytest.approx(6.1)

    run_virtual(main())


def test_deadline_counts_while_every_slot_is_in_flight() -> None:
    """With all slots in flight, a deadline shorter than a window fails at once."""

    async def main() -> None:
        limiter = _limiter(1)
        await limiter.acquire()
        with pytest.raises(PacingTimeoutError) as info:
            await limiter.acquire(deadline=_now() + 5.0)
        assert info.value.wait >= WINDOW
        limiter.release()

    run_virtual(main())


def test_a_slow_release_does_not_hold_a_waiter_past_its_deadline() -> None:
    """Waiting for a release ends at the deadline with PacingTimeoutError."""

    async def main() -> None:
        limiter = _limiter(2, burst=2)
        await limiter.acquire()
        await limiter.acquire()
        start = _now()
        with pytest.raises(PacingTimeoutError):
            await limiter.acquire(deadline=start + 100.0)
        assert _now() - start == pytest.approx(100.0)
        limiter.release()
        limiter.release()

    run_virtual(main())


def test_close_wakes_waiters_with_client_closed_error() -> None:
    """Closing ends every wait with ClientClosedError; later acquires raise it too."""

    async def main() -> None:
        limiter = _limiter(10, burst=1)
        await limiter.acquire()
        limiter.release()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(1.0)
        start = _now()
        limiter.close()
        with pytest.raises(ClientClosedError):
            await waiter
        assert _now() == start
        with pytest.raises(ClientClosedError):
            await limiter.acquire()

    run_virtual(main())


def test_a_cancelled_waiter_gives_its_place_back() -> None:
    """A waiter cancelled before its slot does not leave a hole in the pace."""

    async def main() -> None:
        limiter = _limiter(10, burst=1)
        await limiter.acquire()
        limiter.release()
        start = _now()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(1.0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await limiter.acquire()
        assert _now() - start == pytest.approx(6.1)

    run_virtual(main())


# --- 429s ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "pause"),
    [(5.0, 5.0), (1e9, 30.0), (math.inf, 30.0), (-5.0, 0.0), (math.nan, 61 / 60), (None, 61 / 60)],
)
def test_a_429_pauses_everyone_for_a_capped_time(retry_after: float | None, pause: float) -> None:
    """A 429 pauses every caller for Retry-After, never beyond max_pause, and keeps the rate."""

    async def main() -> None:
        limiter = _limiter(10, max_pause=30.0)
        limiter.on_rate_limited(retry_after)
        assert limiter.paused_for == pytest.approx(pause)
        assert limiter.effective_limit == 10  # one 429 is no reason to slow down
        start = _now()
        await limiter.acquire()
        assert _now() - start == pytest.approx(pause)

    run_virtual(main())


def test_a_pause_holds_callers_who_were_already_waiting() -> None:
    """A 429 that arrives while a caller waits for its slot holds that caller too."""

    async def main() -> None:
        limiter = _limiter(10, burst=1)
        await limiter.acquire()
        limiter.release()
        start = _now()
        waiter = asyncio.create_task(limiter.acquire())  # its slot: start + 6.1
        await asyncio.sleep(1.0)
        limiter.on_rate_limited(20.0)
        await waiter
        assert _now() - start == pytest.approx(21.0)

    run_virtual(main())


def test_a_free_slot_is_taken_even_past_the_deadline() -> None:
    """No wait, no error: a passed deadline only refuses waits (the wire has its own)."""

    async def main() -> None:
        limiter = _limiter(10)
        await limiter.acquire(deadline=_now() - 1.0)
        limiter.release()

    run_virtual(main())


def test_capped_wait() -> None:
    """Server-chosen waits are clamped to [0, cap]; NaN and None mean 'none given'."""
    assert capped_wait(3.0, 10.0) == 3.0
    assert capped_wait(1e9, 10.0) == 10.0
    assert capped_wait(math.inf, 10.0) == 10.0
    assert capped_wait(-1.0, 10.0) == 0.0
    assert capped_wait(math.nan, 10.0) is None
    assert capped_wait(None, 10.0) is None


def test_a_trickle_of_429s_does_not_collapse_the_rate() -> None:
    """With 5 % random 429s (Retry-After 1 s), every window still carries >= 85 % of the limit."""
    rng = random.Random(1234)

    def answer(_now: float) -> float | None:
        return 1.0 if rng.random() < 0.05 else None

    async def main() -> tuple[list[int], int, int]:
        limiter = _limiter(100)
        start = _now()
        accepted = await _campaign(limiter, seconds=10 * WINDOW, answer=answer)
        return _per_window(accepted, start, 10), limiter.effective_limit, limiter.limit

    counts, effective, limit = run_virtual(main())
    assert effective == limit
    assert min(counts) >= 85, counts


def test_persistent_429s_cut_the_rate_and_it_returns_within_a_window() -> None:
    """429s on a third of the answers for three windows cut the rate; one clean window later
    it is back at the limit."""
    rng = random.Random(99)
    start = 1000.0

    def answer(now: float) -> float | None:
        storm = start + WINDOW <= now < start + 4 * WINDOW
        return 1.0 if storm and rng.random() < 0.33 else None

    async def main() -> tuple[list[int], list[int]]:
        limiter = _limiter(100)
        effective: list[int] = []

        async def watch() -> None:
            for _ in range(7):
                await asyncio.sleep(WINDOW)
                effective.append(limiter.effective_limit)

        watcher = asyncio.create_task(watch())
        accepted = await _campaign(limiter, seconds=7 * WINDOW - 1, answer=answer)
        await watcher
        return effective, _per_window(accepted, start, 7)

    effective, counts = run_virtual(main(), start=start)
    # Window 1 is clean; windows 2-4 are storms: the second and third storm windows cut the rate.
    assert effective[0] == effective[1] == 100
    assert effective[2] < 100
    assert effective[3] < effective[2]
    # The storm ends with window 4; after one clean window (5) the limit is back.
    assert effective[5] == 100
    assert counts[6] >= 85, counts


def test_limit_and_burst_must_make_sense() -> None:
    """A zero limit, or a burst outside 1..limit, is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindowLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        SlidingWindowLimiter(10, burst=11)
    with pytest.raises(ValueError, match="burst"):
        SlidingWindowLimiter(10, burst=0)
