"""Shared test helpers: the one aioresponses compatibility shim, fake credentials, and
worker processes that talk to a sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL

if TYPE_CHECKING:
    from heymarket_async.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]

BASE_URL = "https://api.test.invalid"
SECRET_ID = "test-secret-id-8f2c"
SECRET_KEY = "test-secret-key-3b9e7d1a5c0f4e2b"  # long enough for an HS256 key


class CompatClientResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without ``stream_writer``, which aiohttp 3.14
    requires; this subclass supplies a default."""

    def __init__(self, *args: Any, stream_writer: Any = None, **kwargs: Any) -> None:
        if stream_writer is None:
            stream_writer = SimpleNamespace(output_size=0, buffer_size=0)
        super().__init__(*args, stream_writer=stream_writer, **kwargs)


class MockApi:
    """A thin layer over aioresponses that always uses the shim and speaks in API paths."""

    def __init__(self, mocked: aioresponses, base_url: str = BASE_URL) -> None:
        self.mocked = mocked
        self.base_url = base_url

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        payload: Any = None,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        exception: BaseException | None = None,
        repeat: bool = False,
        request_id: str | None = "req-test-1",
    ) -> None:
        all_headers = {"Content-Type": "application/json"}
        if request_id is not None:
            all_headers["X-Request-Id"] = request_id
        all_headers.update(headers or {})
        if payload is not None:
            body = json.dumps(payload)
        self.mocked.add(
            self.base_url + path,
            method=method,
            status=status,
            body=body if body is not None else "",
            headers=all_headers,
            exception=exception,
            repeat=repeat,
            response_class=CompatClientResponse,
        )

    def calls(self, method: str, path: str) -> list[Any]:
        """The recorded calls to ``method path`` (query strings ignored)."""
        found = []
        for (m, url), calls in self.mocked.requests.items():
            if m == method and URL(url).with_query(None) == URL(self.base_url + path):
                found.extend(calls)
        return found

    def all_calls(self) -> Iterator[tuple[str, URL, Any]]:
        for (m, url), calls in self.mocked.requests.items():
            for call in calls:
                yield m, url, call


def sandbox_env(sb: Sandbox, **extra: str) -> dict[str, str]:
    """This process's environment with the sandbox's URL and secret pair (and no legacy
    key), for a child process that builds its client with ``from_env``."""
    env = {
        **os.environ,
        "HEYMARKET_SECRET_ID": sb.secret_id,
        "HEYMARKET_SECRET_KEY": sb.secret_key,
        "HEYMARKET_BASE_URL": sb.url,
        **extra,
    }
    env.pop("HEYMARKET_API_KEY", None)
    return env


@contextlib.asynccontextmanager
async def worker_process(
    sb: Sandbox, module: str, *args: str, stdout: int = asyncio.subprocess.PIPE
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m module args...`` from the checkout, pointed at ``sb``; killed if still
    running when the block ends."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        env=sandbox_env(sb),
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield child
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def sigkill_when_ledger_reaches(sb: Sandbox, module: str, *args: str, stop_at: int) -> None:
    """Run a worker until the sandbox's ledger holds ``stop_at`` sends, then SIGKILL it (no
    cleanup of any kind in the child)."""
    async with worker_process(sb, module, *args, stdout=asyncio.subprocess.DEVNULL) as child:
        try:
            async with asyncio.timeout(60):
                while len(sb.ledger) < stop_at and child.returncode is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        finally:
            if child.returncode is None:
                child.kill()
            _, stderr = await child.communicate()
        assert child.returncode == -9, stderr.decode()[-2000:]
