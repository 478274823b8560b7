"""Each attempt's time limits (``Timeouts``) against a silent server, in the situations
where the transport's deadline watch, not aiohttp, has to enforce them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from heymarket_async import RetryPolicy, Timeouts
from heymarket_async.errors import TransportTimeoutError
from tests.hostile import Answer, HostileServer

TEAM = {"id": 1, "name": "Team", "list_size": 100}
NO_RETRY = RetryPolicy.disabled()


async def test_an_attempt_in_flight_keeps_its_limits_after_the_client_closes() -> None:
    """On a borrowed session an attempt outlives the client's close; a silent server still
    cannot hold it past `connect + read`."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json(TEAM, delay=3))
        async with aiohttp.ClientSession() as session:
            hm = server.client(
                session=session, retry=NO_RETRY, timeout=Timeouts(connect=0.2, read=0.3)
            )
            started = time.monotonic()
            async with hm:
                attempt = asyncio.create_task(hm.team.get())
                await asyncio.sleep(0.1)  # on the wire when the client closes
            try:
                await asyncio.wait_for(attempt, timeout=15)
            except TransportTimeoutError as exc:
                failure: TransportTimeoutError | None = exc
            else:
                failure = None
            elapsed = time.monotonic() - started
    assert failure is not None, "the attempt waited for the silent server's late answer"
    assert failure.possibly_sent is True
    assert elapsed < 2.5


async def test_without_a_connect_limit_waiting_for_a_connection_is_not_read_time() -> None:
    """`connect=None`: getting a connection has no limit, so requests queued for the one
    pooled connection are sent in turn; each answer comes well within `read` of its send
    (none fails as possibly sent while it never went out)."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json(TEAM, delay=0.3))
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            options = {"session": session, "retry": NO_RETRY}
            async with server.client(timeout=Timeouts(connect=None, read=1.0), **options) as hm:
                calls = [hm.team.get() for _ in range(5)]  # the last waits ~1.2 s for the pool
                results = await asyncio.wait_for(
                    asyncio.gather(*calls, return_exceptions=True), timeout=30
                )
        assert [type(result).__name__ for result in results] == ["Team"] * 5
        assert len(server.seen("GET", "/v1/team")) == 5


async def test_without_a_connect_limit_read_still_ends_a_silent_attempt() -> None:
    """`connect=None` leaves `read` in force: a server that never answers is given up on."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json(TEAM, delay=3))
        async with server.client(retry=NO_RETRY, timeout=Timeouts(connect=None, read=0.3)) as hm:
            started = time.monotonic()
            try:
                await asyncio.wait_for(hm.team.get(), timeout=15)
            except TransportTimeoutError as exc:
                failure: TransportTimeoutError | None = exc
            else:
                failure = None
            elapsed = time.monotonic() - started
    assert failure is not None
    assert failure.possibly_sent is True
    assert elapsed < 2.5


async def test_a_connect_timeout_above_five_seconds_still_says_nothing_was_sent() -> None:
    """aiohttp rounds a connect limit above 5 s up to a whole second of the loop's clock;
    the attempt's own `connect + read` must not run out first (with a short `read`), or a
    request still waiting for a connection would fail as possibly sent."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", Answer.json(TEAM, delay=8), then=Answer.json(TEAM))
        connector = aiohttp.TCPConnector(limit=1)
        session = aiohttp.ClientSession(connector=connector)
        async with session, server.client(session=session, retry=NO_RETRY) as hm:
            # Holds the only pooled connection for 8 s.
            holder = asyncio.create_task(hm.team.get(timeout=Timeouts(connect=1, read=20)))
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()
            # Start a third of a second past a whole second: rounding then adds ~0.7 s.
            await asyncio.sleep((1.3 - loop.time() % 1.0) % 1.0)
            with pytest.raises(TransportTimeoutError) as info:
                await asyncio.wait_for(
                    hm.team.get(timeout=Timeouts(connect=6, read=0.05)), timeout=30
                )
            await asyncio.wait_for(holder, timeout=30)
    assert info.value.possibly_sent is False
    assert "connecting" in str(info.value)
