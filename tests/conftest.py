from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aioresponses import aioresponses

from heymarket_async import HeymarketClient, RetryPolicy
from heymarket_async.testing import retry_waits_disabled

from .helpers import BASE_URL, SECRET_ID, SECRET_KEY, MockApi
from .redis_server import RedisServer, flush


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Every test runs with zero retry backoff unless it re-enables waits itself."""
    with retry_waits_disabled():
        yield


@pytest.fixture
def mock_api() -> Iterator[MockApi]:
    with aioresponses() as mocked:
        yield MockApi(mocked)


@pytest.fixture
async def client() -> AsyncIterator[HeymarketClient]:
    async with HeymarketClient(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        base_url=BASE_URL,
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=4, deadline=30.0),
    ) as hm:
        yield hm


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server on a free loopback port for the whole session."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty Redis database (flushed before each test)."""
    flush(redis_server.port)
    return redis_server.url
