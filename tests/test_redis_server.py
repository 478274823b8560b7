"""The redis-server fixture itself: a real server, empty for each test."""

from __future__ import annotations

import socket


def _command(url: str, line: bytes) -> bytes:
    port = int(url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(line)
        return conn.recv(64)


def test_the_server_answers_and_starts_empty(redis_url: str) -> None:
    assert _command(redis_url, b"DBSIZE\r\n") == b":0\r\n"
    assert _command(redis_url, b"SET k v\r\n") == b"+OK\r\n"


def test_each_test_gets_an_empty_database(redis_url: str) -> None:
    assert _command(redis_url, b"DBSIZE\r\n") == b":0\r\n"
