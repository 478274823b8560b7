"""Tests of the ``heymarket`` command, and helpers they share.

``main`` calls ``asyncio.run``, so tests run it in a worker thread while the sandbox serves
from the test's own event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from heymarket_async.cli import main
from heymarket_async.sandbox import Sandbox

CREDENTIAL_VARIABLES = (
    "HEYMARKET_SECRET_ID",
    "HEYMARKET_SECRET_KEY",
    "HEYMARKET_API_KEY",
    "HEYMARKET_BASE_URL",
)


async def run_cli(*argv: str) -> int:
    """Run ``heymarket *argv`` in-process (in a thread) and return its exit status."""
    return await asyncio.to_thread(main, list(argv))


def use_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    """Point the command's environment credentials at ``sandbox``."""
    forget_credentials(monkeypatch)
    monkeypatch.setenv("HEYMARKET_SECRET_ID", sandbox.secret_id)
    monkeypatch.setenv("HEYMARKET_SECRET_KEY", sandbox.secret_key)
    monkeypatch.setenv("HEYMARKET_BASE_URL", sandbox.url)


def forget_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every ``HEYMARKET_*`` setting the command reads."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def read_json(capsys: pytest.CaptureFixture[str]) -> Any:
    """The one JSON document the command wrote to stdout."""
    return json.loads(capsys.readouterr().out)
