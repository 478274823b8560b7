"""A hostile HTTP server for regression tests: answers whatever a test scripts.

Unlike the sandbox (which behaves the way we think Heymarket behaves), this server answers
each request with a scripted :class:`Answer`: any status, any bytes, any headers, a body
dripped slowly or streamed without end, or a dropped connection. It records every request,
so a test can count what reached "the server".

    async with HostileServer() as server:
        server.script("POST", "/v1/message/send", Answer.text("ok"))
        async with server.client() as hm:
            ...
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

from heymarket_async import HeymarketClient, RetryPolicy

from .helpers import SECRET_ID, SECRET_KEY


@attrs.frozen(kw_only=True)
class Answer:
    """One scripted answer.

    Attributes:
        status: HTTP status.
        body: the bytes to send.
        headers: response headers (``Content-Type`` defaults to JSON).
        delay: seconds to wait before answering.
        drip: seconds between single bytes of the body (a slow server).
        endless: after ``body``, keep streaming ``body`` again forever (chunked).
        drop: close the connection without answering (after recording the request).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drip: float | None = None
    endless: bool = False
    drop: bool = False

    @classmethod
    def json(cls, payload: Any, status: int = 200, **options: Any) -> Answer:
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return cls(status=status, body=json.dumps(payload).encode(), headers=headers, **options)

    @classmethod
    def text(cls, text: str | bytes, status: int = 200, **options: Any) -> Answer:
        body = text.encode() if isinstance(text, str) else text
        headers = {"Content-Type": "text/plain", **options.pop("headers", {})}
        return cls(status=status, body=body, headers=headers, **options)

    @classmethod
    def dropped(cls) -> Answer:
        return cls(drop=True)


@attrs.frozen
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: Mapping[str, str]
    json: Any
    headers: Mapping[str, str]
    raw_path: str = ""  # the path as sent, percent-encoding intact


Responder = Callable[[Seen], Answer]


class HostileServer:
    """An aiohttp.web server on 127.0.0.1 that answers from per-route scripts.

    A route's script is consumed in order; when it runs out, the route's ``then`` answer
    (or responder) repeats; an unscripted route answers 404.
    """

    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], deque[Answer]] = {}
        self._then: dict[tuple[str, str], Answer | Responder] = {}
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def script(
        self,
        method: str,
        path: str,
        *answers: Answer,
        then: Answer | Responder | None = None,
    ) -> None:
        """Answer the next requests to ``method path`` with ``answers``, then ``then``."""
        self._scripts.setdefault((method, path), deque()).extend(answers)
        if then is not None:
            self._then[(method, path)] = then

    def seen(self, method: str, path: str) -> list[Seen]:
        """The recorded requests to ``method path``."""
        return [r for r in self.requests if r.method == method and r.path == path]

    async def __aenter__(self) -> HostileServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def client(self, **options: Any) -> HeymarketClient:
        """A client pointed at this server: no pacing and a short retry policy by default."""
        options.setdefault("rate_limit_per_minute", None)
        options.setdefault("retry", RetryPolicy(attempts=3, deadline=10.0))
        return HeymarketClient(
            secret_id=SECRET_ID, secret_key=SECRET_KEY, base_url=self.base_url, **options
        )

    def _next(self, seen: Seen) -> Answer | None:
        route = (seen.method, seen.path)
        queue = self._scripts.get(route)
        if queue:
            return queue.popleft()
        then = self._then.get(route)
        if then is None:
            return None
        return then if isinstance(then, Answer) else then(seen)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            body,
            dict(request.headers),
            raw_path=request.raw_path,
        )
        self.requests.append(seen)
        answer = self._next(seen)
        if answer is None:
            return web.json_response({"error": "not_scripted"}, status=404)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=599)
        if answer.drip is None and not answer.endless:
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        await response.prepare(request)
        try:
            while True:
                if answer.drip is None:
                    await response.write(answer.body)
                else:
                    for index in range(len(answer.body)):
                        await response.write(answer.body[index : index + 1])
                        await asyncio.sleep(answer.drip)
                if not answer.endless:
                    break
                await asyncio.sleep(0)
        except (ConnectionResetError, RuntimeError):  # the client went away
            return response
        await response.write_eof()
        return response
