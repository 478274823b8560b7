"""Case 12: the aggregate rate of 1, 2 and 4 processes sharing one limit through Redis.

Each worker is a separate process running one ``BatchSender`` job (the bulk lane) with its
own ``RedisRateLimiter(url, name=..., limit_per_minute=LIMIT, period=PERIOD,
interactive_share=0)``: pure bulk traffic, so the bulk lane may take the whole limit. The
sandbox runs in another child process with the same sliding-window limit (LIMIT per PERIOD
seconds) and answers 429 to anything over it. A real ``redis-server`` on loopback is
started here (the case is skipped without a binary).

The window is long next to a request's time in flight on loopback (milliseconds): the
limiter counts a request from its admission until a window after it finished, so each
request costs the window plus its flight, and it pads the window against clock skew
(1 s per minute). The best it can sustain is ``PERIOD / (PERIOD + padding + flight)`` of the
limit; ``PERIOD / (PERIOD + padding)`` is reported as the ceiling next to the measured rate
(a loopback flight of about a millisecond is 0.01 % of a 10 s window).

All workers start at one agreed moment and generate sends until one agreed end. From the
sandbox's ledger (commit times on its clock): the first window is left out (start-up and
the first burst); the rate is the sends committed from there over whole cycles of the
limiter's padded window (it admits a burst, then paces, so its traffic repeats every padded
window: a span of whole cycles does not depend on where the cycles start), per server
window, over the limit. The busiest server window (the most sends committed in any sliding
window of PERIOD seconds) must stay at or under the limit and the sandbox's 429 count at 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.redis_server

import aiohttp
from _harness import ServerInfo, sandbox_stats, server_process

from heymarket_async import HeymarketClient
from heymarket_async.bulk import BatchSender
from heymarket_async.redis import RedisRateLimiter
from heymarket_async.resources.messages import SendMessage

INBOX_ID = 42  # the sandbox's default SMS inbox and owner
CREATOR_ID = 7
CONCURRENCY = 8  # per worker
START_DELAY = 3.0  # seconds for every worker to import, connect and wait for the start
SERVER_ENV = "BENCH_SHARED_RATE_SERVER"  # the sandbox's URL and credentials, for workers
WORKER_SCRIPT = str(Path(__file__).resolve())
AREAS = (212, 312, 415, 510)  # one area code per worker, to tell their sends apart


@dataclass(frozen=True)
class SharedRateResult:
    processes: int
    limit: int
    period: float
    cycles: int  # whole padded windows of the limiter measured (after the first window)
    per_window: float  # sends committed per server window, sustained over those cycles
    busiest: int  # the most sends committed in any sliding server window
    ceiling: float  # the most the limiter can sustain, over the limit (flight aside)
    rate_429: int  # 429s the sandbox answered
    failed: int  # failed or unknown outcomes, over every worker
    shares: tuple[int, ...]  # sends committed per worker over the run

    @property
    def ratio(self) -> float:
        return self.per_window / self.limit


# --- one worker process ----------------------------------------------------------------


def _sends(area: int, stop_at: float) -> Iterator[SendMessage]:
    """Distinct sends until ``stop_at`` (Unix seconds); ``area`` tells the workers apart."""
    i = 0
    while time.time() < stop_at:
        yield SendMessage(
            inbox_id=INBOX_ID,
            creator_id=CREATOR_ID,
            phone_number=f"1{area:03d}{i:07d}",
            text="Your appointment is tomorrow at 10:00",
        )
        i += 1


async def _work(argv: list[str]) -> dict[str, int]:
    url, name, limit, period, area, start_at, stop_at = argv
    info = ServerInfo(**json.loads(os.environ[SERVER_ENV]))
    limiter = RedisRateLimiter(
        url, name=name, limit_per_minute=int(limit), period=float(period), interactive_share=0
    )
    async with HeymarketClient(
        secret_id=info.secret_id,
        secret_key=info.secret_key,
        base_url=info.url,
        rate_limiter=limiter,
    ) as hm:
        await limiter.check()
        await asyncio.sleep(max(0.0, float(start_at) - time.time()))
        sends = _sends(int(area), float(stop_at))
        report = await BatchSender(hm, concurrency=CONCURRENCY).send_all(sends)
    return {"sent": report.sent, "failed": report.failed + report.unknown}


def _worker_main(argv: list[str]) -> None:
    print(json.dumps(asyncio.run(_work(argv))))  # the parent reads it


# --- the measurement -----------------------------------------------------------------------


def _busiest(times: list[float], window: float) -> int:
    """The most of ``times`` (sorted) inside any sliding ``window``."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _ledger_entries(info: ServerInfo) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(info.url + "/_sandbox/ledger", params={"entries": "1"}) as response,
    ):
        response.raise_for_status()
        document: dict[str, Any] = await response.json()
    entries: list[dict[str, Any]] = document["ledger"]
    return entries


