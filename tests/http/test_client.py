from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import heymarket_async
from heymarket_async import ApiRequest, HeymarketClient, RetryPolicy, Timeouts
from heymarket_async._ratelimit import SlidingWindowLimiter
from heymarket_async.errors import (
    ClientClosedError,
    ConfigurationError,
    NetworkError,
    ServerError,
    TransportTimeoutError,
)

from ..helpers import BASE_URL, SECRET_ID, SECRET_KEY, CompatClientResponse, MockApi
from ..virtual_time import run_virtual

TEAM = {"id": 1, "name": "Acme", "list_size": 10000, "members": []}


def _client(**options: Any) -> HeymarketClient:
    defaults: dict[str, Any] = {
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "base_url": BASE_URL,
        "rate_limit_per_minute": None,
    }
    return HeymarketClient(**{**defaults, **options})


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("lifetime", [300, 301, 0, -1])
def test_token_lifetime_must_be_under_five_minutes(lifetime: float) -> None:
    """A token lifetime of 300 s or more (or not positive) is refused."""
    with pytest.raises(ConfigurationError, match="token_lifetime"):
        _client(token_lifetime=lifetime)


@pytest.mark.parametrize(
    "options",
    [
        {"secret_id": None},
        {"secret_key": None},
        {"api_key": "k" * 20},
        {"base_url": "api.heymarket.com"},
        {"base_url": "ftp://x"},
        {"rate_limit_per_minute": 0},
        {"rate_limit_per_minute": True},
        {"timeout": -1},
        {"retry": "yes"},
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    """Missing or contradictory credentials and invalid options raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        _client(**options)


def test_configuration_error_is_a_value_error() -> None:
    """ConfigurationError can be caught as ValueError."""
    with pytest.raises(ValueError, match="credentials missing"):
        HeymarketClient()


def test_from_env_reads_secret_pair_and_base_url() -> None:
    """from_env uses HEYMARKET_SECRET_ID/KEY and HEYMARKET_BASE_URL."""
    hm = HeymarketClient.from_env(
        {
            "HEYMARKET_SECRET_ID": SECRET_ID,
            "HEYMARKET_SECRET_KEY": SECRET_KEY,
            "HEYMARKET_API_KEY": "ignored-when-secrets-exist",
            "HEYMARKET_BASE_URL": "http://127.0.0.1:9/",
        },
        rate_limit_per_minute=None,
    )
    assert hm.base_url == "http://127.0.0.1:9"
    assert hm.rate_limit_per_minute is None
    assert "jwt" in repr(hm)


def test_from_env_reads_api_key() -> None:
    """from_env falls back to HEYMARKET_API_KEY and the default base URL."""
    hm = HeymarketClient.from_env({"HEYMARKET_API_KEY": "legacy-key-0123456789"})
    assert hm.base_url == "https://api.heymarket.com"
    assert "api key" in repr(hm)


def test_from_env_without_credentials_says_what_to_set() -> None:
    """from_env with nothing set names the variables to set."""
    with pytest.raises(ConfigurationError, match="HEYMARKET_SECRET_ID"):
        HeymarketClient.from_env({})


def test_number_timeout_bounds_the_whole_request() -> None:
    """A numeric timeout becomes the total bound, keeping connect/read defaults."""
    assert _client(timeout=5).timeouts == Timeouts(connect=10.0, read=30.0, total=5.0)


# --- lifecycle ---------------------------------------------------------------------------


async def test_use_after_close_is_a_clear_error(mock_api: MockApi) -> None:
    """Requests and re-entry after close raise ClientClosedError."""
    mock_api.add("GET", "/v1/team", payload=TEAM)
    async with _client() as hm:
        await hm.team.get()
    assert hm.is_closed
    with pytest.raises(ClientClosedError):
        await hm.team.get()
    with pytest.raises(ClientClosedError):
        async with hm:
            pass
    await hm.aclose()  # idempotent


async def test_session_is_created_lazily_inside_the_loop() -> None:
    """Constructing and closing a client without requests creates no session."""
    hm = _client()
    async with hm:
        assert hm._transport._session is None
    assert hm._transport._session is None


async def test_caller_owned_session_is_never_closed(mock_api: MockApi) -> None:
    """A session passed in stays open after the client closes."""
    mock_api.add("GET", "/v1/team", payload=TEAM)
    async with aiohttp.ClientSession() as session:
        async with _client(session=session) as hm:
            await hm.team.get()
        assert not session.closed


# --- a real loopback server for cancellation and timeouts ---------------------------------


@pytest.fixture
async def slow_server() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response(TEAM)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "body": await request.text(),
                "headers": {k: v for k, v in request.headers.items() if k != "Authorization"},
                "has_auth": request.headers.get("Authorization", "").startswith("Bearer "),
            },
            headers={"X-Request-Id": "loop-1"},
        )

    app = web.Application()
    app.router.add_get("/v1/team", slow)
    app.router.add_route("*", "/echo", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        await runner.cleanup()


async def test_cancellation_propagates_and_session_closes(slow_server: str) -> None:
    """Cancelling an in-flight request raises CancelledError and the session still closes."""
    async with _client(base_url=slow_server) as hm:
        task = asyncio.create_task(hm.team.get())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        session = hm._transport._session
        assert session is not None
    assert session.closed


async def test_read_timeout_against_real_server(slow_server: str) -> None:
    """A slow answer raises TransportTimeoutError marked possibly_sent, per-call timeout wins."""
    async with _client(base_url=slow_server, retry=RetryPolicy.disabled()) as hm:
        with pytest.raises(TransportTimeoutError) as info:
            await hm.team.get(timeout=Timeouts(connect=1.0, read=0.1))
    assert info.value.possibly_sent


async def test_connect_refused_is_not_sent() -> None:
    """A refused connection raises NetworkError with possibly_sent False."""
    async with _client(base_url="http://127.0.0.1:9", retry=RetryPolicy.disabled()) as hm:
        with pytest.raises(NetworkError) as info:
            await hm.team.get()
    assert not info.value.possibly_sent


async def test_get_may_carry_a_json_body_and_headers_are_sent(slow_server: str) -> None:
    """A GET with a JSON body reaches the server with the body, User-Agent and bearer token."""
    async with _client(base_url=slow_server) as hm:
        response = await hm.request(ApiRequest(method="GET", path="/echo", json={"phone": ["1"]}))
    assert response.request_id == "loop-1"
    assert response.data["method"] == "GET"
    assert response.data["body"] == '{"phone":["1"]}'
    assert response.data["has_auth"]
    ua = response.data["headers"]["User-Agent"]
    assert ua.startswith(f"heymarket-async/{heymarket_async.__version__} ")
    assert response.data["headers"]["Content-Type"] == "application/json"


# --- pacing ------------------------------------------------------------------------------


def test_client_limiter_keeps_concurrent_calls_under_the_rate(mock_api: MockApi) -> None:
    """30 concurrent calls with a limit of 10/min never exceed 10 in a sliding window."""
    sent_at: list[float] = []

    def record(_url: Any, **_kwargs: Any) -> None:
        sent_at.append(asyncio.get_running_loop().time())

    mock_api.mocked.get(
        BASE_URL + "/v1/team",
        payload=TEAM,
        repeat=True,
        callback=record,
        response_class=CompatClientResponse,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # The pacing wait counts against the retry deadline; these calls wait minutes.
        async with _client(rate_limit_per_minute=10, retry=RetryPolicy(deadline=3600)) as hm:
            hm._limiter = SlidingWindowLimiter(10, clock=loop.time)
            await asyncio.gather(*(hm.team.get() for _ in range(30)))

    run_virtual(main(), start=time.monotonic())
    assert len(sent_at) == 30
    sent_at.sort()
    for i in range(len(sent_at) - 10):
        assert sent_at[i + 10] - sent_at[i] >= 60.0


async def test_one_429_pauses_the_client_limiter_without_cutting_its_rate(
    mock_api: MockApi,
) -> None:
    """A single 429 pauses pacing (for Retry-After, capped by max_wait); the rate stays."""
    mock_api.add("GET", "/v1/team", status=429, headers={"Retry-After": "1000000000"})
    mock_api.add("GET", "/v1/team", payload=TEAM)
    policy = RetryPolicy(max_wait=0.05)
    async with _client(rate_limit_per_minute=100, retry=policy) as hm:
        await asyncio.wait_for(hm.team.get(), 5)
        assert isinstance(hm._limiter, SlidingWindowLimiter)
        assert hm._limiter.effective_limit == 100
        assert hm._limiter.max_pause == 0.05


# --- secrets -----------------------------------------------------------------------------


async def test_secrets_never_appear_in_logs_reprs_or_errors(
    mock_api: MockApi, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, no log line, repr or error text contains the secret key or a JWT."""
    caplog.set_level(logging.DEBUG)
    mock_api.add("GET", "/v1/team", status=401, payload={"message": "expired"})
    mock_api.add("GET", "/v1/team", status=503, body="busy")
    mock_api.add("GET", "/v1/team", payload=TEAM)
    mock_api.add("GET", "/v1/inboxes", status=400, payload={"message": "bad"})
    texts: list[str] = []
    async with _client() as hm:
        team = await hm.team.get()
        with pytest.raises(heymarket_async.errors.BadRequestError) as info:
            await hm.inboxes.list()
        texts += [repr(hm), str(hm), repr(team), repr(hm._tokens), repr(hm.team)]
        texts += [str(info.value), repr(info.value)]
        token = (await hm._tokens.get()).value
    sent_tokens = {
        call.kwargs["headers"]["Authorization"].removeprefix("Bearer ")
        for _m, _u, call in mock_api.all_calls()
    }
    assert token in sent_tokens
    texts += [record.getMessage() for record in caplog.records]
    assert any("/v1/team" in text for text in texts)  # DEBUG logging did happen
    for secret in [SECRET_KEY, *sent_tokens]:
        for text in texts:
            assert secret not in text


async def test_server_error_message_and_request_id_surface(mock_api: MockApi) -> None:
    """A ServerError carries the request id of the last answer."""
    mock_api.add("GET", "/v1/team", status=500, payload={"message": "boom"}, request_id="r-9")
    async with _client(retry=RetryPolicy.disabled()) as hm:
        with pytest.raises(ServerError) as info:
            await hm.team.get()
    assert info.value.request_id == "r-9"
    assert "r-9" in str(info.value)
