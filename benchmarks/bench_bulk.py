"""Cases 4 and 5: bulk sending against the sandbox (run in its own process).

Case 4, rate: with the client limiter and the sandbox both at ``limit`` requests per
``window`` seconds, the sustained send rate of ``BatchSender`` over the limit (1.0 is
perfect pacing), the 429s the sandbox had to send, and requests per recipient for
individual sends against ``broadcast()`` (list broadcasts).

Case 5, memory: peak traced-allocation growth and RSS growth while ``BatchSender`` streams
N generated requests (a generator, never a list) with the limiter off; growth should stay
flat as N grows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

from _harness import ServerInfo, memory_probe, sandbox_stats, server_process

from heymarket_async import HeymarketClient
from heymarket_async._ratelimit import SlidingWindowLimiter
from heymarket_async.bulk import BatchSender, broadcast
from heymarket_async.resources.messages import SendMessage

INBOX_ID = 42  # the sandbox's default SMS inbox and owner
CREATOR_ID = 7
STATS_ROUTE = "GET /_bench/stats"


def generated_sends(count: int, *, area: int) -> Iterator[SendMessage]:
    """``count`` distinct one-to-one sends, made lazily; ``area`` keeps runs apart."""
    for i in range(count):
        yield SendMessage(
            inbox_id=INBOX_ID,
            creator_id=CREATOR_ID,
            phone_number=f"1{area:03d}{i:07d}",
            text="Your appointment is tomorrow at 10:00",
        )


def _api_requests(stats: dict[str, object]) -> int:
    by_route = stats["requests_by_route"]
    assert isinstance(by_route, dict)
    return sum(n for route, n in by_route.items() if route != STATS_ROUTE)


@dataclass
class RateResult:
    limit: int
    window: float
    sends: int
    ceiling: float
    sustained_rate: float
    overall_rate: float
    individual_429s: int
    individual_requests_per_recipient: float
    recipients: int
    broadcast_requests: int
    broadcast_429s: int
    broadcast_requests_per_recipient: float
    broadcast_seconds: float


async def _settled_stats(info: ServerInfo, window: float) -> dict[str, object]:
    # Let the sandbox's window empty first, so the stats call itself is never refused.
    await asyncio.sleep(window * 1.1)
    return await sandbox_stats(info)


async def measure_rate(
    *, limit: int, window: float, sends: int, recipients: int, list_size: int
) -> RateResult:
    server_args = ("--rate-limit", str(limit), "--window", str(window))
    with server_process("sandbox", *server_args) as info:
        async with HeymarketClient(**info.client_kwargs()) as hm:
            limiter = hm._limiter = SlidingWindowLimiter(limit, period=window, interactive_share=0)
            # The limiter pads its window (clock skew margin), so limit/window is not
            # quite reachable; this is the most it can admit.
            ceiling = window / limiter.window
            finished: list[float] = []
            sender = BatchSender(
                hm,
                concurrency=8,
                key="bench-rate",
                on_outcome=lambda _outcome: finished.append(time.perf_counter()),
            )
            started = time.perf_counter()
            report = await sender.send_all(generated_sends(sends, area=510))
            assert report.sent == sends, report
        stats = await _settled_stats(info, window)
    # The first window's worth goes out at once (nothing was sent before it); the rate that
    # matters is the one sustained after it.
    sustained = (sends - limit) / (finished[-1] - finished[limit - 1]) if sends > limit else 0.0
    overall = sends / (finished[-1] - started)
    individual_429s = int(stats["rate_limited"])  # type: ignore[call-overload]
    individual_rpr = _api_requests(stats) / sends

    with server_process("sandbox", *server_args, "--list-size", str(list_size)) as info:
        async with HeymarketClient(**info.client_kwargs()) as hm:
            hm._limiter = SlidingWindowLimiter(limit, period=window, interactive_share=0)
            phones = (f"1415{i:07d}" for i in range(recipients))
            started = time.perf_counter()
            result = await broadcast(
                hm,
                inbox_id=INBOX_ID,
                creator_id=CREATOR_ID,
                phones=phones,
                text="Store opens at 9 tomorrow",
                key="bench-broadcast",
            )
            broadcast_seconds = time.perf_counter() - started
            assert result.sent == recipients, result
        stats = await _settled_stats(info, window)
    broadcast_requests = _api_requests(stats)
    return RateResult(
        limit=limit,
        window=window,
        sends=sends,
        ceiling=ceiling,
        sustained_rate=sustained,
        overall_rate=overall,
        individual_429s=individual_429s,
        individual_requests_per_recipient=individual_rpr,
        recipients=recipients,
        broadcast_requests=broadcast_requests,
        broadcast_429s=int(stats["rate_limited"]),  # type: ignore[call-overload]
        broadcast_requests_per_recipient=broadcast_requests / recipients,
        broadcast_seconds=broadcast_seconds,
    )


@dataclass
class MemoryResult:
    sends: int
    peak_growth: int
    rss_delta: int
    seconds: float


async def measure_memory(sends: int, *, concurrency: int = 8) -> MemoryResult:
    """Stream ``sends`` generated requests through ``BatchSender`` with tracemalloc on."""
    with server_process("sandbox") as info:
        async with HeymarketClient(**info.client_kwargs(), rate_limit_per_minute=None) as hm:
            # Warm up first: session, connection pool, journal code paths, lazy imports.
            warm = BatchSender(hm, concurrency=concurrency, key="bench-warm")
            await warm.send_all(generated_sends(concurrency * 4, area=999))
            sender = BatchSender(hm, concurrency=concurrency, key="bench-memory")
            with memory_probe() as memory:
                started = time.perf_counter()
                report = await sender.send_all(generated_sends(sends, area=650))
                seconds = time.perf_counter() - started
            assert report.sent == sends, report
    return MemoryResult(
        sends=sends,
        peak_growth=memory["peak_growth"],
        rss_delta=memory["rss_delta"],
        seconds=seconds,
    )
