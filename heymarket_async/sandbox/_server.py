"""The sandbox server: an aiohttp.web app on 127.0.0.1 in front of ``_api`` and ``_state``.

Every request to an emulated route goes through these steps, in this order:

1. ``X-Request-Id`` is assigned (it is on every answer, errors and 404s included), the route
   is counted, and the in-flight gauge goes up.
2. Paths under ``/_sandbox/`` are the sandbox's own (``GET /_sandbox/ledger``): no auth,
   rate limit, faults or counting. Otherwise, unknown path: 404; known path, wrong method:
   405. No auth, faults or rate limit apply.
3. Authentication: a missing, malformed, wrongly signed, expired (``iat`` older than
   ``jwt_max_age``) or future-dated (beyond ``jwt_max_skew``) credential gets 401.
4. Rate limit: admitted requests are counted in a sliding window; beyond
   ``rate_limit_per_minute`` the answer is 429 (with ``Retry-After`` when enabled). Requests
   refused at steps 2-4 do not use up the quota.
5. Faults: the :class:`FaultPlan` may answer 429/5xx (with a sane or an absurd
   ``Retry-After``), delay, or reset the connection; none of those reach the handler.
6. The handler runs and commits synchronously; then ``commit_then_drop`` cuts the connection,
   a post-commit latency fault delays the answer, or the answer is made hostile: unreadable
   (a 2xx only), stripped of ``local_id``, dripped a byte at a time, or padded to many MB.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import math
import random
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Self

import attrs
from aiohttp import web

from .._auth import mint_jwt, verify_jwt
from ._api import ROUTES, Call, Route
from ._faults import (
    MESSAGE_LISTING_ROUTES,
    NGINX_502_HTML,
    Fault,
    FaultKind,
    FaultPlan,
    HiddenLocalId,
    UnreadableBody,
)
from ._state import (
    DEFAULT_INBOX_ID,
    EMAIL_INBOX_ID,
    OWNER_ID,
    ApiFailure,
    Ledger,
    LedgerKind,
    SandboxState,
    to_us,
)

__all__ = ["LEDGER_PATH", "SANDBOX_PATH_PREFIX", "Sandbox", "SandboxStats"]

logger = logging.getLogger("heymarket_async.sandbox")

Clock = Callable[[], float]

_JSON_HEADERS: Final = {"Content-Type": "application/json"}
_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_JWT_CACHE_SIZE: Final = 4096
_REASONS: Final = {
    500: "the server hit an unexpected condition",
    502: "bad gateway: the upstream did not answer",
    503: "service temporarily unavailable",
    504: "gateway timeout",
}
_MISSING: Final = object()
_PADDING_CHUNK: Final = 64 * 1024

SANDBOX_PATH_PREFIX: Final = "/_sandbox/"
"""The sandbox's own endpoints live under this prefix, outside the API's paths."""
LEDGER_PATH: Final = "/_sandbox/ledger"
"""``GET`` it for :meth:`Sandbox.ledger_document` as JSON (``?entries=1`` for every entry)."""


class _Router:
    """Exact paths by dict lookup; ``{param}`` paths by regex, tried only on a miss."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[str, dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        by_template: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_template.setdefault(route.path, {})[route.method] = route
        for template, methods in by_template.items():
            if "{" not in template:
                self._exact[template] = methods
            else:
                regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
                self._patterns.append((re.compile(regex), methods))

    @property
    def keys(self) -> list[str]:
        every = [*self._exact.values(), *(m for _, m in self._patterns)]
        return [route.key for methods in every for route in methods.values()]

    def match(self, method: str, path: str) -> tuple[dict[str, Route], Mapping[str, str]] | None:
        methods = self._exact.get(path)
        if methods is not None:
            return methods, {}
        for regex, methods in self._patterns:
            found = regex.fullmatch(path)
            if found is not None:
                return methods, found.groupdict()
        return None


