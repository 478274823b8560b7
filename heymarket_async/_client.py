"""``HeymarketClient``: lifecycle, and the path every request takes.

request -> rate limiter -> token -> transport -> decipher_response, inside the retry loop;
a 401 invalidates the token used and repeats once with a fresh one.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self, final
from urllib.parse import urlsplit

import attrs

from ._auth import (
    ApiKeyCredentials,
    Clock,
    Credentials,
    SecretCredentials,
    Token,
    TokenCache,
)
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    USE_CLIENT_DEFAULT,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
    is_finite_seconds,
)
from ._protocol import ApiRequest, ApiResponse, decipher_response, redact
from ._ratelimit import (
    DEFAULT_INTERACTIVE_SHARE,
    Lane,
    RateLimiter,
    SlidingWindowLimiter,
    check_interactive_share,
    check_lane,
    current_lane,
)
from ._retry import Reconcile, retry_after_failure
from ._transport import DEFAULT_MAX_RESPONSE_SIZE, AiohttpTransport, user_agent
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    RateLimitError,
    WrongEventLoopError,
)

if TYPE_CHECKING:
    from ._transport import ClientSession
    from .resources.contacts import Contacts
    from .resources.conversations import Conversations
    from .resources.email import Emails
    from .resources.inboxes import Inboxes
    from .resources.lists import Lists
    from .resources.messages import Messages
    from .resources.schedules import Schedules
    from .resources.surveys import Surveys
    from .resources.tags import Tags
    from .resources.team import Teams
    from .resources.templates import Templates
    from .resources.users import Users

logger = logging.getLogger("heymarket_async")

_UNSET: Final = object()


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


def _credentials(secret_id: str | None, secret_key: str | None, api_key: str | None) -> Credentials:
    if api_key is not None:
        if secret_id is not None or secret_key is not None:
            raise ConfigurationError("give either secret_id and secret_key, or api_key, not both")
        return ApiKeyCredentials(api_key=api_key)
    if secret_id is None or secret_key is None:
        raise ConfigurationError(
            "credentials missing: give secret_id and secret_key (API Secret), or api_key"
        )
    return SecretCredentials(secret_id=secret_id, secret_key=secret_key)


_CLOSED_MESSAGE: Final = "this client was closed; create a new HeymarketClient"


def _check_base_url(base_url: object) -> str:
    """The API root without a trailing slash; errors never echo a password in it."""
    if not isinstance(base_url, str):
        raise ConfigurationError(f"base_url must be a string, got {type(base_url).__name__}")
    url = base_url.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ConfigurationError("base_url must not contain spaces or control characters")
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else "(not a URL)"
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"base_url must be an absolute http(s) URL, got {shown!r}")
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"base_url must not carry credentials (user:password@), got {shown!r}; "
            "give them as secret_id/secret_key or api_key"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError(f"base_url must not have a query or fragment: {shown!r}")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigurationError(f"base_url has an invalid port: {shown!r}") from None
    return url.rstrip("/")


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_finite_seconds(value: object) -> bool:
    return is_finite_seconds(value) and value >= 0


def _timeouts(value: object, base: Timeouts = DEFAULT_TIMEOUTS) -> Timeouts:
    if isinstance(value, Timeouts):
        return value
    if not is_finite_seconds(value) or not value > 0:
        raise ConfigurationError(
            f"timeout must be a Timeouts or a positive, finite number of seconds, got "
            f"{value!r:.40}; for no limit pass Timeouts(total=None)"
        )
    # A bare number bounds the whole request.
    return Timeouts(connect=base.connect, read=base.read, total=float(value))


def _limiter_from_options(
    rate_limit_per_minute: int | None,
    interactive_share: float,
    rate_limiter: RateLimiter | None,
    lane: Lane | None,
    *,
    max_pause: float,
) -> RateLimiter | None:
    """The client's limiter from its options (``None``: pacing off)."""
    try:
        check_interactive_share(interactive_share)
        if lane is not None:
            check_lane(lane)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if rate_limiter is None:
        if not rate_limit_per_minute:
            return None
        return SlidingWindowLimiter(
            rate_limit_per_minute, max_pause=max_pause, interactive_share=interactive_share
        )
    if (
        rate_limit_per_minute != DEFAULT_RATE_LIMIT_PER_MINUTE
        or interactive_share != DEFAULT_INTERACTIVE_SHARE
    ):
        raise ConfigurationError(
            "pass either rate_limiter or rate_limit_per_minute/interactive_share, not "
            "both: a shared limiter holds its own limit and interactive share"
        )
    return rate_limiter


