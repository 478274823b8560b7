"""Credentials and base_url are checked at construction, and errors never echo a secret."""

from __future__ import annotations

from typing import Any

import pytest

from heymarket_async import HeymarketClient, RetryPolicy
from heymarket_async._auth import ApiKeyCredentials, SecretCredentials
from heymarket_async.errors import ConfigurationError

from ..helpers import SECRET_ID, SECRET_KEY

API_KEY = "legacy-api-key-0123456789"


def _credentials(hm: HeymarketClient) -> Any:
    return hm._tokens._credentials


@pytest.mark.parametrize("padding", ["\n", "\r\n", "  ", "\t", " \n"])
def test_surrounding_whitespace_is_stripped_from_every_credential(padding: str) -> None:
    """A key read from a file with its trailing newline (or spaces around it) works."""
    hm = HeymarketClient(secret_id=SECRET_ID + padding, secret_key=padding + SECRET_KEY + padding)
    assert _credentials(hm) == SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY)
    legacy = HeymarketClient(api_key=API_KEY + padding)
    assert _credentials(legacy) == ApiKeyCredentials(api_key=API_KEY)


def test_from_env_strips_a_trailing_newline() -> None:
    """Values exported from files (`$(cat key)` keeps none, but many tools do) are stripped."""
    hm = HeymarketClient.from_env(
        {"HEYMARKET_SECRET_ID": SECRET_ID + "\n", "HEYMARKET_SECRET_KEY": SECRET_KEY + "\n"}
    )
    assert _credentials(hm) == SecretCredentials(secret_id=SECRET_ID, secret_key=SECRET_KEY)
    legacy = HeymarketClient.from_env({"HEYMARKET_API_KEY": f" {API_KEY}\n"})
    assert _credentials(legacy).api_key == API_KEY


SECRET_INSIDE = "s3cr3t-VALUE"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        ("  \n", "is empty"),
        (f"{SECRET_INSIDE} {SECRET_INSIDE}", "spaces, control"),
        (f"{SECRET_INSIDE}\n{SECRET_INSIDE}", "spaces, control"),
        (f"{SECRET_INSIDE}\x00", "spaces, control"),
        (f"{SECRET_INSIDE}é", "non-ASCII"),
    ],
)
@pytest.mark.parametrize("field", ["secret_id", "secret_key", "api_key"])
def test_unusable_credentials_are_refused_without_echoing_them(
    field: str, value: str, reason: str
) -> None:
    """Empty, whitespace-only, or inner spaces/control/non-ASCII: ConfigurationError, whose
    text and repr never contain the value."""
    options: dict[str, Any] = (
        {"api_key": value}
        if field == "api_key"
        else {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, field: value}
    )
    with pytest.raises(ConfigurationError, match=reason) as info:
        HeymarketClient(**options)
    assert field in str(info.value)
    assert SECRET_INSIDE not in str(info.value)
    assert SECRET_INSIDE not in repr(info.value)


@pytest.mark.parametrize("value", [12345, b"bytes-secret-key", ["k"]])
@pytest.mark.parametrize("field", ["secret_id", "secret_key", "api_key"])
def test_non_string_credentials_are_refused(field: str, value: object) -> None:
    """A credential that is not a str (bytes, a number) is a ConfigurationError naming the type."""
    options: dict[str, Any] = (
        {"api_key": value}
        if field == "api_key"
        else {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, field: value}
    )
    with pytest.raises(ConfigurationError, match=f"{field} must be a string") as info:
        HeymarketClient(**options)
    assert "bytes-secret-key" not in str(info.value)


PASSWORD = "hunter2-pa55"


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        (f"https://user:{PASSWORD}@api.heymarket.com", "credentials"),
        (f"https://:{PASSWORD}@api.heymarket.com/", "credentials"),
        (f"https://{PASSWORD}@api.heymarket.com", "credentials"),
        (f"ftp://user:{PASSWORD}@api.heymarket.com", "absolute http"),
        ("https://api.heymarket.com/?region=us", "query or fragment"),
        ("https://api.heymarket.com?", "query or fragment"),
        ("https://api.heymarket.com/#top", "query or fragment"),
        ("https://api.heymarket.com:99999999", "invalid port"),
        ("https://api.heymarket.com:port", "invalid port"),
        ("https://api.heymarket .com", "spaces or control"),
        ("https://api.heymarket.com/\r\nX-Injected: 1", "spaces or control"),
        (12345, "must be a string"),
    ],
)
def test_base_url_with_credentials_query_or_junk_is_refused(base_url: object, reason: str) -> None:
    """Such a base_url fails at construction; the message never shows the password."""
    with pytest.raises(ConfigurationError, match=reason) as info:
        HeymarketClient(secret_id=SECRET_ID, secret_key=SECRET_KEY, base_url=base_url)  # type: ignore[arg-type]
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value)


def test_base_url_surrounding_whitespace_and_trailing_slash_are_dropped() -> None:
    """A base_url from the environment with a newline still works."""
    hm = HeymarketClient.from_env(
        {"HEYMARKET_API_KEY": API_KEY, "HEYMARKET_BASE_URL": " http://127.0.0.1:8080/api/\n"}
    )
    assert hm.base_url == "http://127.0.0.1:8080/api"
    assert PASSWORD not in repr(hm)


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, "5"])
def test_max_pacing_wait_must_be_finite_seconds(value: object) -> None:
    """max_pacing_wait is None or a finite number of seconds >= 0."""
    with pytest.raises(ConfigurationError, match="max_pacing_wait"):
        HeymarketClient(api_key=API_KEY, max_pacing_wait=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0])
def test_retry_max_wait_must_be_a_real_cap(value: float) -> None:
    """RetryPolicy.max_wait caps every server-chosen wait, so it must be finite."""
    with pytest.raises(ConfigurationError, match="max_wait"):
        RetryPolicy(max_wait=value)
