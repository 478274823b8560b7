"""The only client-side module that imports aiohttp.

It sends bytes and returns bytes; every aiohttp and asyncio failure leaves this module as
one of our :class:`~heymarket_async.errors.TransportError` subclasses, classified by whether
the request body may have reached the server.
"""

from __future__ import annotations

import asyncio
import functools
import platform
from collections.abc import Mapping

import aiohttp
import attrs
from aiohttp import ClientSession

from ._config import Timeouts
from ._version import version
from .errors import NetworkError, TransportError, TransportTimeoutError

__all__ = ["AiohttpTransport", "ClientSession", "RawResponse", "user_agent"]


def user_agent() -> str:
    return (
        f"heymarket-async/{version()} Python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )


@attrs.frozen
class RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


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


class AiohttpTransport:
    """Sends one HTTP request on an aiohttp session and reads the whole answer.

    The session is created lazily inside the running loop, or borrowed from the caller
    (and then never closed here).
    """

    def __init__(self, *, session: ClientSession | None, timeouts: Timeouts) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeouts = timeouts
        self._default_timeout = _client_timeout(timeouts)

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
    ) -> RawResponse:
        """Send the request; raise a ``TransportError`` when no complete answer arrives."""
        session = self._get_session()
        timeout = self._default_timeout if timeouts is None else _client_timeout(timeouts)
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
                payload = await response.read()
                return RawResponse(response.status, response.headers, payload)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _map_error(exc, url) from exc

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
