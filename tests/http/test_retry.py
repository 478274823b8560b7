from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiohttp
import pytest

from heymarket_async import ApiRequest, ApiResponse, HeymarketClient, RetryPolicy, _retry
from heymarket_async.errors import (
    AuthenticationError,
    BadRequestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportTimeoutError,
)

from ..helpers import BASE_URL, SECRET_ID, SECRET_KEY, MockApi

TEAM = {"id": 1, "name": "Acme", "list_size": 10000, "members": []}
HTML_502 = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(
    ("status", "body"),
    [(429, '{"error_code": "rate_limited"}'), (500, "{}"), (502, HTML_502), (503, "")],
)
async def test_retryable_status_then_success(
    client: HeymarketClient, mock_api: MockApi, status: int, body: str
) -> None:
    """Two retryable failures then a 200 make exactly three attempts and succeed."""
    mock_api.add("GET", "/v1/team", status=status, body=body)
    mock_api.add("GET", "/v1/team", status=status, body=body)
    mock_api.add("GET", "/v1/team", payload=TEAM)
    team = await client.team.get()
    assert team.name == "Acme"
    assert len(mock_api.calls("GET", "/v1/team")) == 3


async def test_connection_error_then_success(client: HeymarketClient, mock_api: MockApi) -> None:
    """A connect failure is retried and the next attempt succeeds."""
    mock_api.add(
        "GET",
        "/v1/team",
        exception=aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey(
                host="h",
                port=443,
                is_ssl=True,
                ssl=None,
                proxy=None,
                proxy_auth=None,
                proxy_headers_hash=None,
            ),
            OSError(111, "refused"),
        ),
    )
    mock_api.add("GET", "/v1/team", payload=TEAM)
    assert (await client.team.get()).id == 1
    assert len(mock_api.calls("GET", "/v1/team")) == 2


async def test_read_timeout_on_get_is_retried(client: HeymarketClient, mock_api: MockApi) -> None:
    """A read timeout on a GET is retried (a GET repeats harmlessly)."""
    mock_api.add("GET", "/v1/team", exception=aiohttp.SocketTimeoutError("read"))
    mock_api.add("GET", "/v1/team", payload=TEAM)
    assert (await client.team.get()).id == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (403, PermissionDeniedError), (404, NotFoundError)],
)
async def test_client_errors_are_not_retried(
    client: HeymarketClient, mock_api: MockApi, status: int, cls: type[Exception]
) -> None:
    """400, 403 and 404 raise at once after a single attempt."""
    mock_api.add("GET", "/v1/team", status=status, payload={"message": "no"}, repeat=True)
    with pytest.raises(cls) as info:
        await client.team.get()
    assert len(mock_api.calls("GET", "/v1/team")) == 1
    assert info.value.request_id == "req-test-1"  # type: ignore[attr-defined]