class _SlidingWindow:
    """The server's rate limit: at most ``limit`` admissions in any ``period`` seconds."""

    def __init__(self) -> None:
        self._admitted: deque[float] = deque()

    def admit(self, now: float, limit: int, period: float) -> float | None:
        """``None`` if admitted, else the seconds until a slot frees up."""
        admitted = self._admitted
        cutoff = now - period
        while admitted and admitted[0] <= cutoff:
            admitted.popleft()
        if len(admitted) >= limit:
            return admitted[len(admitted) - limit] + period - now
        admitted.append(now)
        return None

    def clear(self) -> None:
        self._admitted.clear()


class SandboxStats:
    """Counters for assertions about how a client behaved.

    Attributes:
        requests_by_route: requests per route key (``"POST /v1/message/send"``), counted
            before auth; unknown paths count under ``"unmatched"``.
        statuses: answers sent, by HTTP status (dropped connections are not answers).
        rate_limited: 429s from the rate limiter (injected 429s are in ``faults``).
        auth_failures: 401s sent.
        faults: injected faults by kind.
        dropped: connections cut by ``reset`` or ``commit_then_drop``.
        in_flight: requests being handled right now.
        max_in_flight: the most requests handled at once so far. Handlers are instant, so
            requests only overlap while something holds them: to check a client's
            concurrency bound, inject latency (``Fault.latency(0.02)``) on the route.
        max_connections: the most client connections open at once so far.
        jwt_tokens_seen: distinct JWTs that authenticated successfully.
    """

    def __init__(self) -> None:
        self.requests_by_route: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0
        self.auth_failures = 0
        self.faults: Counter[FaultKind] = Counter()
        self.dropped = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_connections = 0
        self._jwts: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"<SandboxStats requests={self.total_requests} statuses={dict(self.statuses)} "
            f"max_in_flight={self.max_in_flight}>"
        )

    @property
    def total_requests(self) -> int:
        return sum(self.requests_by_route.values())

    @property
    def jwt_tokens_seen(self) -> int:
        return len(self._jwts)

    def note_jwt(self, token: str) -> None:
        self._jwts.add(token)

    def requests(self, route_key: str) -> int:
        """Requests to one route, e.g. ``stats.requests("POST /v1/message/send")``."""
        return self.requests_by_route[route_key]


def _credentials(seed: int) -> tuple[str, str, str]:
    # Deterministic per seed so a printed sandbox config can be pasted into a test.
    rng = random.Random(f"heymarket-sandbox:{seed}")
    secret_id = f"sbx_id_{rng.getrandbits(64):016x}"
    secret_key = f"sbx_secret_{rng.getrandbits(192):048x}"  # >= 32 chars for HMAC
    api_key = f"sbx_key_{rng.getrandbits(160):040x}"
    return secret_id, secret_key, api_key


