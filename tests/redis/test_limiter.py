"""The shared limiter's rules, checked against a real redis-server (no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from heymarket_async.errors import (
    ClientClosedError,
    ConfigurationError,
    PacingTimeoutError,
    RateLimiterUnavailableError,
)
from heymarket_async.redis import RedisRateLimiter

from .. import redis_server
from ..redis_server import RedisServer
from .conftest import MakeLimiter


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _settle(*limiters: RedisRateLimiter) -> None:
    """Let background releases and pauses reach Redis."""
    for limiter in limiters:
        if limiter._pending:
            await asyncio.gather(*limiter._pending)


async def test_no_sliding_window_ever_holds_more_than_the_limit(make_limiter: MakeLimiter) -> None:
    """Back-to-back requests over three windows: the (i + limit)-th is a full window after
    the i-th, so no window, wherever it starts (also across a boundary), sees 2x."""
    limiter = make_limiter(burst=10)
    admitted: list[float] = []
    for _ in range(30):
        await limiter.acquire()
        admitted.append(_now())
        limiter.release()
    gaps = [admitted[i + 10] - admitted[i] for i in range(20)]
    assert min(gaps) >= 0.5 - 0.005, gaps


async def test_a_slot_counts_while_in_flight_and_a_window_after_release(
    make_limiter: MakeLimiter,
) -> None:
    """Two requests in flight fill a limit of 2; the next waits at least a whole window after
    one of them ends, however long it was in flight."""
    limiter = make_limiter(limit_per_minute=2, burst=2)
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(PacingTimeoutError) as in_flight:
        await limiter.acquire(deadline=_now() + 0.1)
    assert in_flight.value.wait >= 0.5 - 0.001  # only a release can make room
    await asyncio.sleep(0.6)  # longer than a window: in flight still counts
    with pytest.raises(PacingTimeoutError):
        await limiter.acquire(deadline=_now() + 0.1)
    limiter.release()
    await _settle(limiter)
    released_at = _now()
    with pytest.raises(PacingTimeoutError) as after:
        await limiter.acquire(deadline=_now() + 0.1)
    assert after.value.wait > 0.4
    await limiter.acquire(deadline=_now() + 1.0)
    assert _now() - released_at >= 0.5 - 0.01


async def test_release_rescores_the_entry_to_its_finish_time(
    make_limiter: MakeLimiter, redis_url: str
) -> None:
    limiter = make_limiter()
    await limiter.acquire()
    await asyncio.sleep(0.2)
    limiter.release()
    await _settle(limiter)
    async with aioredis.Redis.from_url(redis_url) as store:
        seconds, micros = await store.time()
        now = seconds * 1_000_000 + micros
        flight = await store.zrange("heymarket:ratelimit:{t}:flight", 0, -1)
        done = await store.zrange("heymarket:ratelimit:{t}:done", 0, -1, withscores=True)
    assert flight == []
    assert len(done) == 1
    assert 0 <= now - done[0][1] < 100_000  # finished just now (server clock), not at admission


async def test_a_holder_that_dies_in_flight_frees_its_slot_after_hold_and_a_window(
    make_limiter: MakeLimiter,
) -> None:
    dead = make_limiter(limit_per_minute=1, hold=0.2)
    await dead.acquire()  # never released: the process "died"
    alive = make_limiter(limit_per_minute=1, hold=0.2)
    with pytest.raises(PacingTimeoutError):
        await alive.acquire(deadline=_now() + 0.1)
    started = _now()
    await asyncio.wait_for(alive.acquire(), timeout=5)
    assert _now() - started >= 0.5  # hold (0.2) + window (0.5) from admission, less the 0.1


async def test_a_429_seen_by_one_holder_pauses_every_holder(make_limiter: MakeLimiter) -> None:
    first, second = make_limiter(), make_limiter(max_pause=0.4)
    first.on_rate_limited(0.3)
    await _settle(first)
    with pytest.raises(PacingTimeoutError) as paused:
        await second.acquire(deadline=_now() + 0.1)
    assert 0.15 < paused.value.wait <= 0.3
    await asyncio.wait_for(second.acquire(), timeout=2)


async def test_the_shared_pause_is_capped_and_expires(
    make_limiter: MakeLimiter, redis_url: str
) -> None:
    limiter = make_limiter(max_pause=0.4)
    limiter.on_rate_limited(3600.0)
    await _settle(limiter)
    async with aioredis.Redis.from_url(redis_url) as store:
        ttl = await store.pttl("heymarket:ratelimit:{t}:pause")
    assert 0 < ttl <= 400
    other = make_limiter()
    with pytest.raises(PacingTimeoutError) as paused:
        await other.acquire(deadline=_now() + 0.05)
    assert paused.value.wait <= 0.4


async def test_bulk_never_takes_the_interactive_share(make_limiter: MakeLimiter) -> None:
    """Limit 10, share 20 %: bulk gets 8; interactive then still gets the last 2, and no more."""
    bulk, interactive = make_limiter(burst=10), make_limiter(burst=10)
    for _ in range(8):
        await bulk.acquire(lane="bulk", deadline=_now() + 0.05)
    with pytest.raises(PacingTimeoutError):
        await bulk.acquire(lane="bulk", deadline=_now() + 0.05)
    for _ in range(2):
        await interactive.acquire(deadline=_now() + 0.05)
    with pytest.raises(PacingTimeoutError):
        await interactive.acquire(deadline=_now() + 0.05)


async def test_interactive_may_use_the_whole_limit(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(burst=10)
    for _ in range(10):
        await limiter.acquire(deadline=_now() + 0.05)
    with pytest.raises(PacingTimeoutError):
        await limiter.acquire(lane="bulk", deadline=_now() + 0.05)


async def test_each_lane_is_paced_after_its_burst(make_limiter: MakeLimiter) -> None:
    """Burst 2 out of 10 per 0.5 s: the third request waits about one interval (0.05 s)."""
    limiter = make_limiter(burst=2)
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(PacingTimeoutError) as paced:
        await limiter.acquire(deadline=_now())
    assert 0.02 < paced.value.wait <= 0.1
    # Bulk has its own pace (its interval is 0.5 / 8), untouched by interactive's.
    await limiter.acquire(lane="bulk", deadline=_now())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_redis_down_at_start_is_a_configuration_error_without_the_password() -> None:
    limiter = RedisRateLimiter(
        f"redis://:hunter2secret@127.0.0.1:{_closed_port()}/0", name="t", command_timeout=0.5
    )
    try:
        with pytest.raises(ConfigurationError) as refused:
            await asyncio.wait_for(limiter.acquire(), timeout=5)
        assert "cannot reach Redis at 127.0.0.1:" in str(refused.value)
        assert "hunter2secret" not in str(refused.value)
        assert "hunter2secret" not in repr(limiter)
        with pytest.raises(ConfigurationError):
            await asyncio.wait_for(limiter.check(), timeout=5)
    finally:
        await limiter.aclose()


async def test_redis_killed_mid_run_fails_acquires_with_a_typed_error_by_their_deadline() -> None:
    with RedisServer() as server:
        limiter = RedisRateLimiter(server.url, name="t", command_timeout=0.5)
        try:
            await limiter.acquire()
            limiter.release()
            await _settle(limiter)
            server.stop()
            started = _now()
            with pytest.raises(RateLimiterUnavailableError) as down:
                await asyncio.wait_for(limiter.acquire(deadline=started + 0.4), timeout=5)
            assert _now() - started <= 0.4 + 0.1
            assert down.value.possibly_sent is False
            assert "failed" in str(down.value)
            assert "did not answer for 0.0 s" not in str(down.value)
            limiter.release()  # nothing admitted: nothing to release, nothing raised
        finally:
            await limiter.aclose()


async def test_without_a_deadline_an_outage_is_bounded_by_max_outage_wait() -> None:
    with RedisServer() as server:
        limiter = RedisRateLimiter(server.url, name="t", command_timeout=0.2, max_outage_wait=0.5)
        try:
            await limiter.check()
            server.stop()
            with pytest.raises(RateLimiterUnavailableError):
                await asyncio.wait_for(limiter.acquire(), timeout=5)
        finally:
            await limiter.aclose()


async def test_close_wakes_a_waiter(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(limit_per_minute=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    limiter.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(waiter, timeout=2)
    with pytest.raises(ClientClosedError):
        await limiter.acquire()


@pytest.mark.parametrize(
    "options",
    [
        {"name": ""},
        {"name": "a}b"},
        {"limit_per_minute": 0},
        {"limit_per_minute": True},
        {"interactive_share": 1.0},
        {"period": 0},
        {"burst": 11, "limit_per_minute": 10},
        {"hold": float("nan")},
    ],
)
def test_invalid_options_are_configuration_errors(options: dict[str, object]) -> None:
    settings: dict[str, object] = {"name": "t", **options}
    with pytest.raises(ConfigurationError):
        RedisRateLimiter("redis://127.0.0.1:1/0", **settings)  # type: ignore[arg-type]


def test_an_invalid_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        RedisRateLimiter("http://example.invalid/", name="t")


async def test_after_an_outage_the_limiter_resumes_when_redis_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis restarted empty (scripts and counts gone): acquires work again, none unpaced."""
    with RedisServer() as server:
        limiter = RedisRateLimiter(server.url, name="t", command_timeout=0.3)
        try:
            await limiter.acquire()
            limiter.release()
            await _settle(limiter)
            server.stop()
            with pytest.raises(RateLimiterUnavailableError):
                await limiter.acquire(deadline=_now() + 0.3)
            monkeypatch.setattr(redis_server, "_free_port", lambda: server.port)
            server.start()  # the same port, an empty server
            await asyncio.wait_for(limiter.acquire(deadline=_now() + 2), timeout=5)
            limiter.release()
            await _settle(limiter)
            async with aioredis.Redis.from_url(server.url) as store:
                assert await store.zcard("heymarket:ratelimit:{t}:done") == 1
        finally:
            await limiter.aclose()


