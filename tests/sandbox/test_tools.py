"""The pytest plugin and ``python -m heymarket_async.sandbox``, run as users would run them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp

USER_TESTS = """
import pytest

pytestmark = pytest.mark.asyncio  # strict mode, as many users run pytest-asyncio

async def test_client_talks_to_the_sandbox(heymarket_client, heymarket_sandbox):
    inboxes = await heymarket_client.inboxes.list()
    assert [i.id for i in inboxes] == [42, 43, 44]
    assert heymarket_sandbox.stats.requests("GET /v1/inboxes") == 1

@pytest.mark.heymarket_sandbox(dedupe_individual_sends=False, list_size=5)
async def test_marker_configures_the_sandbox(heymarket_sandbox):
    assert heymarket_sandbox.dedupe_individual_sends is False
    assert heymarket_sandbox.list_size == 5

async def test_each_test_gets_a_fresh_sandbox(heymarket_sandbox):
    assert heymarket_sandbox.stats.total_requests == 0
"""


def test_pytest_plugin_fixtures_and_marker(tmp_path: Path) -> None:
    """The plugin's fixtures serve a sandbox and a client in a user's strict-mode suite."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    # Load plugins explicitly, so the run is the same whether or not the entry point is
    # registered in this environment (registering a plugin twice is an error).
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "pytest_asyncio.plugin"]
    command += ["-p", "heymarket_async.pytest_plugin", "--strict-markers", "-p", "no:cacheprovider"]
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=50, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


async def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    """The module prints the URL and credentials, serves requests and its ledger, stops on
    SIGINT and writes the ledger file."""
    ledger_file = tmp_path / "ledger.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "heymarket_async.sandbox",
        "--port",
        "0",
        "--seed",
        "3",
        "--ledger-file",
        str(ledger_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, "the sandbox exited early"
            banner += line.decode()
        url = re.search(r"HEYMARKET_BASE_URL=(\S+)", banner)
        key = re.search(r"HEYMARKET_API_KEY=(\S+)", banner)
        assert url is not None
        assert key is not None
        assert re.search(r"HEYMARKET_SECRET_ID=\S+", banner)
        assert re.search(r"HEYMARKET_SECRET_KEY=\S{32,}", banner)
        assert f"ledger: GET {url.group(1)}/_sandbox/ledger" in banner
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        send = {"inbox_id": 42, "phone_number": "15105550123", "text": "hi", "local_id": "a"}
        async with aiohttp.ClientSession() as session:
            async with session.get(url.group(1) + "/v1/team", headers=headers) as response:
                assert response.status == 200
                assert (await response.json())["id"] == 1001
            async with session.post(
                url.group(1) + "/v1/message/send", json=send, headers=headers
            ) as response:
                assert response.status == 200
            async with session.get(url.group(1) + "/_sandbox/ledger") as response:
                assert (await response.json())["sends_by_recipient"] == {"15105550123": 1}
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, err.decode()
        assert err.decode() == "sandbox stopped\n"
        written = json.loads(ledger_file.read_text())
        assert written["sends_by_recipient"] == {"15105550123": 1}
        assert [entry["local_id"] for entry in written["ledger"]] == ["a"]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