async def measure_one(
    redis_url: str, *, processes: int, limit: int, period: float, windows: int
) -> SharedRateResult:
    """``processes`` workers share ``limit`` per ``period`` for ``windows + 1.5`` periods."""
    server_args = ("--rate-limit", str(limit), "--window", str(period))
    name = f"bench-shared-{processes}-{os.getpid()}-{time.time_ns()}"
    with server_process("sandbox", *server_args) as info:
        start_at = time.time() + START_DELAY
        stop_at = start_at + (windows + 1.5) * period
        env = {**os.environ, SERVER_ENV: json.dumps(info.__dict__)}
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                WORKER_SCRIPT,
                "worker",
                redis_url,
                name,
                str(limit),
                str(period),
                str(AREAS[index]),
                repr(start_at),
                repr(stop_at),
                stdout=subprocess.PIPE,
                env=env,
            )
            for index in range(processes)
        ]
        outputs = [await worker.communicate() for worker in workers]
        for worker in workers:
            if worker.returncode != 0:
                raise RuntimeError(f"a shared-rate worker exited with {worker.returncode}")
        failed = sum(json.loads(out)["failed"] for out, _ in outputs)
        entries = await _ledger_entries(info)
        await asyncio.sleep(period * 1.1)  # let the window empty so the stats call is admitted
        stats = await sandbox_stats(info)
    times = sorted(float(e["at"]) for e in entries)
    shares = [0] * processes
    for entry in entries:
        shares[AREAS.index(int(entry["recipients"][0][1:4]))] += 1
    probe = RedisRateLimiter(redis_url, name=name, limit_per_minute=limit, period=period)
    cycle = probe.window  # the period and its padding
    await probe.aclose()
    begin = times[0] + period
    cycles = int((stop_at - begin) // cycle)
    counted = sum(1 for t in times if begin <= t < begin + cycles * cycle)
    return SharedRateResult(
        processes=processes,
        limit=limit,
        period=period,
        cycles=cycles,
        per_window=counted / (cycles * cycle) * period,
        busiest=_busiest(times, period),
        ceiling=period / cycle,  # less the time in flight: about 1 ms a window on loopback
        rate_429=int(stats["rate_limited"]),
        failed=failed,
        shares=tuple(shares),
    )


async def measure(*, quick: bool) -> list[SharedRateResult]:
    from tests.redis_server import RedisServer  # noqa: PLC0415 - needs the binary

    # Full: the API's 500 a minute with time scaled 6x (10 s windows), 3 windows measured.
    limit, period, windows = (40, 1.0, 2) if quick else (500, 10.0, 3)
    with RedisServer() as server:
        return [
            await measure_one(server.url, processes=n, limit=limit, period=period, windows=windows)
            for n in (1, 2, 4)
        ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker_main(sys.argv[2:])
    else:
        for r in asyncio.run(measure(quick="--quick" in sys.argv)):
            print(
                f"{r.processes} processes: {r.per_window:.1f}/{r.limit} per {r.period:g} s "
                f"= {r.ratio:.3f} (ceiling {r.ceiling:.3f}, busiest window {r.busiest}), "
                f"429s {r.rate_429}, failed {r.failed}, shares {r.shares}"
            )
