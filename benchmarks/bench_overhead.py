"""Case 1: client CPU per request and requests/s, the SDK against raw aiohttp and httpx.

Every contender sends the same mix against the same fixed-answer server in another process:
each worker alternates ``GET /v1/team`` and ``POST /v1/message/send`` (same headers, same
JSON bodies) and decodes the JSON answer. Contenders are interleaved within each round, in
a rotated order, and the medians over rounds are reported.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from _harness import (
    BENCH_SECRET_ID,
    BENCH_SECRET_KEY,
    SEND_PAYLOAD,
    SENT_BODY,
    TEAM_BODY,
    Sample,
    Series,
    ServerInfo,
    median,
    timed_async,
)
from multidict import CIMultiDict, CIMultiDictProxy

from heymarket_async import HeymarketClient
from heymarket_async._auth import mint_jwt
from heymarket_async._config import DEFAULT_TIMEOUTS
from heymarket_async._protocol import ApiRequest
from heymarket_async._transport import RawResponse, user_agent

try:
    import httpx
except ImportError:  # optional: the table says so instead of failing
    httpx = None  # type: ignore[assignment]

SNIFFIO_STUBBED = False
try:
    import sniffio  # noqa: F401
except ImportError:
    if httpx is not None:
        # httpcore imports sniffio inside every new lock and, when it is missing, pays a
        # failed import (a sys.path scan, ~1.5 ms a request here). A stub gives httpx its
        # best case.
        _stub = types.ModuleType("sniffio")
        _stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = _stub
        SNIFFIO_STUBBED = True

Call = Callable[[], Awaitable[Any]]


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": user_agent(),
    }


def _send_body() -> bytes:
    return json.dumps(SEND_PAYLOAD, separators=(",", ":")).encode()


class Contender:
    """One way of making the calls; ``team`` and ``send`` each make one request."""

    name = ""

    async def open(self, info: ServerInfo) -> None:
        raise NotImplementedError

    async def team(self) -> Any:
        raise NotImplementedError

    async def send(self) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class RawAiohttp(Contender):
    """Hand-built requests on one ``aiohttp.ClientSession``: the floor to compare with."""

    name = "raw aiohttp"

    async def open(self, info: ServerInfo) -> None:
        token = mint_jwt(secret_id=info.secret_id, secret_key=info.secret_key, now=0)
        self._headers = _headers(token)
        self._team_url = info.url + "/v1/team"
        self._send_url = info.url + "/v1/message/send"
        # The SDK's default time limits, so both arm the same timers.
        timeout = aiohttp.ClientTimeout(
            total=DEFAULT_TIMEOUTS.total,
            connect=DEFAULT_TIMEOUTS.connect,
            sock_read=DEFAULT_TIMEOUTS.read,
        )
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def _call(self, method: str, url: str, data: bytes | None) -> Any:
        async with self._session.request(
            method, url, headers=self._headers, data=data, allow_redirects=False
        ) as response:
            body = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"HTTP {response.status}")
            return json.loads(body)

    async def team(self) -> Any:
        return await self._call("GET", self._team_url, None)

    async def send(self) -> Any:
        return await self._call("POST", self._send_url, _send_body())

    async def close(self) -> None:
        await self._session.close()


class Httpx(Contender):
    """A plain ``httpx.AsyncClient`` making the same hand-built requests."""

    name = "httpx"

    async def open(self, info: ServerInfo) -> None:
        token = mint_jwt(secret_id=info.secret_id, secret_key=info.secret_key, now=0)
        self._headers = _headers(token)
        self._team_url = info.url + "/v1/team"
        self._send_url = info.url + "/v1/message/send"
        timeout = httpx.Timeout(
            DEFAULT_TIMEOUTS.total, connect=DEFAULT_TIMEOUTS.connect, read=DEFAULT_TIMEOUTS.read
        )
        self._client = httpx.AsyncClient(timeout=timeout)

    async def _call(self, method: str, url: str, data: bytes | None) -> Any:
        response = await self._client.request(method, url, headers=self._headers, content=data)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")
        return json.loads(response.content)

    async def team(self) -> Any:
        return await self._call("GET", self._team_url, None)

    async def send(self) -> Any:
        return await self._call("POST", self._send_url, _send_body())

    async def close(self) -> None:
        await self._client.aclose()


class SdkRequest(Contender):
    """``HeymarketClient.request`` with prebuilt requests: the SDK's transport hot path
    (retry loop, token, headers, transport, response classification), limiter off."""

    name = "SDK hm.request"

    async def open(self, info: ServerInfo) -> None:
        self._hm = HeymarketClient(**info.client_kwargs(), rate_limit_per_minute=None)
        await self._hm.__aenter__()
        self._team = ApiRequest(method="GET", path="/v1/team")

    async def team(self) -> Any:
        return (await self._hm.request(self._team)).data

    async def send(self) -> Any:
        # The JSON body is encoded per call, as the raw contenders do.
        request = ApiRequest(method="POST", path="/v1/message/send", json=dict(SEND_PAYLOAD))
        return (await self._hm.request(request)).data

    async def close(self) -> None:
        await self._hm.aclose()


class SdkTyped(Contender):
    """The public typed calls ``hm.team.get()`` and ``hm.messages.send(...)``: adds
    request validation, a fresh ``local_id``, the reconcile hook and model structuring."""

    name = "SDK typed"

    async def open(self, info: ServerInfo) -> None:
        self._hm = HeymarketClient(**info.client_kwargs(), rate_limit_per_minute=None)
        await self._hm.__aenter__()

    async def team(self) -> Any:
        return await self._hm.team.get()

    async def send(self) -> Any:
        return await self._hm.messages.send(
            inbox_id=42, creator_id=7, phone_number="15105553345", text="Hello from the benchmark"
        )

    async def close(self) -> None:
        await self._hm.aclose()


def contenders() -> list[Contender]:
    found: list[Contender] = [RawAiohttp(), SdkRequest(), SdkTyped()]
    if httpx is not None:
        found.append(Httpx())
    return found


MIXES = ("team+send", "send")


async def run_mix(
    contender: Contender, *, calls: int, concurrency: int, mix: str = "team+send"
) -> None:
    """``calls`` requests over ``concurrency`` workers, each alternating team and send
    (``mix="team+send"``) or sending only (``mix="send"``)."""
    per_worker, extra = divmod(calls, concurrency)
    sends_only = mix == "send"

    async def worker(count: int) -> None:
        for i in range(count):
            await (contender.send() if sends_only or i % 2 else contender.team())

    await asyncio.gather(*(worker(per_worker + (w < extra)) for w in range(concurrency)))


async def measure(
    info: ServerInfo,
    *,
    concurrencies: tuple[int, ...],
    calls: int,
    rounds: int,
    mix: str = "team+send",
) -> dict[tuple[str, int], Series]:
    """Median CPU µs/request and requests/s per (contender, concurrency)."""
    active = contenders()
    for contender in active:
        await contender.open(info)
    try:
        # Warm up: imports, lazy sessions, and a connection pool as wide as the widest run.
        for contender in active:
            await run_mix(contender, calls=max(concurrencies) * 4, concurrency=max(concurrencies))
        results: dict[tuple[str, int], Series] = {}
        for round_index in range(rounds):
            for concurrency in concurrencies:
                shift = round_index % len(active)
                for contender in active[shift:] + active[:shift]:
                    # httpx is ~5x slower: fewer calls keep its share of the run in proportion.
                    n = max(calls // 4, concurrency) if contender.name == "httpx" else calls
                    sample: Sample = await timed_async(
                        n,
                        lambda c=contender, k=concurrency, n=n: run_mix(
                            c, calls=n, concurrency=k, mix=mix
                        ),
                    )
                    results.setdefault((contender.name, concurrency), Series()).samples.append(
                        sample
                    )
        return results
    finally:
        for contender in active:
            await contender.close()


class _CannedTransport:
    """Answers at once with the fixed bodies: what is left is the SDK's own CPU work."""

    def __init__(self) -> None:
        self._headers = CIMultiDictProxy(
            CIMultiDict({"Content-Type": "application/json", "X-Request-Id": "0" * 32})
        )

    async def send(self, method: str, url: str, **_kwargs: Any) -> RawResponse:
        body = TEAM_BODY if method == "GET" else SENT_BODY
        return RawResponse(200, self._headers, body)

    async def aclose(self) -> None:
        pass