@final
class HeymarketClient:
    """An async client for the Heymarket REST API.

    Use it as ``async with HeymarketClient(...) as hm:`` and keep one for the life of your
    application: it holds the connection pool, the token cache and the rate limiter.

    Args:
        secret_id: API Secret ID (with ``secret_key``); the client mints short-lived JWTs.
        secret_key: API Secret Key. Never shown in reprs, logs or errors.
        api_key: a legacy team API key, instead of the secret pair.
        base_url: API root, default ``https://api.heymarket.com``.
        timeout: a :class:`Timeouts`, or a number of seconds bounding each whole request.
        retry: the :class:`RetryPolicy` (``RetryPolicy.disabled()`` turns retries off).
        rate_limit_per_minute: client-side pacing (default 500, the API's limit); ``None``
            turns pacing off.
        interactive_share: the share of ``rate_limit_per_minute`` that bulk traffic
            (``BatchSender``, ``broadcast()``) leaves to single calls (default 0.2).
        rate_limiter: a limiter shared with other clients and processes instead of the
            in-process one, e.g. ``heymarket_async.redis.RedisRateLimiter``; the client
            closes it when it closes. Not together with ``rate_limit_per_minute`` or
            ``interactive_share`` (the shared limiter holds its own).
        lane: ``"interactive"`` or ``"bulk"`` for every request of this client; by default
            the bulk machinery uses ``"bulk"`` and everything else ``"interactive"``.
        max_pacing_wait: the longest a request waits for a pacing slot before it fails
            with ``PacingTimeoutError`` (``None``: only the call's timeout and the retry
            deadline bound that wait, as they always do).
        token_lifetime: seconds a JWT is reused; must be under 300 (the server's expiry).
        session: an ``aiohttp.ClientSession`` you own; the client never closes it.
        max_response_size: bytes of an answer the client reads (default 16 MiB); a larger
            2xx answer raises ``ResponseTooLargeError`` when its content is needed (the
            request was accepted), a larger error answer is read from its first bytes.
        clock: wall-clock seconds used for JWT ``iat`` and token age (for tests).

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        *,
        secret_id: str | None = None,
        secret_key: str | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeouts | float = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        rate_limit_per_minute: int | None = DEFAULT_RATE_LIMIT_PER_MINUTE,
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        rate_limiter: RateLimiter | None = None,
        lane: Lane | None = None,
        max_pacing_wait: float | None = None,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        session: ClientSession | None = None,
        clock: Clock = time.time,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        credentials = _credentials(secret_id, secret_key, api_key)
        if not 0 < token_lifetime < MAX_TOKEN_LIFETIME:
            raise ConfigurationError(
                f"token_lifetime must be between 0 and {MAX_TOKEN_LIFETIME:g} seconds "
                f"(the API rejects a JWT 5 minutes after it was minted), got {token_lifetime!r}"
            )
        if rate_limit_per_minute is not None and not _is_positive_int(rate_limit_per_minute):
            raise ConfigurationError(
                f"rate_limit_per_minute must be a positive integer or None, "
                f"got {rate_limit_per_minute!r}"
            )
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        if max_pacing_wait is not None and not _is_finite_seconds(max_pacing_wait):
            raise ConfigurationError(
                f"max_pacing_wait must be a finite number of seconds >= 0 or None, "
                f"got {max_pacing_wait!r}"
            )
        if not _is_positive_int(max_response_size):
            raise ConfigurationError(
                f"max_response_size must be a positive integer (bytes), got {max_response_size!r}"
            )
        self.base_url: Final = _check_base_url(base_url)
        self.timeouts: Final = _timeouts(timeout)
        self.retry_policy: Final = retry
        self.rate_limit_per_minute: Final = rate_limit_per_minute
        self.max_pacing_wait: Final = max_pacing_wait
        self._tokens = TokenCache(credentials, lifetime=token_lifetime, clock=clock)
        self._lane: Final = lane
        self._limiter = _limiter_from_options(
            rate_limit_per_minute, interactive_share, rate_limiter, lane, max_pause=retry.max_wait
        )
        self.max_response_size: Final = max_response_size
        self._transport = AiohttpTransport(
            session=session, timeouts=self.timeouts, max_response_size=max_response_size
        )
        # Never to appear in errors built from an answer (a proxy may echo request headers).
        self._secret: Final = (
            credentials.api_key
            if isinstance(credentials, ApiKeyCredentials)
            else credentials.secret_key
        )
        self._static_headers: Final[Mapping[str, str]] = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": user_agent(),
        }
        self._headers: Mapping[str, str] = self._static_headers
        self._headers_token: Token | None = None
        self._state = ClientState.UNOPENED
        self._closing = asyncio.Event()  # wakes requests waiting to retry when we close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._auth_scheme = "api key" if isinstance(credentials, ApiKeyCredentials) else "jwt"

    # Each service module loads on first use: start-up pays only for what a program touches.
    @functools.cached_property
    def inboxes(self) -> Inboxes:
        """The inboxes of the team."""
        from .resources.inboxes import Inboxes  # noqa: PLC0415 - loaded on first use

        return Inboxes(self)

    @functools.cached_property
    def team(self) -> Teams:
        """The team and its members."""
        from .resources.team import Teams  # noqa: PLC0415 - loaded on first use

        return Teams(self)

    @functools.cached_property
    def messages(self) -> Messages:
        """Send messages and read a conversation's history."""
        from .resources.messages import Messages  # noqa: PLC0415 - loaded on first use

        return Messages(self)

    @functools.cached_property
    def conversations(self) -> Conversations:
        """Conversations: state, assignment, marks and transfers."""
        from .resources.conversations import Conversations  # noqa: PLC0415 - loaded on first use

        return Conversations(self)

    @functools.cached_property
    def email(self) -> Emails:
        """Send emails."""
        from .resources.email import Emails  # noqa: PLC0415 - loaded on first use

        return Emails(self)

    @functools.cached_property
    def lists(self) -> Lists:
        """Contact lists."""
        from .resources.lists import Lists  # noqa: PLC0415 - loaded on first use

        return Lists(self)

    @functools.cached_property
    def contacts(self) -> Contacts:
        """Contacts (v1 and the v2 channels API)."""
        from .resources.contacts import Contacts  # noqa: PLC0415 - loaded on first use

        return Contacts(self)

    @functools.cached_property
    def schedules(self) -> Schedules:
        """Scheduled messages."""
        from .resources.schedules import Schedules  # noqa: PLC0415 - loaded on first use

        return Schedules(self)

    @functools.cached_property
    def templates(self) -> Templates:
        """Message templates."""
        from .resources.templates import Templates  # noqa: PLC0415 - loaded on first use

        return Templates(self)

    @functools.cached_property
    def tags(self) -> Tags:
        """Contact tags."""
        from .resources.tags import Tags  # noqa: PLC0415 - loaded on first use

        return Tags(self)

    @functools.cached_property
    def surveys(self) -> Surveys:
        """Surveys."""
        from .resources.surveys import Surveys  # noqa: PLC0415 - loaded on first use

        return Surveys(self)

    @functools.cached_property
    def users(self) -> Users:
        """Team users."""
        from .resources.users import Users  # noqa: PLC0415 - loaded on first use

        return Users(self)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: object
    ) -> HeymarketClient:
        """Build a client from ``HEYMARKET_SECRET_ID``/``HEYMARKET_SECRET_KEY`` or
        ``HEYMARKET_API_KEY``, and ``HEYMARKET_BASE_URL``; ``options`` are passed through.

        Raises:
            ConfigurationError: neither credential set is in the environment.
        """
        env = os.environ if environ is None else environ
        secret_id = env.get("HEYMARKET_SECRET_ID") or None
        secret_key = env.get("HEYMARKET_SECRET_KEY") or None
        api_key = env.get("HEYMARKET_API_KEY") or None
        if secret_id or secret_key:
            api_key = None
        elif api_key is None:
            raise ConfigurationError(
                "no credentials in the environment: set HEYMARKET_SECRET_ID and "
                "HEYMARKET_SECRET_KEY, or HEYMARKET_API_KEY"
            )
        base_url = env.get("HEYMARKET_BASE_URL") or DEFAULT_BASE_URL
        kwargs: dict[str, object] = {"base_url": base_url, **options}
        return cls(secret_id=secret_id, secret_key=secret_key, api_key=api_key, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"<HeymarketClient {self._state.value} base_url={self.base_url!r} "
            f"auth={self._auth_scheme}>"
        )

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` has run."""
        return self._state is ClientState.CLOSED

    @property
    def token_mint_count(self) -> int:
        """How many JWTs this client has minted (for observability)."""
        return self._tokens.mint_count

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                raise WrongEventLoopError(
                    "this HeymarketClient belongs to the event loop it was first used in; "
                    "create one client per event loop"
                )
            self._loop = loop

    async def __aenter__(self) -> Self:
        if self._state is ClientState.CLOSED:
            raise ClientClosedError(_CLOSED_MESSAGE)
        self._check_loop()
        self._state = ClientState.OPENED
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a session you passed in stays open). Idempotent.

        Requests of other tasks that wait for a retry or for a pacing slot end with
        ``ClientClosedError``; none of them opens a new connection afterwards.
        """
        if self._loop is not None and self._state is not ClientState.CLOSED:
            self._check_loop()
        self._state = ClientState.CLOSED
        self._closing.set()
        if self._limiter is not None:
            self._limiter.close()
        await self._transport.aclose()
        if self._limiter is not None:
            await self._limiter.aclose()

    async def request(
        self,
        request: ApiRequest,
        *,
        timeout: Timeouts | float | UseClientDefault = USE_CLIENT_DEFAULT,
        reconcile: Reconcile[ApiResponse] | None = None,
        deadline: float | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> ApiResponse:
        """Send one API request with auth, pacing and retries; the services use this.

        Args:
            request: the request to send.
            timeout: this call's time limits instead of the client's.
            reconcile: looks for the effect of an ambiguous attempt before a repeat.
            deadline: an absolute ``time.monotonic()`` moment the whole call (pacing,
                retries, answers) must end by; it caps the retry policy's own deadline.
            before_send: awaited right before each attempt goes on the wire (after its
                pacing slot); an exception it raises ends the call without sending.

        Raises:
            ClientClosedError: the client is closed (also while the request waited).
            WrongEventLoopError: called from another event loop than the client's first.
            PacingTimeoutError: the wait for a pacing slot would outlast the call's time
                limit (``timeout``, ``max_pacing_wait`` or the retry deadline).
            APIError: the API answered with an error (after retries where allowed).
            TransportError: no answer (after retries where allowed).
        """
        if self._state is ClientState.CLOSED:
            raise ClientClosedError(_CLOSED_MESSAGE)
        if self._loop is not asyncio.get_running_loop():
            self._check_loop()
        self._state = ClientState.OPENED
        timeouts = None if timeout is USE_CLIENT_DEFAULT else _timeouts(timeout, self.timeouts)
        # The retry deadline bounds the whole call: pacing waits and reading answers included.
        started = time.monotonic()
        own_deadline = started + self.retry_policy.deadline
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        body = request.body_bytes()
        # Attempt 1 runs here, not inside the retry machinery: most calls succeed at once,
        # and each coroutine between this call and the socket costs CPU on every resume.
        try:
            return await self._send_authenticated(request, body, timeouts, deadline, before_send)
        except Exception as exc:  # noqa: BLE001 - the retry loop records it or re-raises it
            failure = exc
        return await retry_after_failure(
            failure,
            functools.partial(
                self._send_authenticated, request, body, timeouts, deadline, before_send
            ),
            started=started,
            policy=self.retry_policy,
            replay_safe=request.replay_safe,
            reconcile=reconcile,
            description=f"{request.method} {request.path}",
            closed=self._closing,
            deadline=deadline,
        )

    def _pacing_deadline(self, deadline: float, timeouts: Timeouts | None, now: float) -> float:
        """The latest moment a pacing slot is still of use to this attempt."""
        total = (timeouts or self.timeouts).total
        if total is not None:
            deadline = min(deadline, now + total)
        if self.max_pacing_wait is not None:
            deadline = min(deadline, now + self.max_pacing_wait)
        return deadline

    async def _send_authenticated(
        self,
        request: ApiRequest,
        body: bytes | None,
        timeouts: Timeouts | None,
        deadline: float,
        before_send: Callable[[], Awaitable[None]] | None,
    ) -> ApiResponse:
        refreshed = False
        while True:
            # A fresh token is at hand on almost every call; awaiting get() costs a coroutine.
            token = self._tokens.fresh() or await self._tokens.get()
            headers = self._headers
            if token is not self._headers_token:
                # Built once per token, not per request; aiohttp copies it, never mutates it.
                headers = {**self._static_headers, "Authorization": token.authorization}
                self._headers, self._headers_token = headers, token
            limiter = self._limiter
            debug = logger.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if debug else 0.0
            lane: Lane = "interactive"
            if limiter is not None:
                lane = self._lane or current_lane.get()
                # The loop's clock is the one the limiter sleeps on (time.monotonic in practice).
                clock = asyncio.get_running_loop().time
                now = clock()
                await limiter.acquire(
                    deadline=self._pacing_deadline(deadline, timeouts, now), lane=lane
                )
                timeouts = self._less_waited(timeouts, clock() - now)
            try:
                if before_send is not None:
                    await before_send()
                if self._state is ClientState.CLOSED:
                    # Closed while this attempt waited (backoff, token, slot): sending now
                    # would open a new connection pool that nobody closes.
                    raise ClientClosedError(_CLOSED_MESSAGE)
                raw = await self._transport.send(
                    request.method,
                    self.base_url + request.path,
                    headers=headers,
                    params=request.query,
                    body=body,
                    timeouts=timeouts,
                    deadline=deadline,
                )
            finally:
                if limiter is not None:
                    limiter.release(lane=lane)
            if debug:
                logger.debug(
                    "%s %s -> %d in %.1f ms (request id %s)",
                    request.method,
                    request.path,
                    raw.status,
                    (time.perf_counter() - started) * 1000,
                    redact(raw.headers.get("X-Request-Id") or "-", (self._secret, token.value)),
                )
            try:
                response = decipher_response(
                    raw.status,
                    raw.headers,
                    raw.body,
                    truncated=raw.truncated,
                    secrets=(self._secret, token.value),
                )
            except AuthenticationError:
                # An expired or revoked JWT: mint a new one and try once more (§1.2).
                if refreshed or not self._tokens.can_refresh:
                    raise
                self._tokens.invalidate(token)
                refreshed = True
                continue
            except RateLimitError as exc:
                if limiter is not None:
                    limiter.on_rate_limited(exc.retry_after)
                raise
            except Exception:
                if limiter is not None:
                    limiter.on_success()  # any answer but a 429 counts as accepted pace
                raise
            if limiter is not None:
                limiter.on_success()
            return response

    def _less_waited(self, timeouts: Timeouts | None, waited: float) -> Timeouts | None:
        """``timeouts`` with the time spent waiting for a pacing slot taken off its total."""
        current = timeouts or self.timeouts
        if current.total is None or waited < 0.001:
            return timeouts
        # What is left is checked against the deadline by acquire, so it is positive.
        return attrs.evolve(current, total=max(current.total - waited, 0.001))
