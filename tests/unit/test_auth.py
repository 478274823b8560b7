from __future__ import annotations

import asyncio
import base64
import json

import jwt as pyjwt
import pytest

from heymarket_async._auth import (
    ApiKeyCredentials,
    SecretCredentials,
    TokenCache,
    mint_jwt,
    verify_jwt,
)
from heymarket_async.errors import ConfigurationError

from ..helpers import SECRET_ID, SECRET_KEY


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def test_jwt_verifies_with_independent_decoder() -> None:
    """PyJWT verifies the token with key "ID||KEY" and reads exactly iss and iat."""
    token = mint_jwt(secret_id=SECRET_ID, secret_key=SECRET_KEY, now=1_700_000_123.9)
    claims = pyjwt.decode(
        token,
        f"{SECRET_ID}||{SECRET_KEY}",
        algorithms=["HS256"],
        options={"verify_iat": False},
    )
    assert claims == {"iss": SECRET_ID, "iat": 1_700_000_123}


def test_jwt_header_is_exactly_hs256_jwt() -> None:
    """The JOSE header is {"alg": "HS256", "typ": "JWT"} and nothing else."""
    token = mint_jwt(secret_id=SECRET_ID, secret_key=SECRET_KEY, now=1.0)
    assert _segment(token, 0) == {"alg": "HS256", "typ": "JWT"}
    assert pyjwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_jwt_fails_with_wrong_key() -> None:
    """A token does not verify with the secret key alone (the key is ID||KEY)."""
    token = mint_jwt(secret_id=SECRET_ID, secret_key=SECRET_KEY, now=1.0)
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token, SECRET_KEY + "-padding-to-32-bytes", algorithms=["HS256"])


def test_verify_jwt_round_trip_and_rejection() -> None:
    """verify_jwt returns the claims for a good token and None for a tampered one."""
    token = mint_jwt(secret_id=SECRET_ID, secret_key=SECRET_KEY, now=100.0)
    assert verify_jwt(token, secret_id=SECRET_ID, secret_key=SECRET_KEY) == {
        "iss": SECRET_ID,
        "iat": 100,
    }
    assert verify_jwt(token, secret_id=SECRET_ID, secret_key=SECRET_KEY + "x") is None
    assert verify_jwt("not.a.jwt", secret_id=SECRET_ID, secret_key=SECRET_KEY) is None


def test_credentials_repr_hides_secrets() -> None:
    """Credential reprs never show the secret key or the API key."""
    secret = SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY)
    key = ApiKeyCredentials(api_key="legacy-api-key-value-1234567890")
    assert SECRET_KEY not in repr(secret)
    assert "legacy-api-key-value" not in repr(key)


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_credentials_are_refused(bad: str) -> None:
    """An empty secret is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        SecretCredentials(secret_id=SECRET_ID, secret_key=bad)


async def test_token_is_reused_until_lifetime_then_refreshed() -> None:
    """One token serves every call until it is `lifetime` old; then a new one is minted."""
    clock = FakeClock()
    cache = TokenCache(
        SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY), lifetime=240, clock=clock
    )
    first = await cache.get()
    clock.now += 239
    assert await cache.get() is first
    clock.now += 1
    second = await cache.get()
    assert second is not first
    assert cache.mint_count == 2
    assert pyjwt.decode(
        second.value,
        f"{SECRET_ID}||{SECRET_KEY}",
        algorithms=["HS256"],
        options={"verify_iat": False},
    )["iat"] == int(clock.now)


async def test_token_refreshes_when_clock_goes_backwards() -> None:
    """A wall clock stepping backwards makes the cached token stale."""
    clock = FakeClock()
    cache = TokenCache(
        SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY), lifetime=240, clock=clock
    )
    first = await cache.get()
    clock.now -= 10
    assert await cache.get() is not first


async def test_single_flight_minting() -> None:
    """100 concurrent first calls mint exactly one token and all receive it."""
    cache = TokenCache(SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY), lifetime=240)
    tokens = await asyncio.gather(*(cache.get() for _ in range(100)))
    assert cache.mint_count == 1
    assert len({id(t) for t in tokens}) == 1


async def test_invalidate_only_drops_the_token_it_names() -> None:
    """Invalidating a token that was already replaced keeps the newer one."""
    clock = FakeClock()
    cache = TokenCache(
        SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY), lifetime=240, clock=clock
    )
    old = await cache.get()
    cache.invalidate(old)
    new = await cache.get()
    cache.invalidate(old)  # a late 401 for the old token
    assert await cache.get() is new
    assert cache.mint_count == 2


async def test_api_key_is_sent_as_is_and_never_refreshed() -> None:
    """A legacy API key is the bearer token and cannot be refreshed."""
    cache = TokenCache(ApiKeyCredentials(api_key="legacy-api-key-value"), lifetime=240)
    token = await cache.get()
    assert token.authorization == "Bearer legacy-api-key-value"
    assert not cache.can_refresh
    cache.invalidate(token)
    assert await cache.get() is token
    assert "legacy-api-key-value" not in repr(token)
    assert cache.mint_count == 0
