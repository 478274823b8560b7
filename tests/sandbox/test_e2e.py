"""HeymarketClient against the sandbox: real HTTP on 127.0.0.1, faults answered by the SDK."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, _retry
from heymarket_async.errors import AuthenticationError, ServerError
from heymarket_async.sandbox import Fault, FaultKind, Sandbox

INBOXES = "GET /v1/inboxes"
TEAM = "GET /v1/team"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sb:
        yield sb


@pytest.fixture
async def hm(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with HeymarketClient(
        **sandbox.client_kwargs(),
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=4, deadline=20.0),
    ) as client:
        yield client


async def test_inboxes_list(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """hm.inboxes.list() reads the sandbox's inboxes and the request id."""
    inboxes = await hm.inboxes.list()
    assert [inbox.id for inbox in inboxes] == [42, 43, 44]
    main = inboxes[0]
    assert (main.name, main.phone, main.members, main.team) == (
        "Main",
        "14155550142",
        (7, 8, 9),
        1001,
    )
    assert inboxes.request_id is not None
    assert re.fullmatch(r"[0-9a-f]{32}", inboxes.request_id)
    assert sandbox.stats.requests(INBOXES) == 1
    assert sandbox.stats.jwt_tokens_seen == 1


async def test_team_get(hm: HeymarketClient) -> None:
    """hm.team.get() reads the team, its members and list_size."""
    team = await hm.team.get()
    assert (team.id, team.name, team.list_size) == (1001, "Sandbox Team", 10_000)
    assert [(m.id, m.role) for m in team.members] == [(7, "owner"), (8, "admin"), (9, "member")]
    assert team.request_id


async def test_api_key_client(sandbox: Sandbox) -> None:
    """A client with the legacy API key is accepted too."""
    async with HeymarketClient(
        api_key=sandbox.api_key, base_url=sandbox.url, rate_limit_per_minute=None
    ) as client:
        assert (await client.team.get()).id == 1001
    assert sandbox.stats.jwt_tokens_seen == 0


@pytest.mark.parametrize("fault", [Fault.server_error(503), Fault.bad_gateway(), Fault.reset()])
async def test_transient_failure_then_success_is_retried(
    hm: HeymarketClient, sandbox: Sandbox, fault: Fault
) -> None:
    """A scripted 503, HTML 502 or reset followed by success is invisible to the caller."""
    sandbox.faults.next(fault, route=TEAM)
    team = await hm.team.get()
    assert team.id == 1001
    assert sandbox.stats.requests(TEAM) == 2
    assert sandbox.stats.faults == {fault.kind: 1}
    assert sandbox.faults.pending == 0


async def test_persistent_5xx_gives_up_with_server_error(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """When every attempt fails the client raises ServerError carrying the request id."""
    sandbox.faults.next(Fault.server_error(500), route=INBOXES, times=10)
    with pytest.raises(ServerError) as caught:
        await hm.inboxes.list()
    assert caught.value.status == 500
    assert caught.value.request_id
    assert sandbox.stats.requests(INBOXES) == 4  # the policy's attempts


@pytest.fixture
def real_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the suite-wide zero backoff, so waits (and Retry-After) are real."""
    monkeypatch.setattr(_retry, "_waits_enabled", True)


@pytest.mark.usefixtures("real_waits")
async def test_429_with_retry_after_is_retried_and_honoured(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """A 429 with Retry-After is retried after waiting that long."""
    sandbox.faults.next(Fault.rate_limited(retry_after=0.3), route=INBOXES)
    started = time.perf_counter()
    inboxes = await hm.inboxes.list()
    assert len(inboxes) == 3
    assert time.perf_counter() - started >= 0.3
    assert sandbox.stats.requests(INBOXES) == 2
    assert sandbox.stats.faults == {FaultKind.RATE_LIMIT: 1}


@pytest.mark.usefixtures("real_waits")
async def test_server_rate_limit_429_is_retried(sandbox: Sandbox) -> None:
    """The sandbox's own limiter answers 429 with Retry-After; the client retries through it."""
    sandbox.rate_limit_per_minute = 2
    sandbox.rate_limit_window = 0.3
    async with HeymarketClient(
        **sandbox.client_kwargs(),
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=10, deadline=20.0, initial_wait=0.1, max_wait=0.2, jitter=0),
    ) as client:
        for _ in range(3):
            assert (await client.team.get()).id == 1001
    assert sandbox.stats.rate_limited >= 1
    assert sandbox.stats.statuses[200] == 3


async def test_expired_jwt_gets_401_and_one_fresh_token(sandbox: Sandbox) -> None:
    """A token the server sees as older than 300 s is refused; the client re-mints once."""
    client_now = [1_800_000_000.0]
    server_now = [1_800_000_000.0]
    sandbox.clock = lambda: server_now[0]
    async with HeymarketClient(
        **sandbox.client_kwargs(), rate_limit_per_minute=None, clock=lambda: client_now[0]
    ) as client:
        await client.team.get()
        assert client.token_mint_count == 1
        # The client's clock runs 101 s slow: to it the cached token is 200 s old (still
        # within its 240 s lifetime), to the server 301 s old (expired).
        client_now[0] += 200
        server_now[0] += 301
        team = await client.team.get()
        assert team.id == 1001
        assert client.token_mint_count == 2
        assert sandbox.stats.auth_failures == 1
        assert sandbox.stats.requests(TEAM) == 3
        assert sandbox.stats.jwt_tokens_seen == 2


async def test_jwt_rejected_twice_raises_authentication_error(sandbox: Sandbox) -> None:
    """When the fresh token is refused too, the client stops after one refresh."""
    sandbox.clock = lambda: 1_800_000_000.0
    async with HeymarketClient(
        **sandbox.client_kwargs(), rate_limit_per_minute=None, clock=lambda: 1_800_000_000.0 - 400
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.team.get()
    assert caught.value.code == "token_expired"
    assert sandbox.stats.auth_failures == 2
