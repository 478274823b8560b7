"""Shared benchmark plumbing: medians, CPU/wall timing, memory probes, and servers run in a
separate process so that server CPU never lands in the client's ``process_time``.

Run as a script (``python _harness.py serve fixed|sandbox ...``) it is that server: it prints
one JSON line (url and credentials) on stdout, then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from heymarket_async.sandbox import Route, Sandbox

# Bodies shaped exactly like the sandbox's answers (captured once from it), served as fixed
# bytes so every contender parses the same JSON.
TEAM_BODY = json.dumps(
    {
        "id": 1001,
        "name": "Sandbox Team",
        "list_size": 10000,
        "members": [
            {"id": 7, "name": "Olive Owner", "role": "owner"},
            {"id": 8, "name": "Adam Admin", "role": "admin"},
            {"id": 9, "name": "Mia Member", "role": "member"},
        ],
    }
).encode()
SENT_BODY = json.dumps({"id": 100002, "date": "2026-11-23T19:02:07.390063Z"}).encode()
SEND_PAYLOAD: dict[str, Any] = {
    "inbox_id": 42,
    "creator_id": 7,
    "local_id": "bench-0000000000000000",
    "phone_number": "15105553345",
    "text": "Hello from the benchmark",
}
BENCH_SECRET_ID = "bench_id"
BENCH_SECRET_KEY = "bench_secret_key_0123456789abcdef0123456789"  # >= 32 chars for HMAC


# --- statistics and timing --------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Sample:
    """One timed run: ``n`` operations, client CPU seconds and wall seconds."""

    n: int
    cpu: float
    wall: float

    @property
    def cpu_us_per_op(self) -> float:
        return self.cpu / self.n * 1e6

    @property
    def ops_per_s(self) -> float:
        return self.n / self.wall


@dataclass
class Series:
    """Samples of one contender in one setting, summarised by medians."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def cpu_us(self) -> float:
        return median([s.cpu_us_per_op for s in self.samples])

    @property
    def rps(self) -> float:
        return median([s.ops_per_s for s in self.samples])

    def paired_ratio(self, base: Series) -> float:
        """Median over rounds of this CPU/op over ``base``'s CPU/op in the same round.

        Pairing by round cancels slow drifts in machine load that medians taken separately
        would keep (contenders of one round run back to back).
        """
        return median(
            [
                mine.cpu_us_per_op / theirs.cpu_us_per_op
                for mine, theirs in zip(self.samples, base.samples, strict=True)
            ]
        )

    @property
    def spread(self) -> float:
        """(max - min) / median of CPU per op: how noisy the rounds were."""
        values = [s.cpu_us_per_op for s in self.samples]
        if len(values) < 2:
            return 0.0
        return (max(values) - min(values)) / median(values)


async def timed_async(n: int, run: Callable[[], Awaitable[None]]) -> Sample:
    """Time ``run`` (which performs ``n`` operations) in process CPU and wall seconds."""
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await run()
    return Sample(n, time.process_time() - cpu0, time.perf_counter() - wall0)


def per_op_us(fn: Callable[[], object], *, number: int, repeat: int) -> float:
    """Median CPU µs per call of a synchronous ``fn`` over ``repeat`` batches.

    Process CPU time, not wall time: on a shared machine a batch that loses the CPU to a
    neighbour would otherwise look slower than it is.
    """
    results = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            fn()
        results.append((time.process_time() - start) / number * 1e6)
    return median(results)


# --- memory -------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@contextlib.contextmanager
def memory_probe() -> Iterator[dict[str, int]]:
    """Yields a dict filled on exit with ``peak_growth`` (tracemalloc) and ``rss_delta``."""
    out: dict[str, int] = {}
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    rss0 = rss_bytes()
    try:
        yield out
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["peak_growth"] = peak - base
        out["rss_delta"] = rss_bytes() - rss0


# --- servers in a child process --------------------------------------------------------------


@dataclass
class ServerInfo:
    url: str
    secret_id: str
    secret_key: str
    api_key: str

    def client_kwargs(self) -> dict[str, str]:
        return {"secret_id": self.secret_id, "secret_key": self.secret_key, "base_url": self.url}


@contextlib.contextmanager
def server_process(kind: str, *args: str) -> Iterator[ServerInfo]:
    """Start ``kind`` ("fixed" or "sandbox") in a child process; stop it on exit."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "serve", kind, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start")
        yield ServerInfo(**json.loads(line))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the child stops when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _serve_fixed() -> None:
    counter = 0

    async def handle(request: web.BaseRequest) -> web.Response:
        nonlocal counter
        counter += 1
        headers = {"X-Request-Id": f"{counter:032x}"}
        if request.method == "GET" and request.path == "/v1/team":
            body = TEAM_BODY
        elif request.method == "POST" and request.path == "/v1/message/send":
            await request.read()
            body = SENT_BODY
        else:
            return web.Response(status=404, body=b'{"error":"not_found"}', headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    server = web.Server(handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=256)
    await site.start()
    port = runner.addresses[0][1]
    info = ServerInfo(f"http://127.0.0.1:{port}", BENCH_SECRET_ID, BENCH_SECRET_KEY, "unused")
    await _announce_and_wait(info)
    await runner.cleanup()


async def _serve_sandbox(options: argparse.Namespace) -> None:
    holder: list[Sandbox] = []

    def stats(_state: object, _call: object) -> dict[str, Any]:
        s = holder[0].stats
        return {
            "requests_by_route": dict(s.requests_by_route),
            "statuses": {str(k): v for k, v in s.statuses.items()},
            "rate_limited": s.rate_limited,
            "max_in_flight": s.max_in_flight,
        }

    sandbox = Sandbox(
        rate_limit_per_minute=options.rate_limit or None,
        rate_limit_window=options.window,
        extra_routes=[Route("GET", "/_bench/stats", stats)],
        list_size=options.list_size,
    )
    holder.append(sandbox)
    async with sandbox:
        info = ServerInfo(sandbox.url, sandbox.secret_id, sandbox.secret_key, sandbox.api_key)
        await _announce_and_wait(info)


async def _announce_and_wait(info: ServerInfo) -> None:
    sys.stdout.write(json.dumps(info.__dict__) + "\n")
    sys.stdout.flush()
    # Serve until the parent closes our stdin (also when the parent dies).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def sandbox_stats(info: ServerInfo) -> dict[str, Any]:
    """The sandbox child's counters (the stats request itself is counted under its route)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            info.url + "/_bench/stats", headers={"Authorization": f"Bearer {info.api_key}"}
        ) as response,
    ):
        response.raise_for_status()
        result: dict[str, Any] = await response.json()
        return result


def _main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("kind", choices=["fixed", "sandbox"])
    serve.add_argument("--rate-limit", type=int, default=0)
    serve.add_argument("--window", type=float, default=60.0)
    serve.add_argument("--list-size", type=int, default=10_000)
    options = parser.parse_args()
    if options.kind == "fixed":
        asyncio.run(_serve_fixed())
    else:
        asyncio.run(_serve_sandbox(options))


if __name__ == "__main__":
    _main()
