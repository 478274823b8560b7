"""Case 10: start-up cost, whole process, against ``import aiohttp`` alone.

Each contender is a fresh interpreter run to completion; its CPU time (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)`` around the run) covers interpreter start-up, the
imports and exit. The contenders run back to back in each round, in rotated order; a warm-up
round (byte code compiled, files cached) is not counted. Ratios are medians of per-round
ratios to the aiohttp run of the same round, so drifts in machine load cancel out.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time

import attrs

# name -> code run by ``python -c``. "heymarket --help" does what the console script does.
CONTENDERS: dict[str, str] = {
    "python -c pass": "pass",
    "import aiohttp": "import aiohttp",
    "import heymarket_async": "import heymarket_async",
    # What a program does first; the package itself loads its names on first use.
    "from heymarket_async import HeymarketClient": "from heymarket_async import HeymarketClient",
    "heymarket --help": (
        "import sys\nfrom heymarket_async.cli import main\nsys.exit(main(['--help']))"
    ),
}
BASELINE = "import aiohttp"


@attrs.frozen
class StartupResult:
    name: str
    cpu: float  # median seconds of CPU per process
    wall: float  # median seconds of wall time per process
    ratio: float | None  # median per-round CPU ratio to the baseline (None for the baseline)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(code: str) -> tuple[float, float]:
    cpu, wall = _children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        stdout=subprocess.DEVNULL,
        # Not the checkout: `python -c` puts its working directory first on sys.path, which
        # would shadow a PYTHONPATH pointing at another version of the package.
        cwd=tempfile.gettempdir(),
    )
    return _children_cpu() - cpu, time.perf_counter() - wall


def measure(*, rounds: int) -> list[StartupResult]:
    names = list(CONTENDERS)
    for name in names:
        _run(CONTENDERS[name])  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            spent, took = _run(CONTENDERS[name])
            cpu[name].append(spent)
            wall[name].append(took)
    base = cpu[BASELINE]
    return [
        StartupResult(
            name=name,
            cpu=statistics.median(cpu[name]),
            wall=statistics.median(wall[name]),
            ratio=None
            if name == BASELINE
            else statistics.median(c / b for c, b in zip(cpu[name], base, strict=True)),
        )
        for name in names
    ]