async def test_gives_up_after_the_attempt_budget(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Persistent 503s stop after the policy's four attempts and raise the last error."""
    mock_api.add("GET", "/v1/team", status=503, body="down", repeat=True)
    with pytest.raises(ServerError) as info:
        await client.team.get()
    assert info.value.status == 503
    assert len(mock_api.calls("GET", "/v1/team")) == 4


async def test_persistent_429_raises_rate_limit_error(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Persistent 429s end in RateLimitError carrying retry_after."""
    mock_api.add("GET", "/v1/team", status=429, headers={"Retry-After": "1"}, repeat=True)
    with pytest.raises(RateLimitError) as info:
        await client.team.get()
    assert info.value.retry_after == 1.0
    assert len(mock_api.calls("GET", "/v1/team")) == 4


async def test_write_without_key_is_not_retried_after_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A POST that is not replay-safe is not repeated after a 500 or a disconnect."""
    mock_api.add("POST", "/v1/thing", status=500, body="{}")
    with pytest.raises(ServerError):
        await client.request(ApiRequest(method="POST", path="/v1/thing", json={"a": 1}))
    mock_api.add("POST", "/v1/other", exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(NetworkError) as info:
        await client.request(ApiRequest(method="POST", path="/v1/other", json={"a": 1}))
    assert info.value.possibly_sent
    assert len(mock_api.calls("POST", "/v1/thing")) == 1
    assert len(mock_api.calls("POST", "/v1/other")) == 1


async def test_write_is_retried_when_certainly_not_sent(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A POST is repeated after a 429 or a connect timeout: the server never processed it."""
    mock_api.add("POST", "/v1/thing", status=429)
    mock_api.add("POST", "/v1/thing", exception=aiohttp.ConnectionTimeoutError("connect"))
    mock_api.add("POST", "/v1/thing", payload={"id": 9})
    response = await client.request(ApiRequest(method="POST", path="/v1/thing", json={}))
    assert response.data == {"id": 9}
    assert len(mock_api.calls("POST", "/v1/thing")) == 3


async def test_replay_safe_write_is_retried_after_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A POST marked replay-safe (it carries a deduplicated local_id) is repeated after a 502."""
    mock_api.add("POST", "/v1/email/send", status=502, body=HTML_502)
    mock_api.add("POST", "/v1/email/send", payload={"id": 3})
    request = ApiRequest(
        method="POST", path="/v1/email/send", json={"local_id": "k1"}, replay_safe=True
    )
    assert (await client.request(request)).data == {"id": 3}
    bodies = [call.kwargs["data"] for call in mock_api.calls("POST", "/v1/email/send")]
    assert bodies == [b'{"local_id":"k1"}', b'{"local_id":"k1"}']


async def test_reconciler_runs_before_resending(client: HeymarketClient, mock_api: MockApi) -> None:
    """After an ambiguous failure the reconciler's finding ends the call without a resend."""
    mock_api.add("POST", "/v1/thing", exception=aiohttp.ServerDisconnectedError())
    lookups = 0

    async def reconcile() -> ApiResponse:
        nonlocal lookups
        lookups += 1
        return ApiResponse(status=200, data={"id": 77}, request_id=None)

    response = await client.request(
        ApiRequest(method="POST", path="/v1/thing", json={}), reconcile=reconcile
    )
    assert response.data == {"id": 77}
    assert lookups == 1
    assert len(mock_api.calls("POST", "/v1/thing")) == 1


async def test_reconciler_absent_leads_to_one_resend(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """When the reconciler finds nothing, the request is sent again and succeeds."""
    mock_api.add("POST", "/v1/thing", status=503)
    mock_api.add("POST", "/v1/thing", payload={"id": 5})

    async def reconcile() -> None:
        return None

    response = await client.request(
        ApiRequest(method="POST", path="/v1/thing", json={}), reconcile=reconcile
    )
    assert response.data == {"id": 5}
    assert len(mock_api.calls("POST", "/v1/thing")) == 2


async def test_401_refreshes_the_token_once(client: HeymarketClient, mock_api: MockApi) -> None:
    """A 401 invalidates the JWT used, mints a fresh one and succeeds on the second try."""
    mock_api.add("GET", "/v1/team", status=401, payload={"message": "expired"})
    mock_api.add("GET", "/v1/team", payload=TEAM)
    assert (await client.team.get()).id == 1
    calls = mock_api.calls("GET", "/v1/team")
    auth = [call.kwargs["headers"]["Authorization"] for call in calls]
    assert len(auth) == 2
    assert auth[0] != auth[1] or client.token_mint_count == 2
    assert client.token_mint_count == 2


async def test_second_401_raises(client: HeymarketClient, mock_api: MockApi) -> None:
    """Two 401s in a row raise AuthenticationError after exactly one refresh."""
    mock_api.add("GET", "/v1/team", status=401, payload={"message": "bad"}, repeat=True)
    with pytest.raises(AuthenticationError):
        await client.team.get()
    assert len(mock_api.calls("GET", "/v1/team")) == 2
    assert client.token_mint_count == 2


async def test_api_key_401_is_not_refreshed(mock_api: MockApi) -> None:
    """With a legacy API key a 401 raises at once (there is nothing to refresh)."""
    mock_api.add("GET", "/v1/team", status=401, repeat=True)
    async with HeymarketClient(
        api_key="legacy-key-value-0123456789", base_url=BASE_URL, rate_limit_per_minute=None
    ) as hm:
        with pytest.raises(AuthenticationError):
            await hm.team.get()
    calls = mock_api.calls("GET", "/v1/team")
    assert len(calls) == 1
    assert calls[0].kwargs["headers"]["Authorization"] == "Bearer legacy-key-value-0123456789"


async def test_deadline_bounds_retries(mock_api: MockApi) -> None:
    """A deadline shorter than the backoff stops retrying before the attempt budget."""
    mock_api.add("GET", "/v1/team", status=503, repeat=True)
    with _retry_waits_enabled():
        async with HeymarketClient(
            secret_id=SECRET_ID,
            secret_key=SECRET_KEY,
            base_url=BASE_URL,
            rate_limit_per_minute=None,
            retry=RetryPolicy(attempts=10, deadline=0.05, initial_wait=1.0, jitter=0.0),
        ) as hm:
            with pytest.raises(ServerError):
                await hm.team.get()
    assert len(mock_api.calls("GET", "/v1/team")) == 1


@contextlib.contextmanager
def _retry_waits_enabled() -> Iterator[None]:
    previous, _retry._waits_enabled = _retry._waits_enabled, True
    try:
        yield
    finally:
        _retry._waits_enabled = previous


async def test_retry_after_is_honoured_and_backoff_grows(
    client: HeymarketClient, mock_api: MockApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waits follow Retry-After when given (capped by max_wait), else exponential backoff."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(_retry, "_sleep", fake_sleep)
    mock_api.add("GET", "/v1/team", status=429, headers={"Retry-After": "3"})
    mock_api.add("GET", "/v1/team", status=429, headers={"Retry-After": "999"})
    mock_api.add("GET", "/v1/team", status=503)
    mock_api.add("GET", "/v1/team", payload=TEAM)
    with _retry_waits_enabled():
        async with HeymarketClient(
            secret_id=SECRET_ID,
            secret_key=SECRET_KEY,
            base_url=BASE_URL,
            rate_limit_per_minute=None,
            retry=RetryPolicy(attempts=4, initial_wait=0.5, max_wait=10.0, jitter=0.0),
        ) as hm:
            await hm.team.get()
    # Third wait: exponential backoff for attempt 3 with no jitter, 0.5 * 2**2.
    assert slept == [3.0, 10.0, 2.0]


async def test_retry_disabled_policy(mock_api: MockApi) -> None:
    """RetryPolicy.disabled() makes a single attempt."""
    mock_api.add("GET", "/v1/team", status=503, repeat=True)
    async with HeymarketClient(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        base_url=BASE_URL,
        retry=RetryPolicy.disabled(),
    ) as hm:
        with pytest.raises(ServerError):
            await hm.team.get()
    assert len(mock_api.calls("GET", "/v1/team")) == 1


async def test_timeout_error_class(client: HeymarketClient, mock_api: MockApi) -> None:
    """A read timeout surfaces as TransportTimeoutError (also a TimeoutError)."""
    mock_api.add("GET", "/v1/team", exception=aiohttp.SocketTimeoutError("read"), repeat=True)
    with pytest.raises(TimeoutError) as info:
        await client.team.get()
    assert isinstance(info.value, TransportTimeoutError)
    assert info.value.possibly_sent
    assert isinstance(info.value.__cause__, aiohttp.SocketTimeoutError)
