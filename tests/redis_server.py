"""A real ``redis-server`` for tests of what several processes share (no mocks of Redis).

``RedisServer`` starts the binary on a free loopback port, with persistence off, and stops it;
the ``redis_url`` fixture (tests/conftest.py) gives each test an empty database on one server
per session. Outside CI a missing binary skips those tests with a loud reason; in CI
(``CI`` set) it fails them, since ``.ci/run`` installs the Debian package ``redis-server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from types import TracebackType

import pytest

SKIP_REASON = (
    "REDIS TESTS NOT RUN: no redis-server binary on PATH "
    "(install the Debian package redis-server; CI installs it and never skips these)"
)


def redis_binary() -> str:
    """The path of ``redis-server``; skip (or fail, in CI) when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing in CI: .ci/run must install it")
        pytest.skip(SKIP_REASON)
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 (``with RedisServer() as server:``)."""

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = redis_binary()
        for _ in range(5):  # another process may take the free port before we bind it
            self.port = _free_port()
            self._process = subprocess.Popen(  # noqa: S603 - a fixed argument list
                [
                    binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._process.poll() is None:
                if _ping(self.port):
                    return self
                time.sleep(0.02)
            self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def flush(port: int) -> None:
    """Empty every database of the server on ``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        if not conn.recv(16).startswith(b"+OK"):
            raise RuntimeError("FLUSHALL failed")
