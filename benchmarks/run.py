"""Run every benchmark case side by side and print one table with ratios.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # smoke mode: every case runs, on tiny sizes

Cases: 1 SDK overhead vs raw aiohttp and httpx, 2 token cost, 3 model cost, 4 bulk rate
against the limit, 5 bulk memory at scale, 6 sandbox throughput, 7 limiter rate under a
trickle of 429s, 8 the shared Redis limiter next to the in-process one and ``limits``,
9 a CSV broadcast killed and rerun, 10 start-up cost,
11 sandbox memory per list member and per ledger entry, 12 the aggregate rate of 1, 2 and 4
processes sharing one limit through Redis. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime
import os
import platform
import pstats
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_bulk
import bench_converter
import bench_crash_rerun
import bench_limiter
import bench_overhead
import bench_redis_limiter
import bench_sandbox
import bench_sandbox_memory
import bench_shared_rate
import bench_startup
import bench_token
from _harness import Series, server_process

import heymarket_async

Row = tuple[str, str, str, str]
TARGET_RATIO = 1.15  # typed calls / raw aiohttp CPU per request, at concurrency 1 and 8
TARGET_CONCURRENCY = 8
TARGET_CONCURRENCIES = (1, 8)
TARGET_STARTUP_RATIO = 1.3  # whole-process CPU against `import aiohttp` alone


def _mb(n: int) -> str:
    return f"{n / 1e6:+.2f} MB"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU ({model}), Python {platform.python_version()}"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _overhead_rows(
    results: dict[tuple[str, int], Series], names: list[str], concurrency: int, label: str
) -> list[Row]:
    raw = results[("raw aiohttp", concurrency)]
    sdk = results[("SDK hm.request", concurrency)]
    rows: list[Row] = []
    for name in names:
        series = results[(name, concurrency)]
        value = (
            f"{series.cpu_us:7.1f} µs CPU/req · {series.rps:6.0f} req/s"
            f" (±{series.spread * 50:.0f}%)"
        )
        if name == "raw aiohttp":
            ratio = "baseline"
        elif name == "httpx":
            ratio = f"httpx/SDK CPU {series.paired_ratio(sdk):.2f}"
            if bench_overhead.SNIFFIO_STUBBED:
                ratio += " (sniffio stubbed)"
        else:
            short = "SDK" if name == "SDK hm.request" else "typed"
            cpu_ratio = series.paired_ratio(raw)
            ratio = f"{short}/raw CPU {cpu_ratio:.2f} · req/s {series.rps / raw.rps:.2f}"
            if name == "SDK typed" and concurrency in TARGET_CONCURRENCIES:
                ok = cpu_ratio <= TARGET_RATIO
                ratio += f" (target ≤ {TARGET_RATIO}: {'met' if ok else 'MISSED'})"
        rows.append((label, name, value, ratio))
    return rows


async def case_overhead(args: argparse.Namespace) -> list[Row]:
    calls, rounds = (60, 1) if args.quick else (args.calls, args.rounds)
    # The mixed harness at three concurrencies; sends only (the typed call with the most
    # work of its own) at the two the target names.
    harnesses = (("team+send", (1, 8, 32)), ("send", TARGET_CONCURRENCIES))
    rows: list[Row] = []
    names = [c.name for c in bench_overhead.contenders()]
    by_mix: dict[str, dict[tuple[str, int], Series]] = {}
    with server_process("fixed") as info:
        for mix, concurrencies in harnesses:
            by_mix[mix] = await bench_overhead.measure(
                info, concurrencies=concurrencies, calls=calls, rounds=rounds, mix=mix
            )
            label = "1" if mix == "team+send" else "1 sends"
            for concurrency in concurrencies:
                rows += _overhead_rows(by_mix[mix], names, concurrency, f"{label} c={concurrency}")
    results = by_mix["team+send"]
    own_sdk, own_raw = await bench_overhead.own_work_us(calls=calls, rounds=max(rounds, 3))
    raw8 = results[("raw aiohttp", TARGET_CONCURRENCY)].cpu_us
    added = own_sdk - own_raw
    rows.append(
        (
            "1",
            "own work, answers canned: SDK hm.request vs raw",
            f"{own_sdk:5.1f} vs {own_raw:.1f} µs CPU/req → SDK adds {added:.1f}",
            f"(raw c={TARGET_CONCURRENCY} + added)/raw = {(raw8 + added) / raw8:.3f}"
            " (no socket noise)",
        )
    )
    own_typed, own_raw = await bench_overhead.own_work_us(
        calls=calls, rounds=max(rounds, 3), typed=True
    )
    added = own_typed - own_raw
    rows.append(
        (
            "1",
            "own work, answers canned: SDK typed vs raw",
            f"{own_typed:5.1f} vs {own_raw:.1f} µs CPU/req → typed adds {added:.1f}",
            f"(raw c={TARGET_CONCURRENCY} + added)/raw = {(raw8 + added) / raw8:.3f}"
            " (no socket noise)",
        )
    )
    return rows


async def case_token(args: argparse.Namespace) -> list[Row]:
    calls = 200 if args.quick else 10_000
    with server_process("fixed") as info:
        r = await bench_token.measure(info, calls=calls, quick=args.quick)
    per = f"per {calls:,} calls"
    return [
        ("2", f"JWT mints {per} (real clock)", f"{r.mints_real_clock}", "expected 1"),
        (
            "2",
            f"JWT mints {per} (clock +{bench_token.STEP_SECONDS} s/call)",
            f"{r.mints_simulated} over {r.simulated_seconds:,.0f} s",
            f"expected {r.expected_simulated} (1 per {bench_token.DEFAULT_TOKEN_LIFETIME:.0f} s)",
        ),
        (
            "2",
            "one JWT mint (HS256)",
            f"{r.mint_us:.1f} µs",
            f"cached token get {r.cached_get_us:.2f} µs; "
            f"mints amortised {r.mint_us * r.mints_simulated / r.calls:.3f} µs/call",
        ),
    ]


def case_converter(args: argparse.Namespace) -> list[Row]:
    r = bench_converter.measure(quick=args.quick)
    return [
        (
            "3",
            "structure Message+Conversation",
            f"{r.structure_us:.1f} µs/op (hand {r.hand_structure_us:.1f})",
            f"converter/hand {r.structure_ratio:.2f}",
        ),
        (
            "3",
            "unstructure Message+Conversation",
            f"{r.unstructure_us:.1f} µs/op (hand {r.hand_unstructure_us:.1f})",
            f"converter/hand {r.unstructure_ratio:.2f}",
        ),
    ]


async def case_rate(args: argparse.Namespace) -> list[Row]:
    if args.quick:
        limit, window, rounds, recipients, list_size = 20, 0.5, 2, 60, 20
    else:
        limit, window, rounds, recipients, list_size = 100, 1.0, 10, 20_000, 10_000
    # A whole number of windows, so the rate is comparable with runs made when pacing
    # still sent a window's worth at once and then waited.
    r = await bench_bulk.measure_rate(
        limit=limit,
        window=window,
        sends=limit * rounds,
        recipients=recipients,
        list_size=list_size,
    )
    configured = r.limit / r.window
    return [
        (
            "4",
            f"BatchSender sustained rate, limit {r.limit}/{r.window:g} s",
            f"{r.sustained_rate:.1f} req/s over {r.sends} sends",
            f"rate/limit {r.sustained_rate / configured:.3f} (ceiling {r.ceiling:.3f})"
            f" · 429s {r.individual_429s}",
        ),
        (
            "4",
            "requests per recipient, individual sends",
            f"{r.individual_requests_per_recipient:.3f}",
            "baseline",
        ),
        (
            "4",
            f"requests per recipient, broadcast() (list_size {list_size:,})",
            f"{r.broadcast_requests_per_recipient:.5f} ({r.broadcast_requests} for"
            f" {r.recipients:,})",
            f"broadcast/individual "
            f"{r.broadcast_requests_per_recipient / r.individual_requests_per_recipient:.5f}"
            f" · 429s {r.broadcast_429s}",
        ),
    ]


async def case_sandbox(args: argparse.Namespace) -> list[Row]:
    count = 500 if args.quick else 10_000
    rates = await bench_sandbox.measure(count=count)
    return [
        (
            "6",
            f"sandbox throughput, {route} (raw aiohttp, c=32, faults off)",
            f"{rate:.0f} req/s over {count} requests",
            f"target >= 2,000 req/s: {'met' if rate >= 2000 else 'MISSED'}",
        )
        for route, rate in rates.items()
    ]


async def case_limiter(args: argparse.Namespace) -> list[Row]:
    results = await bench_limiter.measure(quick=args.quick)
    rows: list[Row] = []
    for r in results:
        check = f"target >= 0.85: {'met' if r.ratio >= 0.85 else 'MISSED'}"
        if r.name.endswith("before"):
            check = "the limiter this replaced"
        rows.append(
            (
                "7",
                f"rate under {bench_limiter.SHARE_429:.0%} random 429s, {r.name}",
                f"accepted/limit {r.ratio:.3f} ({r.limit}/{r.period:g} s, {r.answers} answers,"
                f" {r.share_429:.1%} 429"
                + ("" if r.over_limit_429s is None else f", {r.over_limit_429s} over the limit")
                + ")",
                check,
            )
        )
    return rows


async def case_redis_limiter(args: argparse.Namespace) -> list[Row]:
    if shutil.which("redis-server") is None:
        return [("8", "shared Redis limiter", "skipped: no redis-server binary", "-")]
    costs, rates = await bench_redis_limiter.measure(quick=args.quick)
    local = costs[0].micros
    rows: list[Row] = [
        ("8", f"acquire+release, {c.name}", f"{c.micros:.1f} µs", f"{c.micros / local:.0f}x local")
        for c in costs
    ]
    rows += [
        (
            "8",
            f"{bench_redis_limiter.HOLDERS} holders share {bench_redis_limiter.LIMIT}/"
            f"{bench_redis_limiter.PERIOD:g} s, {r.name}",
            f"admitted/limit {r.ratio:.3f}, server max per window {r.server_max}",
            f"{r.over} x 429 at a sliding-window server",
        )
        for r in rates
    ]
    return rows


async def case_memory(args: argparse.Namespace) -> list[Row]:
    sizes = (100, 500) if args.quick else args.memory_sizes
    results = [await bench_bulk.measure_memory(n) for n in sizes]
    rows: list[Row] = []
    first = results[0]
    for r in results:
        ratio = "baseline"
        if r is not first:
            growth = r.peak_growth / max(first.peak_growth, 1)
            ratio = f"peak growth x{growth:.2f} for x{r.sends / first.sends:.0f} input"
        rows.append(
            (
                "5",
                f"BatchSender streaming {r.sends:,} sends",
                f"peak {_mb(r.peak_growth)} · RSS {_mb(r.rss_delta)} · {r.sends / r.seconds:.0f}/s",
                ratio,
            )
        )
    return rows


async def case_crash_rerun(args: argparse.Namespace) -> list[Row]:
    r = await bench_crash_rerun.measure(quick=args.quick)
    ok = r.duplicates == 0 and r.missing == 0 and r.unknown == 0 and r.rerun_status == 0
    return [
        (
            "9",
            f"CSV broadcast of {r.phones:,} phones (lists of {r.list_size:,}, "
            f"{r.fault_rate:.0%} faults, {bench_crash_rerun.RATE_PER_MINUTE}/min), SIGKILL, rerun",
            f"first {r.first_seconds:.1f} s{' (killed)' if r.killed else ''} · lease wait "
            f"{r.lease_wait:.1f} s · rerun {r.rerun_seconds:.1f} s · {r.requests} requests "
            f"(floor {r.floor_seconds:.1f} s)",
            f"duplicates {r.duplicates}, missing {r.missing}, unknown {r.unknown}: "
            f"{'met' if ok else 'MISSED'}",
        )
    ]


def case_startup(args: argparse.Namespace) -> list[Row]:
    rounds = 3 if args.quick else args.startup_rounds
    rows: list[Row] = []
    for r in bench_startup.measure(rounds=rounds):
        if r.ratio is None:
            check = "baseline"
        elif r.name.startswith("python"):
            check = f"x{r.ratio:.2f} of the baseline (the interpreter alone)"
        else:
            met = "met" if r.ratio <= TARGET_STARTUP_RATIO else "MISSED"
            check = f"x{r.ratio:.2f} · target <= {TARGET_STARTUP_RATIO}: {met}"
        rows.append(
            (
                "10",
                f"start-up: {r.name}",
                f"{r.cpu * 1000:.0f} ms CPU, {r.wall * 1000:.0f} ms wall (median of {rounds})",
                check,
            )
        )
    return rows


SHARED_RATE_TARGET = 0.95  # of the shared limit, whatever the number of processes


async def case_shared_rate(args: argparse.Namespace) -> list[Row]:
    if shutil.which("redis-server") is None:
        return [("12", "processes sharing one limit", "skipped: no redis-server binary", "-")]
    rows: list[Row] = []
    for r in await bench_shared_rate.measure(quick=args.quick):
        ok = r.ratio >= SHARED_RATE_TARGET and r.rate_429 == 0 and r.failed == 0
        ok = ok and r.busiest <= r.limit
        rows.append(
            (
                "12",
                f"{r.processes} process{'es' if r.processes > 1 else ''} sharing "
                f"{r.limit}/{r.period:g} s (Redis, bulk lane, interactive_share=0)",
                f"{r.per_window:.1f} sends/window = rate/limit {r.ratio:.3f} (ceiling "
                f"{r.ceiling:.3f}, busiest window {r.busiest}, {r.cycles} cycles) · "
                f"sends per process {'/'.join(map(str, r.shares))}",
                f"{r.rate_429} x 429, {r.failed} failed · target >= {SHARED_RATE_TARGET}: "
                f"{'met' if ok else 'MISSED'}",
            )
        )
    return rows


SANDBOX_BYTES_TARGET = 300  # per list member and per ledger entry


def case_sandbox_memory(args: argparse.Namespace) -> list[Row]:
    sizes = (2_000,) if args.quick else args.sandbox_sizes
    rows: list[Row] = []
    for size in sizes:
        traced = size <= 200_000  # tracemalloc triples the time; RSS alone for big runs
        r = bench_sandbox_memory.measure(size, traced=traced)
        for what, rss, exact, seconds in (
            ("list member", r.list_bytes_rss, r.list_bytes_traced, r.list_seconds),
            ("ledger entry", r.ledger_bytes_rss, r.ledger_bytes_traced, r.broadcast_seconds),
        ):
            figure = max(rss, exact or 0)
            value = f"{rss:5.0f} B RSS"
            if exact is not None:
                value += f" · {exact:.0f} B traced"
            check = f"target < {SANDBOX_BYTES_TARGET} B: "
            check += "met" if figure < SANDBOX_BYTES_TARGET else "MISSED"
            rows.append(
                (
                    "11",
                    f"sandbox bytes per {what}, {size:,}-member list broadcast",
                    f"{value} · {seconds:.1f} s",
                    check,
                )
            )
    return rows


def _table(rows: list[Row]) -> str:
    header: Row = ("case", "measurement", "value", "ratio / check")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(row: Row) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


@contextlib.contextmanager
def _profiled(kind: str | None) -> Iterator[None]:
    if kind is None:
        yield
        return
    if kind == "pyinstrument":
        from pyinstrument import Profiler  # noqa: PLC0415 - optional, only for --profile

        profiler = Profiler(async_mode="disabled")  # where the CPU goes, not the awaits
        profiler.start()
        yield
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    cprofiler = cProfile.Profile()
    cprofiler.enable()
    yield
    cprofiler.disable()
    pstats.Stats(cprofiler).sort_stats("tottime").print_stats(40)


async def profile(args: argparse.Namespace) -> None:
    """Profile only the SDK contender of case 1 (concurrency 8)."""
    with server_process("fixed") as info:
        await bench_overhead.profile_sdk(info, calls=200, concurrency=8, typed=args.typed)
        with _profiled(args.profile):
            await bench_overhead.profile_sdk(
                info, calls=args.calls, concurrency=8, typed=args.typed
            )


async def main(args: argparse.Namespace) -> None:
    if args.profile:
        await profile(args)
        return
    started = time.perf_counter()
    print(
        f"heymarket-async {heymarket_async.__version__} @ {_commit()} · "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · {_machine()}"
    )
    print(f"load average at start: {_load()}{' · QUICK (smoke) mode' if args.quick else ''}")
    rows: list[Row] = []
    cases = {int(c) for c in args.cases.split(",")}
    if 1 in cases:
        rows += await case_overhead(args)
    if 2 in cases:
        rows += await case_token(args)
    if 3 in cases:
        rows += case_converter(args)
    if 4 in cases:
        rows += await case_rate(args)
    if 5 in cases:
        rows += await case_memory(args)
    if 6 in cases:
        rows += await case_sandbox(args)
    if 7 in cases:
        rows += await case_limiter(args)
    if 8 in cases:
        rows += await case_redis_limiter(args)
    if 9 in cases:
        rows += await case_crash_rerun(args)
    if 10 in cases:
        rows += case_startup(args)
    if 11 in cases:
        rows += case_sandbox_memory(args)
    if 12 in cases:
        rows += await case_shared_rate(args)
    print()
    print(_table(rows))
    print()
    print(f"load average at end: {_load()} · {time.perf_counter() - started:.0f} s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: tiny sizes")
    parser.add_argument(
        "--cases", default="1,2,3,4,5,6,7,8,9,10,11,12", help="comma-separated case numbers"
    )
    parser.add_argument("--calls", type=int, default=1500, help="case 1: calls per sample")
    parser.add_argument("--rounds", type=int, default=11, help="case 1: interleaved rounds")
    parser.add_argument(
        "--startup-rounds", type=int, default=15, help="case 10: interleaved rounds"
    )
    parser.add_argument(
        "--memory-sizes",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=(10_000, 30_000),
        help="case 5: request counts (default 10000,30000; 200000 takes ~13 min)",
    )
    parser.add_argument(
        "--sandbox-sizes",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=(100_000, 1_000_000),
        help="case 11: list sizes (default 100000,1000000; about a minute)",
    )
    parser.add_argument(
        "--profile",
        choices=["cprofile", "pyinstrument"],
        help="instead of the table, profile the SDK contender of case 1",
    )
    parser.add_argument("--typed", action="store_true", help="--profile the typed calls")
    return parser


if __name__ == "__main__":
    asyncio.run(main(_parser().parse_args()))
