"""Waits the server or the limiter impose stay bounded; closing and event loops are clear."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, Timeouts, _retry
from heymarket_async._ratelimit import SlidingWindowLimiter
from heymarket_async.errors import (
    ClientClosedError,
    PacingTimeoutError,
    RateLimitError,
    WrongEventLoopError,
)

from ..helpers import BASE_URL, SECRET_ID, SECRET_KEY, CompatClientResponse, MockApi
from ..hostile import Answer, HostileServer
from ..virtual_time import run_virtual

TEAM = {"id": 1, "name": "Acme", "list_size": 10000, "members": []}


@pytest.fixture
def retry_waits() -> Iterator[None]:
    """Real retry backoff for this test (the suite turns it off by default)."""
    previous, _retry._waits_enabled = _retry._waits_enabled, True
    try:
        yield
    finally:
        _retry._waits_enabled = previous


def _no_unclosed_session() -> None:
    """Collect garbage and fail on any "Unclosed client session" warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


# --- a server that asks for absurd waits ---------------------------------------------------


@pytest.mark.usefixtures("retry_waits")
@pytest.mark.parametrize(
    "retry_after",
    ["1e9", "inf", "nan", "-5", "Fri, 31 Dec 9999 23:59:59 GMT", "soon"],
)
async def test_an_absurd_retry_after_never_freezes_the_client(retry_after: str) -> None:
    """A 429 asking for 10**9 s (or inf, a far date, junk) costs at most max_wait, and later
    calls are not held by the limiter beyond that cap."""
    async with HostileServer() as server:
        server.script(
            "GET",
            "/v1/team",
            Answer.json(
                {"error": "rate_limited"}, status=429, headers={"Retry-After": retry_after}
            ),
            then=Answer.json(TEAM),
        )
        policy = RetryPolicy(attempts=3, max_wait=0.2, initial_wait=0.01, jitter=0.0)
        async with server.client(rate_limit_per_minute=500, retry=policy) as hm:
            team = await asyncio.wait_for(hm.team.get(), 10)
            assert team.name == "Acme"
            assert isinstance(hm._limiter, SlidingWindowLimiter)
            assert hm._limiter.paused_for <= 0.2
            await asyncio.wait_for(asyncio.gather(*(hm.team.get() for _ in range(5))), 10)
    assert len(server.seen("GET", "/v1/team")) == 7


# --- the wait for a pacing slot counts against the call's time limits ----------------------


def _paced_client(**options: object) -> HeymarketClient:
    return HeymarketClient(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        base_url=BASE_URL,
        rate_limit_per_minute=5,  # one slot every 12.2 s after the first
        **options,  # type: ignore[arg-type]
    )


async def test_timeout_1_behind_a_saturated_limiter_raises_the_typed_error_at_once(
    mock_api: MockApi,
) -> None:
    """With callers queued in the limiter, a call with timeout=1 fails with
    PacingTimeoutError within about a second, says how long it would have waited, and sends
    nothing."""
    mock_api.add("GET", "/v1/team", payload=TEAM, repeat=True)
    async with _paced_client() as hm:
        await hm.team.get()
        queued = [asyncio.create_task(hm.team.get()) for _ in range(3)]
        await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(PacingTimeoutError) as info:
            await asyncio.wait_for(hm.team.get(timeout=1), 3)
        assert time.monotonic() - started < 2.0
        for task in queued:
            task.cancel()
        await asyncio.gather(*queued, return_exceptions=True)
    assert info.value.wait > 3 * 12.0  # behind three queued callers
    assert isinstance(info.value, RateLimitError)
    assert info.value.request_id is None
    assert "1.0 s" in str(info.value)
    assert len(mock_api.calls("GET", "/v1/team")) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"max_pacing_wait": 2.0},
        {"retry": RetryPolicy(deadline=2.0)},
        {"timeout": Timeouts(total=2.0)},
    ],
)
async def test_pacing_wait_is_bounded_by_each_time_limit(
    mock_api: MockApi, options: dict[str, object]
) -> None:
    """max_pacing_wait, the retry deadline and the client's total timeout each bound it."""
    mock_api.add("GET", "/v1/team", payload=TEAM, repeat=True)
    async with _paced_client(**options) as hm:
        await hm.team.get()
        with pytest.raises(PacingTimeoutError) as info:
            await asyncio.wait_for(hm.team.get(), 3)
    assert info.value.wait == pytest.approx(12.2, abs=0.1)
    assert len(mock_api.calls("GET", "/v1/team")) == 1


