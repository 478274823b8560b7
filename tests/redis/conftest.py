from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from heymarket_async.redis import RedisRateLimiter
from heymarket_async.sandbox import Sandbox

MakeLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
async def make_limiter(redis_url: str) -> AsyncIterator[MakeLimiter]:
    """Limiters on the test's Redis (name "t", 10 per 0.5 s, no padding); closed at the end."""
    made: list[RedisRateLimiter] = []

    def make(**options: Any) -> RedisRateLimiter:
        settings: dict[str, Any] = {
            "name": "t",
            "limit_per_minute": 10,
            "period": 0.5,
            "padding": 0,
            **options,
        }
        limiter = RedisRateLimiter(redis_url, **settings)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb
