"""Several processes and clients on one shared limit, against the sandbox's own rate limiter."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender
from heymarket_async.errors import ConfigurationError, RateLimiterUnavailableError
from heymarket_async.redis import RedisRateLimiter
from heymarket_async.sandbox import Sandbox

from ..bulk.conftest import client_for, phones, sends
from ..bulk.test_batch_sender import assert_exactly_once
from ..helpers import sandbox_env
from ..redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def _max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _worker(
    sb: Sandbox, redis_url: str, limit: int, start: int, count: int
) -> dict[str, int]:
    env = sandbox_env(sb)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.redis._worker",
        redis_url,
        "shared",
        str(limit),
        "1.0",
        str(start),
        str(count),
        str(sb.default_inbox_id),
        str(sb.default_creator_id),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()[-2000:]
    report: dict[str, int] = json.loads(stdout)
    return report


async def test_three_processes_share_one_limit_without_a_single_429(redis_url: str) -> None:
    """3 worker processes, 50 recipients each, one shared limit of 100 per 1 s window: the
    sandbox (a sliding window of its own) never answers 429 and each recipient gets one."""
    limit, each = 100, 50
    async with Sandbox(
        rate_limit_per_minute=limit, rate_limit_window=1.0, dedupe_individual_sends=False
    ) as sb:
        reports = await asyncio.gather(
            *(_worker(sb, redis_url, limit, n * each, each) for n in range(3))
        )
        assert [r["sent"] for r in reports] == [each] * 3
        assert sb.stats.rate_limited == 0
        assert sb.stats.statuses[429] == 0
        assert_exactly_once(sb, list(phones(3 * each)))
        assert _max_in_any_window([entry.at for entry in sb.ledger], 1.0) <= limit


async def test_interactive_keeps_its_share_next_to_a_saturating_bulk_job(redis_url: str) -> None:
    """A bulk job that would take the whole limit, and an interactive sender beside it on
    the same shared limit: interactive gets at least its 20 % in every window it runs."""
    limit, period = 50, 0.5
    async with Sandbox(
        rate_limit_per_minute=limit, rate_limit_window=period, dedupe_individual_sends=False
    ) as sb:

        def limiter() -> RedisRateLimiter:
            return RedisRateLimiter(redis_url, name="lanes", limit_per_minute=limit, period=period)

        async with (
            HeymarketClient(**sb.client_kwargs(), rate_limiter=limiter()) as bulk_hm,
            HeymarketClient(**sb.client_kwargs(), rate_limiter=limiter()) as interactive_hm,
        ):
            bulk = asyncio.create_task(
                BatchSender(bulk_hm, concurrency=16).send_all(sends(sb, list(phones(400))))
            )
            await asyncio.sleep(period)  # bulk has taken its share of the window
            latencies: list[float] = []
            started = time.monotonic()
            numbers = phones(1000, start=10_000)

            async def interactive() -> None:
                while time.monotonic() - started < 3 * period:
                    request = SendMessage(
                        inbox_id=sb.default_inbox_id,
                        creator_id=sb.default_creator_id,
                        phone_number=next(numbers),
                        text="Your code is 1234",
                    )
                    sent_at = time.monotonic()
                    await interactive_hm.messages.send_request(request)
                    latencies.append(time.monotonic() - sent_at)

            await asyncio.gather(*(interactive() for _ in range(4)))
            elapsed = time.monotonic() - started
            bulk.cancel()
            with pytest.raises(asyncio.CancelledError):
                await bulk
        reserved = limit * 0.2
        rate = len(latencies) / elapsed * period  # per window
        print(  # noqa: T201 - the figure the test exists for
            f"\ninteractive: {len(latencies)} sends in {elapsed:.2f} s = {rate:.1f} per window "
            f"(reserved {reserved:.0f}); latency median "
            f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        assert rate >= 0.9 * reserved
        assert sb.stats.rate_limited == 0


async def test_a_client_with_redis_down_mid_run_sends_nothing_and_raises_the_typed_error(
    sandbox: Sandbox,
) -> None:
    with RedisServer() as server:
        limiter = RedisRateLimiter(server.url, name="t", command_timeout=0.2, max_outage_wait=0.3)
        async with client_for(
            sandbox, rate_limit_per_minute=500, rate_limiter=limiter, retry=RetryPolicy(attempts=2)
        ) as hm:
            await hm.messages.send_request(next(sends(sandbox, ["15105550001"])))
            server.stop()
            with pytest.raises(RateLimiterUnavailableError):
                await asyncio.wait_for(
                    hm.messages.send_request(next(sends(sandbox, ["15105550002"]))), timeout=10
                )
        assert sandbox.stats.requests("POST /v1/message/send") == 1


async def test_a_client_with_redis_down_at_start_raises_configuration_error(
    sandbox: Sandbox,
) -> None:
    with RedisServer() as server:
        url = server.url
    limiter = RedisRateLimiter(url, name="t", command_timeout=0.3)
    async with client_for(sandbox, rate_limit_per_minute=500, rate_limiter=limiter) as hm:
        with pytest.raises(ConfigurationError, match="cannot reach Redis"):
            await asyncio.wait_for(
                hm.messages.send_request(next(sends(sandbox, ["15105550001"]))), timeout=10
            )
    assert sandbox.stats.total_requests == 0