@contextlib.asynccontextmanager
async def _distant(redis_url: str, delay: float) -> AsyncIterator[str]:
    """A loopback proxy that puts Redis ``delay`` seconds away (each way to Redis, in order);
    yields its URL."""
    target = urlsplit(redis_url)
    handlers: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lag: float) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(lag)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        server_in, server_out = await asyncio.open_connection(target.hostname, target.port)
        await asyncio.gather(pipe(client_in, server_out, delay), pipe(server_in, client_out, 0))

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}{target.path}"
    finally:
        proxy.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await proxy.wait_closed()


async def test_a_fail_fast_acquire_is_not_cut_short_by_its_own_deadline(redis_url: str) -> None:
    """deadline = now (``max_pacing_wait=0``) with Redis a little away and a slot free: the
    script gets its command timeout, not what is left of the deadline, and admits."""
    async with _distant(redis_url, 0.05) as url:
        limiter = RedisRateLimiter(url, name="far", command_timeout=5)
        try:
            await limiter.check()
            for _ in range(3):
                await asyncio.wait_for(limiter.acquire(deadline=_now()), timeout=10)
                limiter.release()
            await _settle(limiter)
        finally:
            await limiter.aclose()


async def test_an_acquire_cancelled_on_the_wire_leaves_no_slot_behind(redis_url: str) -> None:
    """Cancelled while its script is on the way: the script still runs and admits, and the
    limiter drops that slot right after instead of letting it count for hold + a window."""
    async with _distant(redis_url, 0.2) as url:
        limiter = RedisRateLimiter(url, name="far", command_timeout=5)
        try:
            await limiter.check()
            waiter = asyncio.create_task(limiter.acquire(lane="bulk"))
            await asyncio.sleep(0.05)  # the script left; Redis sees it 0.15 s from now
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            await asyncio.wait_for(_settle(limiter), timeout=10)
        finally:
            await limiter.aclose()
    async with aioredis.Redis.from_url(redis_url) as store:
        assert await store.hexists("heymarket:ratelimit:{far}:pace", "bulk")  # it ran
        assert await store.zcard("heymarket:ratelimit:{far}:flight") == 0
        assert await store.zcard("heymarket:ratelimit:{far}:bulk-flight") == 0