def test_time_spent_waiting_for_a_slot_is_taken_off_the_request_timeout(
    mock_api: MockApi,
) -> None:
    """A call with timeout=20 that waited 12.2 s for its slot has 7.8 s left on the wire."""
    mock_api.add("GET", "/v1/team", payload=TEAM, repeat=True)

    totals: list[float | None] = []

    async def main() -> None:
        async with _paced_client() as hm:
            hm._limiter = SlidingWindowLimiter(5, clock=asyncio.get_running_loop().time)
            send = hm._transport.send

            async def spy(*args: Any, **kwargs: Any) -> Any:
                totals.append(kwargs["timeouts"].total)
                return await send(*args, **kwargs)

            hm._transport.send = spy  # type: ignore[method-assign]
            await hm.team.get(timeout=20)
            await hm.team.get(timeout=20)

    run_virtual(main(), start=time.monotonic())
    assert len(mock_api.calls("GET", "/v1/team")) == 2
    assert totals[0] == pytest.approx(20.0, abs=0.1)
    assert totals[1] == pytest.approx(20.0 - 12.2, abs=0.1)


async def test_a_pacing_timeout_is_not_retried() -> None:
    """PacingTimeoutError ends the call at once; no retry waits for another slot."""
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        raise PacingTimeoutError(wait=30.0, allowed=1.0)

    first = PacingTimeoutError(wait=30.0, allowed=1.0)
    with pytest.raises(PacingTimeoutError) as info:
        await _retry.retry_after_failure(
            first,
            attempt,
            started=time.monotonic(),
            policy=RetryPolicy(attempts=4),
            replay_safe=True,
        )
    assert info.value is first
    assert attempts == 0


# --- closing while requests wait -----------------------------------------------------------


@pytest.mark.usefixtures("retry_waits")
@pytest.mark.parametrize("backoff", [0.2, 30.0])
async def test_aclose_during_retry_backoff_fails_the_request_and_opens_nothing(
    backoff: float,
) -> None:
    """A request waiting to retry after a 503 ends with ClientClosedError when the client
    closes (at once, however long the backoff), and never reopens a connection pool."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"error": "busy"}, status=503))
        policy = RetryPolicy(attempts=5, initial_wait=backoff, max_wait=backoff, jitter=0.0)
        hm = server.client(retry=policy)
        async with hm:
            call = asyncio.create_task(hm.team.get())
            while not server.seen("GET", "/v1/team"):  # noqa: ASYNC110 - the server's record
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the 503 arrived; the call now sits in its backoff
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(call, 5)
        await asyncio.sleep(backoff + 0.1 if backoff < 1 else 0)
        assert hm._transport._session is None
    assert len(server.seen("GET", "/v1/team")) == 1
    _no_unclosed_session()


async def test_aclose_while_waiting_for_a_pacing_slot_fails_the_request() -> None:
    """A request queued in the limiter ends with ClientClosedError when the client closes,
    and sends nothing."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json(TEAM))
        hm = server.client(rate_limit_per_minute=1, retry=RetryPolicy(deadline=120))
        async with hm:
            await hm.team.get()
            waiting = asyncio.create_task(hm.team.get())
            await asyncio.sleep(0.05)
            assert not waiting.done()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(waiting, 5)
        assert hm._transport._session is None
    assert len(server.seen("GET", "/v1/team")) == 1
    _no_unclosed_session()


# --- one client, one event loop --------------------------------------------------------------


def test_a_client_used_from_a_second_event_loop_says_so(mock_api: MockApi) -> None:
    """Using a client from another event loop raises WrongEventLoopError, not a deep asyncio
    error; the first loop can still use and close it."""
    mock_api.mocked.get(
        BASE_URL + "/v1/team", payload=TEAM, repeat=True, response_class=CompatClientResponse
    )
    hm = HeymarketClient(secret_id=SECRET_ID, secret_key=SECRET_KEY, base_url=BASE_URL)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(hm.team.get())
        with pytest.raises(WrongEventLoopError, match="event loop it was first used in"):
            asyncio.run(hm.team.get())

        async def enter() -> None:
            async with hm:
                pass

        with pytest.raises(WrongEventLoopError):
            asyncio.run(enter())
        assert not hm.is_closed
        first.run_until_complete(hm.team.get())
        first.run_until_complete(hm.aclose())
    finally:
        first.close()
    assert hm.is_closed