class Sandbox:
    """An in-process fake of the Heymarket REST API on 127.0.0.1, with fault injection.

    Use it as ``async with Sandbox() as sb:`` and point a client at ``sb.url`` with
    ``sb.secret_id``/``sb.secret_key`` (or ``sb.api_key``). Everything it commits is in
    ``sb.ledger``; counters are in ``sb.stats``. The switches below are plain attributes and
    may be changed while it runs.

    Args:
        host: interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        seed: makes credentials, generated UUIDs and the default fault plan deterministic.
        rate_limit_per_minute: admitted requests per window (the API's 500), ``None`` = off.
        rate_limit_window: the window in seconds (60; shorten it to test recovery quickly).
        retry_after_header: send ``Retry-After`` on rate-limit 429s.
        dedupe_individual_sends: whether a single send (``phone_number``/``chat_id``/
            ``targets``) with a known ``local_id`` returns the original instead of sending
            again. List broadcasts, email, list creation and schedules always deduplicate.
        list_size: the team's ``list_size`` (most contacts per list).
        faults: the initial :class:`FaultPlan` (default: none).
        history_local_ids: whether message listings (``GET /v1/messages``, ``POST
            /v1/messages/all``) show each message's ``local_id``; ``False`` leaves the field
            out of every listed message, so a ``local_id`` lookup cannot see any.
        jwt_max_age: seconds after ``iat`` a JWT is refused (the API's 5 minutes).
        jwt_max_skew: seconds a JWT's ``iat`` may lie in the future.
        clock: wall-clock Unix seconds for JWT age, message dates and schedule rules; inject
            one to age tokens without sleeping. The rate limit uses real monotonic time.
        extra_routes: more (or overriding) :class:`Route` entries.
        shutdown_timeout: seconds to wait for in-flight requests when stopping.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        rate_limit_per_minute: int | None = 500,
        rate_limit_window: float = 60.0,
        retry_after_header: bool = True,
        dedupe_individual_sends: bool = True,
        list_size: int = 10_000,
        faults: FaultPlan | None = None,
        history_local_ids: bool = True,
        jwt_max_age: float = 300.0,
        jwt_max_skew: float = 30.0,
        clock: Clock = time.time,
        extra_routes: Iterable[Route] = (),
        shutdown_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rate_limit_window = rate_limit_window
        self.retry_after_header = retry_after_header
        self.dedupe_individual_sends = dedupe_individual_sends
        self.history_local_ids = history_local_ids
        self.jwt_max_age = jwt_max_age
        self.jwt_max_skew = jwt_max_skew
        self.clock = clock
        self.shutdown_timeout = shutdown_timeout
        self.secret_id, self._secret_key, self.api_key = _credentials(seed)
        self.default_inbox_id: Final = DEFAULT_INBOX_ID
        self.default_creator_id: Final = OWNER_ID
        self.email_inbox_id: Final = EMAIL_INBOX_ID
        self._list_size = list_size
        self._faults = faults if faults is not None else FaultPlan(seed=seed)
        self._router = _Router([*ROUTES, *extra_routes])
        self._window = _SlidingWindow()
        self._jwt_cache: dict[str, dict[str, Any] | None] = {}
        self._sleepers: set[asyncio.Future[None]] = set()
        self._runner: web.AppRunner | None = None
        self._server: web.Server | None = None
        self.state = SandboxState(seed=seed, list_size=list_size, start_us=to_us(clock()))
        self.stats = SandboxStats()

    def __repr__(self) -> str:
        where = self.url if self._runner is not None else "stopped"
        return f"<Sandbox {where}>"

    # lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind and serve; ``port`` becomes the actual port."""
        if self._runner is not None:
            raise RuntimeError("this sandbox is already running")
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        self._server = runner.server

    async def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        runner, self._runner = self._runner, None
        self._server = None
        if runner is None:
            return
        # Wake requests held by latency faults so shutdown does not wait them out.
        for sleeper in list(self._sleepers):
            if not sleeper.done():
                sleeper.set_result(None)
        await runner.cleanup()

    @property
    def is_running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # credentials

    @property
    def secret_key(self) -> str:
        """The API Secret Key this sandbox accepts (kept out of its repr)."""
        return self._secret_key

    def client_kwargs(self) -> dict[str, Any]:
        """``secret_id``, ``secret_key`` and ``base_url`` for ``HeymarketClient(**...)``."""
        return {"secret_id": self.secret_id, "secret_key": self._secret_key, "base_url": self.url}

    def mint_jwt(self, *, iat: float | None = None, issuer: str | None = None) -> str:
        """A JWT this sandbox accepts (or, with an old ``iat`` or other issuer, refuses)."""
        token = mint_jwt(
            secret_id=issuer or self.secret_id,
            secret_key=self._secret_key,
            now=self.clock() if iat is None else iat,
        )
        if issuer is not None:
            # mint_jwt signs with "<issuer>||KEY"; re-sign so only the claim is wrong.
            return _resign(token, issuer, self.secret_id, self._secret_key)
        return token

    def auth_headers(self, *, iat: float | None = None) -> dict[str, str]:
        """``{"Authorization": "Bearer <fresh JWT>"}`` for raw HTTP tests."""
        return {"Authorization": f"Bearer {self.mint_jwt(iat=iat)}"}

    # switches and state

    @property
    def faults(self) -> FaultPlan:
        """The fault plan in force; assign a new one, or change this one, at any time."""
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self._faults = plan if plan is not None else FaultPlan(seed=self.seed)

    @property
    def list_size(self) -> int:
        return int(self.state.team["list_size"])

    @list_size.setter
    def list_size(self, value: int) -> None:
        self._list_size = value
        self.state.team["list_size"] = value

    @property
    def ledger(self) -> Ledger:
        """Every committed send, in order (ground truth)."""
        return self.state.ledger

    def ledger_counts_by_recipient(
        self, *, kinds: Iterable[LedgerKind] | None = None
    ) -> Counter[str]:
        """Committed sends per recipient; assert ``set(counts.values()) == {1}`` for once-each."""
        return self.state.ledger.counts_by_recipient(kinds=kinds)

    def opt_out(self, *phones: str) -> None:
        """Make sends to these numbers fail with 400 ``unsubscribed_number``."""
        self.state.opted_out.update(phones)

    def reset(self) -> None:
        """Forget all data, counters, faults and rate-limit history; keep URL and credentials."""
        self.state = SandboxState(
            seed=self.seed, list_size=self._list_size, start_us=to_us(self.clock())
        )
        self.stats = SandboxStats()
        self._faults = FaultPlan(seed=self.seed)
        self._window.clear()

    @property
    def route_keys(self) -> list[str]:
        """Every emulated route, as named in fault plans and stats."""
        return self._router.keys

    # request path

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        request_id = uuid.uuid4().hex
        stats = self.stats
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        if self._server is not None:
            stats.max_connections = max(stats.max_connections, len(self._server.connections))
        try:
            response = await self._handle(request, request_id)
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:
            # The client went away mid-request (e.g. Ctrl-C): nobody is left to answer.
            logger.debug("client disconnected during %s %s", request.method, request.path)
            raise
        except Exception:
            # A bug in the sandbox, not a simulated fault: answer like the API would, loudly.
            logger.exception(
                "sandbox failed on %s %s (request id %s)", request.method, request.path, request_id
            )
            response = _json(
                500, {"error_code": "internal_error", "message": "sandbox bug"}, request_id
            )
        finally:
            stats.in_flight -= 1
        if not isinstance(response, _Dropped):
            stats.statuses[response.status] += 1
        return response

    async def _handle(self, request: web.Request, request_id: str) -> web.StreamResponse:
        stats = self.stats
        if request.path.startswith(SANDBOX_PATH_PREFIX):
            # Not the API: no auth, rate limit, faults or counting.
            return await self._own_endpoint(request, request_id)
        matched = self._router.match(request.method, request.path)
        if matched is None:
            stats.requests_by_route["unmatched"] += 1
            return _error(404, "not_found", f"no route {request.method} {request.path}", request_id)
        methods, params = matched
        route = methods.get(request.method)
        if route is None:
            stats.requests_by_route["unmatched"] += 1
            allowed = ", ".join(sorted(methods))
            return _error(
                405,
                "method_not_allowed",
                f"{request.method} not allowed here (use {allowed})",
                request_id,
                headers={"Allow": allowed},
            )
        stats.requests_by_route[route.key] += 1
        now = self.clock()

        refusal = self._authenticate(request.headers.get("Authorization"), now)
        if refusal is not None:
            stats.auth_failures += 1
            return _error(401, refusal[0], refusal[1], request_id)

        limit = self.rate_limit_per_minute
        if limit is not None:
            wait = self._window.admit(time.monotonic(), limit, self.rate_limit_window)
            if wait is not None:
                stats.rate_limited += 1
                headers = (
                    {"Retry-After": str(max(1, math.ceil(wait)))}
                    if self.retry_after_header
                    else None
                )
                return _error(
                    429,
                    "rate_limited",
                    f"rate limit of {limit} requests per minute exceeded",
                    request_id,
                    headers=headers,
                )

        fault = self._faults.pick(route.key)
        if fault is not None:
            stats.faults[fault.kind] += 1
            if fault.kind is FaultKind.RESET:
                return self._drop(request)
            if not fault.processes_request:
                return _fault_response(fault, request_id)
            if fault.kind is FaultKind.LATENCY and not fault.after_commit:
                await self._sleep(fault)

        if fault is not None:
            now = self.clock()  # the commit happens after any latency
        status, payload = await self._run(route, request, params, now, request_id)
        hide: HiddenLocalId | None = None
        if fault is not None and fault.kind is FaultKind.HISTORY_WITHOUT_LOCAL_ID:
            hide = fault.hidden_local_id
        elif not self.history_local_ids and route.key in MESSAGE_LISTING_ROUTES:
            hide = "absent"
        if hide is not None and status == 200:
            payload = _hide_local_ids(payload, hide)
        if fault is None:
            return _json(status, payload, request_id)
        if fault.kind is FaultKind.COMMIT_THEN_DROP:
            return self._drop(request)
        if fault.kind is FaultKind.UNREADABLE_2XX and status == 200:
            return _unreadable_response(fault.unreadable_body, payload, request_id)
        if fault.kind is FaultKind.SLOW_DRIP:
            return await self._drip(request, _json(status, payload, request_id), fault)
        if fault.kind is FaultKind.OVERSIZED:
            return await self._oversized(request, _json(status, payload, request_id), fault.size)
        if fault.kind is FaultKind.LATENCY and fault.after_commit:
            await self._sleep(fault)
        return _json(status, payload, request_id)

    async def _run(
        self,
        route: Route,
        request: web.Request,
        params: Mapping[str, str],
        now: float,
        request_id: str,
    ) -> tuple[int, Any]:
        """The handler's answer as ``(status, JSON payload)``."""
        body: Any = None
        if request.body_exists:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return 413, ApiFailure.bad_data("body", "too large").body()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return 400, ApiFailure.bad_data("body", "not valid JSON").body()
        call = Call(
            method=request.method,
            params=params,
            query=request.query,
            body=body,
            now=now,
            request_id=request_id,
            dedupe_individual_sends=self.dedupe_individual_sends,
        )
        try:
            payload = route.handler(self.state, call)
        except ApiFailure as failure:
            return failure.status, failure.body()
        return 200, payload

    def _authenticate(self, header: str | None, now: float) -> tuple[str, str] | None:
        """``None`` when the credentials are good, else ``(error_code, message)`` (§1.2)."""
        if not header:
            return "missing_credentials", "send Authorization: Bearer <JWT or API key>"
        scheme, _, token = header.partition(" ")
        token = token.strip()
        scheme = scheme.lower()
        if scheme == "basic":  # older docs: the API key as the user name, no password
            try:
                user = base64.b64decode(token, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = ""
            if user and hmac.compare_digest(user, self.api_key):
                return None
            return "invalid_credentials", "Basic credentials must be the API key and no password"
        if scheme != "bearer" or not token:
            return "invalid_credentials", "use the Bearer scheme"
        if hmac.compare_digest(token, self.api_key):
            return None
        claims = self._jwt_cache.get(token, _MISSING)
        if claims is _MISSING:
            claims = (
                verify_jwt(token, secret_id=self.secret_id, secret_key=self._secret_key)
                if token.count(".") == 2
                else None
            )
            if len(self._jwt_cache) >= _JWT_CACHE_SIZE:
                self._jwt_cache.clear()
            self._jwt_cache[token] = claims
        if not isinstance(claims, dict):
            return "invalid_credentials", "not the API key nor a JWT signed with ID||KEY (HS256)"
        if claims.get("iss") != self.secret_id:
            return "invalid_credentials", "JWT iss is not this API Secret ID"
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            return "invalid_credentials", "JWT iat claim missing or not a number"
        age = now - iat
        if age > self.jwt_max_age:
            return (
                "token_expired",
                f"JWT expired: iat is {age:.0f} s old (limit {self.jwt_max_age:g} s)",
            )
        if -age > self.jwt_max_skew:
            return "invalid_credentials", f"JWT iat is {-age:.0f} s in the future"
        self.stats.note_jwt(token)
        return None

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Cut the connection without an answer.

        The transport is aborted, then a placeholder response is returned: aiohttp's write
        of it fails with a ConnectionResetError, which aiohttp treats as a client that went
        away (a debug log line only), so no traceback and no warning is produced.
        """
        transport = request.transport
        if transport is not None:
            transport.abort()
        self.stats.dropped += 1
        return _Dropped(status=599)

    async def _sleep(self, fault: Fault) -> None:
        delay = fault.delay
        seconds = self._faults.rng.uniform(*delay) if isinstance(delay, tuple) else delay
        await self._sleep_for(seconds)

    async def _sleep_for(self, seconds: float) -> None:
        """Sleep, unless :meth:`stop` wakes every sleeper first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(seconds, _resolve, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._sleepers.discard(waiter)

    async def _drip(
        self, request: web.Request, answer: web.Response, fault: Fault
    ) -> web.StreamResponse:
        """Send ``answer`` one byte (or one piece) at a time, the fault's delay apart."""
        body = bytes(answer.body) if isinstance(answer.body, bytes | bytearray) else b""
        stream = web.StreamResponse(status=answer.status, headers=answer.headers)
        stream.content_length = len(body)
        step = 1
        if fault.max_writes is not None:
            step = max(1, -(-len(body) // fault.max_writes))
        try:
            await stream.prepare(request)
            for index in range(0, len(body), step):
                if index and self._runner is not None:  # once stopping, finish at once
                    await self._sleep(fault)
                await stream.write(body[index : index + step])
        except ConnectionError:
            logger.debug("client left during a slow drip on %s %s", request.method, request.path)
        return stream

    async def _oversized(
        self, request: web.Request, answer: web.Response, size: int
    ) -> web.StreamResponse:
        """Send ``answer``, then spaces up to ``size`` bytes, streamed in chunks."""
        body = bytes(answer.body) if isinstance(answer.body, bytes | bytearray) else b""
        stream = web.StreamResponse(status=answer.status, headers=answer.headers)
        stream.content_length = max(size, len(body))
        padding = b" " * _PADDING_CHUNK
        try:
            await stream.prepare(request)
            await stream.write(body)
            left = stream.content_length - len(body)
            while left > 0:
                step = min(left, _PADDING_CHUNK)
                await stream.write(padding[:step])
                left -= step
        except ConnectionError:
            # A client with a size limit stops reading and hangs up: what it should do.
            logger.debug("client left during an oversized answer on %s", request.path)
        return stream

    # the sandbox's own endpoints (outside the API's paths)

    async def _own_endpoint(self, request: web.Request, request_id: str) -> web.StreamResponse:
        if request.path != LEDGER_PATH:
            return _error(404, "not_found", f"no sandbox endpoint {request.path}", request_id)
        if request.method != "GET":
            return _error(
                405, "method_not_allowed", "use GET", request_id, headers={"Allow": "GET"}
            )
        entries = request.query.get("entries", "").lower() in {"1", "true", "yes"}
        return _json(200, self.ledger_document(entries=entries), request_id)

    def ledger_document(self, *, entries: bool = False) -> dict[str, Any]:
        """The ledger as JSON, for a shell: counts, duplicates and sends per recipient.

        This is what ``GET /_sandbox/ledger`` answers (``?entries=1`` adds every entry) and
        what ``--ledger-file`` writes on exit (with the entries).

        Args:
            entries: include every committed send, in order.
        """
        ledger = self.state.ledger
        per_recipient = ledger.counts_by_recipient()
        document: dict[str, Any] = {
            "entries": len(ledger),
            "recipients": len(per_recipient),
            "duplicates": {r: n for r, n in per_recipient.items() if n > 1},
            "by_kind": {str(kind): n for kind, n in ledger.counts_by_kind().items()},
            "sends_by_recipient": dict(per_recipient),
            "requests": self.stats.total_requests,
            "faults": {str(kind): n for kind, n in sorted(self.stats.faults.items())},
            "dropped_connections": self.stats.dropped,
        }
        if entries:
            document["ledger"] = [
                {**attrs.asdict(entry, recurse=False), "recipients": list(entry.recipients)}
                for entry in ledger
            ]
        return document


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _resign(token: str, issuer: str, secret_id: str, secret_key: str) -> str:
    """``token`` with claim ``iss=issuer`` but signed with this sandbox's real key."""
    header, payload, _ = token.split(".")
    pad = "=" * (-len(payload) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload + pad))
    claims["iss"] = issuer
    signing_input = header + "." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    key = f"{secret_id}||{secret_key}".encode()
    signature = hmac.new(key, signing_input.encode(), "sha256").digest()
    return signing_input + "." + _b64(signature)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(
    status: int, payload: Any, request_id: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    all_headers = {**_JSON_HEADERS, "X-Request-Id": request_id}
    if headers:
        all_headers.update(headers)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=body, headers=all_headers)


def _error(
    status: int,
    code: str,
    message: str,
    request_id: str,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    return _json(status, {"error_code": code, "message": message}, request_id, headers)


def _fault_response(fault: Fault, request_id: str) -> web.Response:
    status = fault.status or 500
    headers: dict[str, str] = {"X-Request-Id": request_id}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.kind is FaultKind.HUGE_RETRY_AFTER:
        headers["Retry-After"] = fault.retry_after_text or "1e9"
        code = "rate_limited" if status == 429 else "unavailable"
        body = {"error_code": code, "message": "come back much later (injected)"}
        return _json(status, body, request_id, headers)
    if fault.kind is FaultKind.RATE_LIMIT:
        body = {"error_code": "rate_limited", "message": "rate limit exceeded (injected)"}
        return _json(429, body, request_id, headers)
    if fault.body == "json":
        body = {
            "error_code": "internal_error",
            "message": f"{_REASONS.get(status, 'error')} (injected)",
        }
        return _json(status, body, request_id, headers)
    if fault.body == "html":
        page = NGINX_502_HTML.replace(
            "502 Bad Gateway", f"{status} {_PHRASES.get(status, 'Error')}"
        )
        headers["Content-Type"] = "text/html"
        return web.Response(status=status, text=page, headers=headers)
    return web.Response(status=status, headers=headers)


_OK_PAGE: Final = "<!DOCTYPE html>\n<html><head><title>OK</title></head><body>OK</body></html>\n"


def _unreadable_response(body: UnreadableBody, payload: Any, request_id: str) -> web.Response:
    """A 200 that says the request was accepted, in a form no client can read as the answer."""
    headers = {"X-Request-Id": request_id}
    if body == "text":
        return web.Response(status=200, text="ok", content_type="text/plain", headers=headers)
    if body == "html":
        return web.Response(status=200, text=_OK_PAGE, content_type="text/html", headers=headers)
    if body == "empty":
        return web.Response(status=200, headers={**_JSON_HEADERS, **headers})
    if body == "array":
        return web.Response(status=200, body=b"[]", headers={**_JSON_HEADERS, **headers})
    whole = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(
        status=200, body=whole[: max(1, len(whole) // 2)], headers={**_JSON_HEADERS, **headers}
    )


def _hide_local_ids(payload: Any, how: HiddenLocalId) -> Any:
    """``payload`` with every ``local_id`` key left out, set to ``null`` or to ``""``."""
    if isinstance(payload, list):
        return [_hide_local_ids(item, how) for item in payload]
    if not isinstance(payload, dict):
        return payload
    hidden: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "local_id":
            if how != "absent":
                hidden[key] = None if how == "null" else ""
            continue
        hidden[key] = _hide_local_ids(value, how)
    return hidden


_PHRASES: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


class _Dropped(web.Response):
    """Returned after the transport is aborted; its write fails, so it reaches no one."""
