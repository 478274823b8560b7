"""Shared test helpers: the one aioresponses compatibility shim, and fake credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL

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
