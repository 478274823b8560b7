"""The command's own report is the only thing on stderr: the SDK's log records stay out."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("debug", "expect_records"), [(False, False), (True, True)])
def test_sdk_warnings_do_not_leak_into_the_demo_output(debug: bool, expect_records: bool) -> None:
    env = {"PATH": "/usr/bin:/bin", "HEYMARKET_DEBUG": "1"} if debug else {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "heymarket_async",
            "demo",
            "-q",
            "--count",
            "60",
            "--broadcast",
            "10",
            "--fault-rate",
            "0.5",
            "--fault-kinds",
            "unreadable_2xx",
            "--concurrency",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unknown" in result.stdout  # the demo ran and reported
    # Unreadable 2xx answers make the bulk sender log a WARNING each.
    assert ("message id unknown" in result.stderr) is expect_records, result.stderr[-2000:]
