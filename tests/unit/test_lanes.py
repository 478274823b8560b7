"""Priority lanes: the in-process limiter honours them as the shared one does, and the
client picks a lane per request (bulk machinery: bulk; everything else: interactive)."""

from __future__ import annotations

import asyncio

import pytest

from heymarket_async import HeymarketClient
from heymarket_async._ratelimit import Lane, SlidingWindowLimiter, current_lane, lane_scope
from heymarket_async.bulk import BatchSender, broadcast
from heymarket_async.errors import ConfigurationError, PacingTimeoutError
from heymarket_async.sandbox import Sandbox

from ..bulk.conftest import phones, sends
from ..virtual_time import run_virtual

WINDOW = 61.0


def _now() -> float:
    return asyncio.get_running_loop().time()


def _limiter(limit: int, **options: object) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, period=60.0, padding=1.0, clock=_now, **options)  # type: ignore[arg-type]


async def _admit(limiter: SlidingWindowLimiter, lane: Lane, n: int, until: float) -> list[float]:
    """``n`` callers of ``lane`` (instant requests); admission times before ``until``."""
    times: list[float] = []

    async def one() -> None:
        try:
            await limiter.acquire(lane=lane, deadline=until)
        except PacingTimeoutError:
            return
        times.append(_now())
        limiter.release(lane=lane)

    await asyncio.gather(*(one() for _ in range(n)))
    return times


def test_bulk_alone_keeps_out_of_the_interactive_share() -> None:
    async def main() -> list[float]:
        return await _admit(_limiter(100), "bulk", 400, _now() + 3 * WINDOW)

    times = run_virtual(main())
    assert abs(len(times) - 3 * 80) <= 10  # 80 per window, the burst aside
    assert max(sum(1 for t in times if s <= t < s + WINDOW) for s in times) <= 80


def test_interactive_keeps_its_share_beside_saturating_bulk() -> None:
    """A queue of hundreds of bulk requests does not make interactive wait behind it."""

    async def main() -> tuple[list[float], list[float]]:
        limiter = _limiter(100)
        until = _now() + 3 * WINDOW
        bulk = asyncio.create_task(_admit(limiter, "bulk", 400, until))
        await asyncio.sleep(1)
        interactive = await _admit(limiter, "interactive", 200, until)
        return await bulk, interactive

    bulk, interactive = run_virtual(main())
    assert len(interactive) >= 3 * 20 - 5
    every = sorted(bulk + interactive)
    assert max(sum(1 for t in every if s <= t < s + WINDOW) for s in every) <= 100


def test_a_share_of_zero_lets_bulk_use_everything() -> None:
    async def main() -> list[float]:
        return await _admit(_limiter(100, interactive_share=0), "bulk", 200, _now() + WINDOW)

    assert len(run_virtual(main())) >= 95


@pytest.mark.parametrize("share", [-0.1, 1.0, float("nan"), "0.2", True])
def test_an_invalid_share_is_refused(share: object) -> None:
    with pytest.raises(ValueError, match="interactive_share"):
        SlidingWindowLimiter(10, interactive_share=share)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="interactive_share"):
        HeymarketClient(api_key="k", interactive_share=share)  # type: ignore[arg-type]


class _RecordingLimiter:
    """A limiter that admits everything and notes each request's lane."""

    def __init__(self) -> None:
        self.lanes: list[Lane] = []
        self.closed = False

    async def acquire(self, *, deadline: float | None = None, lane: Lane = "interactive") -> None:
        self.lanes.append(lane)

    def release(self, *, lane: Lane = "interactive") -> None:
        assert lane == self.lanes[-1] or lane in self.lanes

    def on_success(self) -> None:
        pass

    def on_rate_limited(self, retry_after: float | None) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        pass


async def test_single_calls_are_interactive_and_bulk_machinery_is_bulk() -> None:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        limiter = _RecordingLimiter()
        async with HeymarketClient(**sb.client_kwargs(), rate_limiter=limiter) as hm:
            await hm.messages.send_request(next(sends(sb, ["15105550001"])))
            assert set(limiter.lanes) == {"interactive"}
            limiter.lanes.clear()
            await BatchSender(hm).send_all(sends(sb, list(phones(3))))
            assert set(limiter.lanes) == {"bulk"}
            limiter.lanes.clear()
            await broadcast(
                hm,
                inbox_id=sb.default_inbox_id,
                creator_id=sb.default_creator_id,
                phones=list(phones(3, start=100)),
                key="lanes",
                text="Hi",
            )
            assert set(limiter.lanes) == {"bulk"}
            assert current_lane.get() == "interactive"  # nothing leaked into the caller
        assert limiter.closed


@pytest.mark.parametrize("lane", ["interactive", "bulk"])
async def test_a_client_lane_overrides_the_default(lane: Lane) -> None:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        limiter = _RecordingLimiter()
        async with HeymarketClient(**sb.client_kwargs(), rate_limiter=limiter, lane=lane) as hm:
            await hm.messages.send_request(next(sends(sb, ["15105550001"])))
            with lane_scope("bulk" if lane == "interactive" else "interactive"):
                await BatchSender(hm).send_all(sends(sb, list(phones(2))))
        assert set(limiter.lanes) == {lane}


@pytest.mark.parametrize(
    "options",
    [{"rate_limit_per_minute": 100}, {"rate_limit_per_minute": None}, {"interactive_share": 0.5}],
)
def test_a_shared_limiter_excludes_the_local_options(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="rate_limiter"):
        HeymarketClient(api_key="k", rate_limiter=_RecordingLimiter(), **options)  # type: ignore[arg-type]


def test_an_invalid_lane_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="lane"):
        HeymarketClient(api_key="k", lane="urgent")  # type: ignore[arg-type]
