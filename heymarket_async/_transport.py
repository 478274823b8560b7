"""The only client-side module that imports aiohttp.

It sends bytes and returns bytes; every aiohttp and asyncio failure leaves this module as
one of our :class:`~heymarket_async.errors.TransportError` subclasses, classified by whether
the request body may have reached the server.
"""

from __future__ import annotations

import asyncio
import functools
import math
import platform
import time
from collections.abc import Mapping
from typing import Final, NamedTuple

import aiohttp
from aiohttp import ClientSession

from ._config import Timeouts
from ._version import version
from .errors import NetworkError, TransportError, TransportTimeoutError

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "AiohttpTransport",
    "ClientSession",
    "RawResponse",
    "user_agent",
]

DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
# Of a body already known to be too large, only this much is kept (error excerpts need
# no more); one chunk read from the stream at a time.
_TOO_LARGE_PREFIX: Final = 64 * 1024


def user_agent() -> str:
    return (
        f"heymarket-async/{version()} Python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )


class RawResponse(NamedTuple):
    """An HTTP answer; ``truncated`` when the body was cut at ``max_response_size``.

    A named tuple: built on every request, and a tuple costs a third of a frozen class."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False


# Per-call timeouts repeat the same few values; ClientTimeout is frozen, so share them.
@functools.lru_cache(maxsize=64)
def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    # aiohttp keeps only the connect bound (its expiry says nothing was sent). Its read and
    # total timers are re-armed on every request and every chunk, which costs more CPU than
    # the rest of the SDK's work on a request: the deadline watch enforces those instead.
    # Without a connect bound, though, the watch cannot tell connecting (or waiting for a
    # pooled connection) from waiting for the answer: aiohttp then bounds each read.
    sock_read = timeouts.read if timeouts.connect is None else None
    # Not rounded up to a whole second (aiohttp's habit above 5 s): the connect timer must
    # run out before the attempt's `connect + read`, or a request still waiting for a
    # connection would fail as a read timeout (possibly sent) when `read` is short.
    return aiohttp.ClientTimeout(
        total=None, connect=timeouts.connect, sock_read=sock_read, ceil_threshold=math.inf
    )


@functools.lru_cache(maxsize=64)
def _attempt_budget(timeouts: Timeouts) -> float | None:
    """Seconds an attempt may last: ``connect + read`` (the answer gets ``read`` once
    connected), and ``total``; ``None`` when neither bounds it. (With ``connect=None``,
    aiohttp bounds each read instead, see :func:`_client_timeout`.)"""
    budgets = [timeouts.total] if timeouts.total is not None else []
    if timeouts.read is not None and timeouts.connect is not None:
        budgets.append(timeouts.connect + timeouts.read)
    return min(budgets, default=None)


def _map_error(exc: BaseException, url: str) -> TransportError:
    """Translate an aiohttp/asyncio failure; ``possibly_sent`` is False only when certain."""
    where = f" ({url})"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportTimeoutError(f"timed out connecting{where}", possibly_sent=False)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return TransportTimeoutError(f"timed out waiting for the answer{where}", possibly_sent=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NetworkError(f"could not connect{where}: {exc.os_error}", possibly_sent=False)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return NetworkError(f"the server closed the connection{where}", possibly_sent=True)
    return NetworkError(
        f"connection failed{where}: {type(exc).__name__}: {exc}", possibly_sent=True
    )


class _DeadlineWatch:
    """Cancels the attempts that outlive their time limit, with one timer for all of them.

    A bound on the whole exchange also stops a server that drips its answer byte by byte
    (a per-read timeout restarts with every byte). A timer per request (aiohttp's
    timeouts, ``asyncio.timeout``) costs more CPU than the rest of the SDK's work on a
    request; here attempts only enter a dict, and one timer, set for the earliest
    limit, runs only when an attempt may actually be late.
    """

    def __init__(self) -> None:
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # the time.monotonic() instant the timer is set for

    def watch(self, task: asyncio.Task[object], deadline: float) -> None:
        self._deadlines[task] = deadline
        if self._timer is None or deadline < self._timer_at:
            self._set_timer(deadline)

    def unwatch(self, task: asyncio.Task[object]) -> bool:
        """Stop watching ``task``; whether it was cancelled for being late."""
        self._deadlines.pop(task, None)
        if self._expired and task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def stop(self) -> None:
        """Cancel the timer (the transport is closing), unless attempts still run: on a
        borrowed session they go on after the close, and their limits still hold. A timer
        kept for them fires once more at most (it is not set again once none is left)."""
        if self._timer is not None and not self._deadlines:
            self._timer.cancel()
            self._timer = None

    def _set_timer(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_at = at
        self._timer = loop.call_at(loop.time() + (at - time.monotonic()), self._check)

    def _check(self) -> None:
        self._timer = None
        now = time.monotonic()
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._expired.add(task)
                task.cancel()
        if self._deadlines:
            self._set_timer(min(self._deadlines.values()))


async def _read_bounded(
    response: aiohttp.ClientResponse, limit: int, length: int | None
) -> tuple[bytes, bool]:
    """The body, or ``True`` and the body's first bytes (at most 64 KiB) when it is longer
    than ``limit`` (``length``, when known, says so at once): nothing reads more of a body
    that is too large than an excerpt needs."""
    if aiohttp.hdrs.CONTENT_ENCODING in response.headers:
        length = None  # Content-Length counts compressed bytes; count what we keep instead
    chunks: list[bytes] = []
    size = 0
    keep = limit if length is None else min(limit, _TOO_LARGE_PREFIX)
    while chunk := await response.content.readany():
        chunks.append(chunk)
        size += len(chunk)
        if size > keep:
            # Over the limit (or known to be from Content-Length): stop reading and
            # close this connection rather than drain it back into the pool.
            response.close()
            return _prefix(chunks, min(keep, _TOO_LARGE_PREFIX)), True
    return b"".join(chunks), False


def _prefix(chunks: list[bytes], size: int) -> bytes:
    head = bytearray()
    for chunk in chunks:
        head += chunk[: size - len(head)]
        if len(head) >= size:
            break
    return bytes(head)


class AiohttpTransport:
    """Sends one HTTP request on an aiohttp session and reads the answer.

    The session is created lazily inside the running loop, or borrowed from the caller
    (and then never closed here). A body longer than ``max_response_size`` is not read
    past that size: the answer comes back ``truncated``.
    """

    def __init__(
        self,
        *,
        session: ClientSession | None,
        timeouts: Timeouts,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeouts = timeouts
        self._default_timeout = _client_timeout(timeouts)
        self._default_budget = _attempt_budget(timeouts)
        self._max_response_size = max_response_size
        self._watch = _DeadlineWatch()

    def _get_session(self) -> ClientSession:
        if self._session is None:
            self._session = ClientSession(timeout=self._default_timeout)
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        body: bytes | None,
        timeouts: Timeouts | None = None,
        deadline: float | None = None,
    ) -> RawResponse:
        """Send the request; raise a ``TransportError`` when no complete answer arrives.

        ``timeouts`` (the transport's own by default): ``connect`` bounds getting a
        connection; the whole attempt is bounded by ``connect + read`` and by ``total``
        (with ``connect=None``, ``read`` bounds each wait for bytes of the answer instead).

        Args:
            deadline: a ``time.monotonic()`` instant that bounds the whole exchange,
                reading the body included; past it the attempt fails with
                ``TransportTimeoutError``.
        """
        session = self._get_session()
        if timeouts is None:
            timeout, budget = self._default_timeout, self._default_budget
        else:
            timeout, budget = _client_timeout(timeouts), _attempt_budget(timeouts)
        now = time.monotonic()
        if deadline is not None and deadline <= now:
            raise TransportTimeoutError(
                f"the call's deadline passed before sending ({url})", possibly_sent=False
            )
        # The earlier of the call's deadline and this attempt's own time limits.
        limit = deadline
        if budget is not None and (limit is None or now + budget < limit):
            limit = now + budget
        task: asyncio.Task[object] | None = None
        cancelling = 0
        if limit is not None:
            task = asyncio.current_task()
            assert task is not None  # send() always runs in a task
            cancelling = task.cancelling()
            self._watch.watch(task, limit)
        # One frame for the whole exchange (no helper coroutines): every resume of an
        # await below passes through each frame above it.
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                params=params,
                data=body,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                length = response.content_length
                if (
                    length is not None
                    and length <= self._max_response_size
                    # Content-Length counts compressed bytes; the chunked path counts ours.
                    and aiohttp.hdrs.CONTENT_ENCODING not in response.headers
                ):
                    # The parser delivers exactly Content-Length bytes: one read.
                    return RawResponse(response.status, response.headers, await response.read())
                payload, truncated = await _read_bounded(response, self._max_response_size, length)
                return RawResponse(response.status, response.headers, payload, truncated)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _map_error(exc, url) from exc
        except asyncio.CancelledError as exc:
            # Ours only if no one else cancelled the task meanwhile (asyncio.timeout's rule).
            if task is not None and self._watch.unwatch(task) and task.uncancel() <= cancelling:
                if limit == deadline:
                    raise TransportTimeoutError(
                        f"no complete answer before the call's deadline ({url})",
                        possibly_sent=True,
                    ) from exc
                raise TransportTimeoutError(
                    f"timed out waiting for the answer ({url})", possibly_sent=True
                ) from exc
            raise
        finally:
            if task is not None and self._watch.unwatch(task):
                task.uncancel()  # cancelled late, but it surfaced as another error

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        self._watch.stop()
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
