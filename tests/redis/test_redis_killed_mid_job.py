"""A bulk job whose shared limiter's Redis is killed mid-run, then restarted.

The journal is the SQLite one, on purpose: it does not live in the Redis being killed, so
the job keeps running and every send it cannot pace ends as its own ``failed`` outcome; and
a restarted Redis without persistence comes back empty, so a journal kept in it could not
resume anything. (A job whose Redis journal goes down stops with ``BulkSendError``:
``test_journal_redis.py::test_redis_stopping_mid_job_stops_it_with_bulk_send_error``.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from heymarket_async import RetryPolicy
from heymarket_async._ratelimit import Lane
from heymarket_async.bulk import BatchSender, Outcome, OutcomeStatus
from heymarket_async.errors import ConfigurationError, RateLimiterUnavailableError
from heymarket_async.redis import RedisRateLimiter
from heymarket_async.sandbox import Sandbox
from heymarket_async.testing import retry_waits_disabled

from ..bulk.conftest import client_for, phones, sends
from ..bulk.test_batch_sender import assert_exactly_once
from ..redis_server import RedisServer, redis_binary

LIMIT = 100  # per PERIOD, for the limiter and the sandbox alike
PERIOD = 1.0
COUNT = 300
KILL_AFTER = 80  # sends answered before Redis is killed
CONCURRENCY = 8


class KillableRedis(RedisServer):
    """A ``RedisServer`` that can be SIGKILLed and started again on the same port."""

    def __enter__(self) -> KillableRedis:
        self.start()
        return self

    def kill(self) -> None:
        process = self._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - a fixed argument list
            [redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class RecordingLimiter(RedisRateLimiter):
    """Notes when each slot was granted (Unix seconds, the sandbox's clock)."""

    admitted: list[float]

    async def acquire(self, *, deadline: float | None = None, lane: Lane = "interactive") -> None:
        await super().acquire(deadline=deadline, lane=lane)
        self.admitted.append(time.time())


def _limiter(url: str) -> RecordingLimiter:
    limiter = RecordingLimiter(
        url,
        name="outage",
        limit_per_minute=LIMIT,
        period=PERIOD,
        interactive_share=0,
        command_timeout=0.3,
        max_outage_wait=0.2,
    )
    limiter.admitted = []
    return limiter


async def _wait_for_redis(url: str) -> None:
    probe = RedisRateLimiter(url, name="probe")
    try:
        for _ in range(200):
            try:
                await probe.check()
                return
            except ConfigurationError:  # not up yet
                await asyncio.sleep(0.02)
        raise AssertionError("redis-server did not come back")
    finally:
        await probe.aclose()


async def test_redis_killed_mid_job_fails_sends_typed_never_unpaced_and_the_rerun_resumes(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "job.sqlite3")
    numbers = list(phones(COUNT))
    async with Sandbox(
        rate_limit_per_minute=LIMIT, rate_limit_window=PERIOD, dedupe_individual_sends=False
    ) as sb:
        with KillableRedis() as server, retry_waits_disabled():
            limiter = _limiter(server.url)
            answered = 0
            killed_at: list[float] = []

            def on_outcome(outcome: Outcome) -> None:
                nonlocal answered
                answered += 1
                if answered == KILL_AFTER:
                    killed_at.append(time.time())
                    server.kill()

            async with client_for(
                sb,
                rate_limit_per_minute=500,
                rate_limiter=limiter,
                retry=RetryPolicy(attempts=2, deadline=5.0),
            ) as hm:
                sender = BatchSender(
                    hm,
                    concurrency=CONCURRENCY,
                    key="outage",
                    journal=journal,
                    on_outcome=on_outcome,
                )
                first = await asyncio.wait_for(sender.send_all(sends(sb, numbers)), timeout=30)
            [kill] = killed_at

            # Typed ends only: what was not sent failed because the limiter had no Redis.
            assert first.sent + first.failed == COUNT, first
            assert first.unknown == first.skipped == 0
            assert first.failed > 0
            errors = {type(o.error) for o in first.problems}
            assert errors == {RateLimiterUnavailableError}, errors
            assert all(o.status is OutcomeStatus.FAILED for o in first.problems)

            # Nothing unpaced: every request the sandbox saw had a slot; after the kill, no
            # slot was granted (but the one Redis may have answered just before it: a lane
            # asks Redis one request at a time) and only requests already in flight arrived.
            arrivals = [entry.at for entry in sb.ledger]
            assert len(arrivals) == first.sent == len(limiter.admitted)
            assert len([t for t in limiter.admitted if t > kill]) <= 1
            assert len([t for t in arrivals if t > kill]) <= CONCURRENCY
            assert sb.stats.requests("POST /v1/message/send") == first.sent
            assert sb.stats.rate_limited == 0

            # Redis back on the same port, empty: rerun once the sandbox's window has passed
            # (the new Redis cannot know what the old one counted).
            server.restart()
            await _wait_for_redis(server.url)
            await asyncio.sleep(max(0.0, max(arrivals) + PERIOD * 1.1 - time.time()))
            async with client_for(
                sb, rate_limit_per_minute=500, rate_limiter=_limiter(server.url)
            ) as hm:
                sender = BatchSender(hm, concurrency=CONCURRENCY, key="outage", journal=journal)
                second = await asyncio.wait_for(sender.send_all(sends(sb, numbers)), timeout=30)

        assert second.ok, second.problems[:3]
        assert second.skipped == first.sent
        assert second.sent == first.failed
        assert_exactly_once(sb, numbers)
        assert sb.stats.rate_limited == 0


async def test_once_an_outage_outlasts_max_outage_wait_later_acquires_fail_at_once() -> None:
    """Each request no longer waits a whole ``max_outage_wait`` of its own: without the
    shared outage clock, the ten acquires below would take 20 s together."""
    with KillableRedis() as server:
        limiter = RedisRateLimiter(
            server.url,
            name="outage",
            limit_per_minute=10_000,
            command_timeout=0.3,
            max_outage_wait=2.0,
        )
        try:
            await limiter.acquire(lane="bulk")
            limiter.release(lane="bulk")
            server.kill()
            with pytest.raises(RateLimiterUnavailableError):
                await asyncio.wait_for(limiter.acquire(lane="bulk"), timeout=10)

            async def ten_more() -> int:
                failed = 0
                for _ in range(10):
                    with pytest.raises(RateLimiterUnavailableError):
                        await limiter.acquire(lane="bulk")
                    failed += 1
                return failed

            assert await asyncio.wait_for(ten_more(), timeout=5) == 10

            # Back (same port): the next acquire is admitted and the outage is over.
            server.restart()
            await _wait_for_redis(server.url)
            await asyncio.wait_for(limiter.acquire(lane="bulk"), timeout=10)
            limiter.release(lane="bulk")
            assert limiter._outage_since is None
        finally:
            await limiter.aclose()