class _CannedRaw(Contender):
    """What the raw aiohttp contender does besides the socket: encode, check, decode."""

    name = "raw, canned"

    async def team(self) -> Any:
        return self._decode(200, TEAM_BODY)

    async def send(self) -> Any:
        _send_body()
        return self._decode(200, SENT_BODY)

    @staticmethod
    def _decode(status: int, body: bytes) -> Any:
        if status >= 300:
            raise RuntimeError(f"HTTP {status}")
        return json.loads(body)


async def own_work_us(*, calls: int, rounds: int, typed: bool = False) -> tuple[float, float]:
    """Median CPU µs per request, with answers canned instead of sent, of the SDK's
    ``hm.request`` (or, with ``typed``, its typed calls) and of the raw contender's own
    code: per-request work without socket noise (their difference is what the SDK adds)."""
    sdk: SdkRequest | SdkTyped = SdkTyped() if typed else SdkRequest()
    await sdk.open(ServerInfo("http://127.0.0.1:9", BENCH_SECRET_ID, BENCH_SECRET_KEY, ""))
    sdk._hm._transport = _CannedTransport()  # type: ignore[assignment]
    raw = _CannedRaw()
    try:
        sdk_samples, raw_samples = [], []
        for contender, samples in [(sdk, sdk_samples), (raw, raw_samples)] * (rounds + 1):
            sample = await timed_async(
                calls, lambda c=contender: run_mix(c, calls=calls, concurrency=1)
            )
            samples.append(sample.cpu_us_per_op)
    finally:
        await sdk.close()
    # The first pair warmed up caches and lazy state.
    return median(sdk_samples[1:]), median(raw_samples[1:])


async def profile_sdk(info: ServerInfo, *, calls: int, concurrency: int, typed: bool) -> None:
    """Run only the SDK contender (for a profiler wrapped around this call)."""
    contender: Contender = SdkTyped() if typed else SdkRequest()
    await contender.open(info)
    try:
        await run_mix(contender, calls=calls, concurrency=concurrency)
    finally:
        await contender.close()
