"""Case 9: a CSV broadcast killed with SIGKILL and run again, at the sandbox's real limit.

The sandbox runs as ``python -m heymarket_async.sandbox`` (500 requests a minute, a share
of requests failing at random) and the job as the command a team would type::

    heymarket broadcast --csv big.csv --key spring --journal spring.sqlite3 ...

The first run is killed with SIGKILL after a few seconds. The job's lease on the journal
outlives it (that is what stops two live runs of one job); a rerun started at once is
refused with exit status 3, so the benchmark records that refusal, waits until the lease
expires (reported apart, as "lease wait": 30 s by default, ``--lease-ttl`` shortens it) and
runs the job again. The sandbox's ledger (``GET /_sandbox/ledger``) then says who got what:
duplicates and missing recipients must both be 0. The floor is what 500 requests a minute
allows for the requests both runs made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs

RATE_PER_MINUTE = 500
KEY = "spring"
TEXT = "Spring sale: 20% off everything this weekend"


@attrs.frozen(kw_only=True)
class Result:
    phones: int
    list_size: int
    fault_rate: float
    killed: bool
    """Whether the first run was still going when the kill came."""
    first_seconds: float
    refused_status: int | None
    """Exit status of the rerun tried right after the kill (3: the lease is held)."""
    lease_wait: float
    """Seconds from the kill until the rerun could start (the lease's remaining life)."""
    rerun_seconds: float
    rerun_status: int
    rerun_report: dict[str, object]
    requests: int
    duplicates: int
    missing: int
    unknown: int

    @property
    def floor_seconds(self) -> float:
        return self.requests * 60 / RATE_PER_MINUTE


def _write_csv(path: Path, phones: int) -> list[str]:
    numbers = [f"1510{index:07d}" for index in range(phones)]
    path.write_text("phone\n" + "\n".join(numbers) + "\n", encoding="utf-8")
    return numbers


@contextlib.contextmanager
def _sandbox(fault_rate: float, list_size: int, seed: int) -> Iterator[dict[str, str]]:
    """Start the sandbox from a shell's point of view; yield the variables it exports."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "heymarket_async.sandbox", "--port", "0",
         "--faults", str(fault_rate), "--list-size", str(list_size), "--seed", str(seed),
         "--rate-limit", str(RATE_PER_MINUTE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
            if "Ctrl-C" in line:
                break
        if "HEYMARKET_BASE_URL" not in exports:
            raise RuntimeError("the sandbox did not start")
        yield exports
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _command(csv: Path, journal: Path, list_size: int, lease_ttl: float | None) -> list[str]:
    argv = [
        sys.executable, "-m", "heymarket_async", "broadcast", "--csv", str(csv),
        "--inbox", "42", "--creator", "7", "--text", TEXT, "--key", KEY,
        "--journal", str(journal), "--list-size", str(list_size), "--json", "-q",
    ]  # fmt: skip
    if lease_ttl is not None:
        argv += ["--lease-ttl", str(lease_ttl)]
    return argv


def _lease_expiry(journal: Path) -> float | None:
    """When the job's lease expires (``time.time()`` seconds), read from the journal."""
    with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT expires_at FROM leases WHERE job = ?", (KEY,)).fetchone()
    return None if row is None else float(row[0])


def _ledger(base_url: str) -> dict[str, object]:
    with urllib.request.urlopen(base_url + "/_sandbox/ledger", timeout=60) as answer:
        document: dict[str, object] = json.load(answer)
    return document


def run(
    *,
    phones: int = 100_000,
    list_size: int = 10_000,
    fault_rate: float = 0.2,
    kill_after: float = 4.0,
    lease_ttl: float | None = None,
    seed: int = 1,
) -> Result:
    """Run the whole scenario (blocking; minutes at full size)."""
    with (
        tempfile.TemporaryDirectory(prefix="hm-crash-") as folder,
        _sandbox(fault_rate, list_size, seed) as exports,
    ):
        csv, journal = Path(folder, "big.csv"), Path(folder, "spring.sqlite3")
        numbers = _write_csv(csv, phones)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEYMARKET_")}
        env.update(exports)
        argv = _command(csv, journal, list_size, lease_ttl)

        started = time.perf_counter()
        first = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            first.wait(timeout=kill_after)
            killed = False
        except subprocess.TimeoutExpired:
            first.kill()  # SIGKILL: no cleanup, the lease stays
            first.wait()
            killed = True
        killed_at = time.perf_counter()
        first_seconds = killed_at - started

        refused_status = None
        expiry = _lease_expiry(journal) if journal.exists() else None
        if expiry is not None and expiry > time.time():
            refused = subprocess.run(argv, env=env, capture_output=True, check=False)
            refused_status = refused.returncode
            expiry = _lease_expiry(journal)
            time.sleep(max(0.0, (expiry or 0.0) - time.time()) + 0.2)
        lease_wait = time.perf_counter() - killed_at

        rerun_started = time.perf_counter()
        rerun = subprocess.run(argv, env=env, capture_output=True, check=False)
        rerun_seconds = time.perf_counter() - rerun_started
        try:
            report: dict[str, object] = json.loads(rerun.stdout)
        except json.JSONDecodeError:
            report = {"stderr": rerun.stderr.decode(errors="replace")[-2000:]}

        ledger = _ledger(exports["HEYMARKET_BASE_URL"])
        sends = ledger["sends_by_recipient"]
        assert isinstance(sends, dict)
        unknown = report.get("unknown", -1)
        return Result(
            phones=phones,
            list_size=list_size,
            fault_rate=fault_rate,
            killed=killed,
            first_seconds=first_seconds,
            refused_status=refused_status,
            lease_wait=lease_wait,
            rerun_seconds=rerun_seconds,
            rerun_status=rerun.returncode,
            rerun_report=report,
            requests=int(ledger["requests"]),  # type: ignore[call-overload]
            duplicates=len(ledger["duplicates"]),  # type: ignore[arg-type]
            missing=sum(1 for phone in numbers if not sends.get(phone)),
            unknown=int(unknown) if isinstance(unknown, int) else -1,
        )


async def measure(*, quick: bool) -> Result:
    """The case at full size, or tiny for ``--quick`` (with a short lease)."""
    if quick:
        options = {"phones": 2_000, "list_size": 200, "kill_after": 1.5, "lease_ttl": 2.0}
        return await asyncio.to_thread(run, **options)  # type: ignore[arg-type]
    return await asyncio.to_thread(run)


def main() -> None:
    parser = argparse.ArgumentParser(description="Case 9 alone, as JSON.")
    parser.add_argument("--quick", action="store_true", help="tiny size, short lease")
    parser.add_argument("--kill-after", type=float, default=4.0, help="seconds (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="the sandbox's fault seed")
    args = parser.parse_args()
    if args.quick:
        r = asyncio.run(measure(quick=True))
    else:
        r = run(kill_after=args.kill_after, seed=args.seed)
    print(json.dumps({**attrs.asdict(r), "floor_seconds": r.floor_seconds}, indent=2))


if __name__ == "__main__":
    main()
