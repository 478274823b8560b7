"""Credentials, JWT minting, and the single-flight token cache.

The only module that imports the JOSE library (heymarket-api.md §1.2).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from .errors import ConfigurationError

if TYPE_CHECKING:
    from joserfc.jwk import OctKey

Clock = Callable[[], float]

JWT_HEADER: Final[Mapping[str, str]] = {"alg": "HS256", "typ": "JWT"}
_NEVER_EXPIRES: Final = float("inf")  # the minted_at of a static API key


_CREDENTIAL_RE: Final = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def _strip(value: object) -> object:
    # Keys read from a file or an environment variable often end in a newline.
    return value.strip() if isinstance(value, str) else value


def _credential(_inst: object, attribute: attrs.Attribute[str], value: object) -> None:
    """Refuse a credential that cannot be right, without ever echoing it."""
    name = attribute.name
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ConfigurationError(f"{name} is empty")
    if _CREDENTIAL_RE.fullmatch(value) is None:
        raise ConfigurationError(
            f"{name} contains spaces, control or non-ASCII characters (value not shown); "
            "check how it was copied"
        )


@attrs.frozen(kw_only=True)
class SecretCredentials:
    """An API Secret ID and Secret Key, used to mint short-lived JWTs.

    Surrounding whitespace (a trailing newline from a file) is stripped; anything else that
    is not printable ASCII is refused.
    """

    secret_id: str = attrs.field(converter=_strip, validator=_credential)
    secret_key: str = attrs.field(converter=_strip, validator=_credential, repr=False)


@attrs.frozen(kw_only=True)
class ApiKeyCredentials:
    """A legacy team API key, sent as is (surrounding whitespace stripped)."""

    api_key: str = attrs.field(converter=_strip, validator=_credential, repr=False)


Credentials = SecretCredentials | ApiKeyCredentials


def signing_key(secret_id: str, secret_key: str) -> OctKey:
    """The HMAC key the API expects: ``"<secret id>||<secret key>"``."""
    # joserfc (and the cryptography package under it) loads on the first mint, not at import.
    from joserfc.jwk import OctKey  # noqa: PLC0415 - joserfc loads on the first mint

    return OctKey.import_key(f"{secret_id}||{secret_key}")


def mint_jwt(*, secret_id: str, secret_key: str, now: float) -> str:
    """A JWT exactly as the API specifies: HS256, claims ``iss`` and ``iat`` only."""
    from joserfc import jwt  # noqa: PLC0415 - joserfc loads on the first mint

    claims = {"iss": secret_id, "iat": int(now)}
    return jwt.encode(dict(JWT_HEADER), claims, signing_key(secret_id, secret_key))


def verify_jwt(token: str, *, secret_id: str, secret_key: str) -> dict[str, Any] | None:
    """The claims of ``token`` if it is an HS256 JWT signed with this secret, else ``None``.

    Expiry is the caller's rule (the sandbox applies the API's 5 minutes after ``iat``).
    """
    from joserfc import jwt  # noqa: PLC0415 - joserfc loads on the first mint
    from joserfc.errors import JoseError  # noqa: PLC0415 - joserfc loads on the first mint

    try:
        decoded = jwt.decode(token, signing_key(secret_id, secret_key), algorithms=["HS256"])
    except (JoseError, ValueError):
        return None
    return dict(decoded.claims)


@attrs.frozen
class Token:
    """A bearer token with the time it was minted; its value never shows in a repr."""

    value: str = attrs.field(repr=False)
    minted_at: float

    @property
    def authorization(self) -> str:
        return f"Bearer {self.value}"


class TokenCache:
    """Hands out one token until it is ``lifetime`` seconds old, then mints a new one.

    Minting is single-flight: concurrent callers that find no fresh token wait on one lock
    and the first one mints. ``clock`` is wall-clock seconds (it feeds ``iat``); tests inject it.
    """

    def __init__(
        self, credentials: Credentials, *, lifetime: float, clock: Clock = time.time
    ) -> None:
        self._credentials = credentials
        self._lifetime = lifetime
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.mint_count = 0
        if isinstance(credentials, ApiKeyCredentials):
            self._token = Token(credentials.api_key, minted_at=_NEVER_EXPIRES)

    def __repr__(self) -> str:
        return f"<TokenCache {type(self._credentials).__name__} lifetime={self._lifetime}s>"

    @property
    def can_refresh(self) -> bool:
        """Whether a new token can be minted (not for a static API key)."""
        return isinstance(self._credentials, SecretCredentials)

    def fresh(self) -> Token | None:
        """The cached token while it is younger than the lifetime, else ``None``."""
        token = self._token
        if token is None:
            return None
        age = self._clock() - token.minted_at
        # A clock that stepped backwards also makes the token suspect.
        if token.minted_at != _NEVER_EXPIRES and not 0 <= age < self._lifetime:
            return None
        return token

    async def get(self) -> Token:
        """A token that is younger than the lifetime, minting one if needed."""
        token = self.fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self.fresh()  # someone may have minted while we waited
            if token is None:
                token = self._mint()
            return token

    def _mint(self) -> Token:
        assert isinstance(self._credentials, SecretCredentials)
        now = self._clock()
        token = Token(
            mint_jwt(
                secret_id=self._credentials.secret_id,
                secret_key=self._credentials.secret_key,
                now=now,
            ),
            minted_at=float(int(now)),
        )
        self._token = token
        self.mint_count += 1
        return token

    def invalidate(self, token: Token) -> None:
        """Forget ``token`` (after a 401) unless a newer one already replaced it."""
        if self.can_refresh and self._token is token:
            self._token = None
