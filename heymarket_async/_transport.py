"""The only client-side module that imports aiohttp.

It sends bytes and returns bytes; every aiohttp and asyncio failure leaves this module as
one of our :class:`~heymarket_async.errors.TransportError` subclasses, classified by whether
the request body may have reached the server.
"""

from __future__ import annotations

import asyncio
import functools
import platform
import time
from collections.abc import Mapping
from typing import Final

import aiohttp
import attrs
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


@attrs.frozen
class RawResponse:
    """An HTTP answer; ``truncated`` when the body was cut at ``max_response_size``."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False


# Per-call timeouts repeat the same few values; ClientTimeout is frozen, so share them.
@functools.lru_cache(maxsize=64)
def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.read
    )


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


def _with_deadline(timeout: aiohttp.ClientTimeout, remaining: float) -> aiohttp.ClientTimeout:
    # aiohttp's `total` covers the whole exchange, reading the body included (its timer
    # stops when the connection is released), so a server dripping bytes cannot outlast it.
    if timeout.total is not None and timeout.total <= remaining:
        return timeout
    return aiohttp.ClientTimeout(
        total=remaining, connect=timeout.connect, sock_read=timeout.sock_read
    )


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body, or ``True`` and the body's first bytes (at most 64 KiB) when it is longer
    than ``limit``: nothing reads more of a body that is too large than an excerpt."""
    length = response.content_length
    if length is not None and aiohttp.hdrs.CONTENT_ENCODING in response.headers:
        length = None  # Content-Length counts compressed bytes; count what we keep instead
    if length is not None and length <= limit:
        # The parser delivers exactly Content-Length bytes: one read, no size checks.
        return await response.read(), False
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
        self._max_response_size = max_response_size

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

        Args:
            deadline: a ``time.monotonic()`` instant that bounds the whole exchange,
                reading the body included; past it the attempt fails with
                ``TransportTimeoutError``.
        """
        session = self._get_session()
        timeout = self._default_timeout if timeouts is None else _client_timeout(timeouts)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportTimeoutError(
                    f"the call's deadline passed before sending ({url})", possibly_sent=False
                )
            timeout = _with_deadline(timeout, remaining)
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
                payload, truncated = await _read_bounded(response, self._max_response_size)
                return RawResponse(response.status, response.headers, payload, truncated)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _map_error(exc, url) from exc

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
