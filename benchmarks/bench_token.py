"""Case 2: what authentication costs: JWT mints per 10,000 calls, and one mint in µs.

The client reuses one JWT for ``token_lifetime`` seconds (240 by default), so a burst of
calls should mint once, and a long run once per lifetime. The long run is simulated with an
injected wall clock that advances a fixed step per call, against the same fixed-answer
server as case 1 (it does not check tokens, so simulated time is harmless).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from _harness import BENCH_SECRET_ID, BENCH_SECRET_KEY, ServerInfo, per_op_us

from heymarket_async import HeymarketClient
from heymarket_async._auth import SecretCredentials, TokenCache, mint_jwt
from heymarket_async._config import DEFAULT_TOKEN_LIFETIME
from heymarket_async._protocol import ApiRequest

# Simulated seconds per call in the long run: 10,000 calls span 1,000 s, about 4 lifetimes.
STEP_SECONDS = 0.1


@dataclass
class TokenResult:
    calls: int
    mints_real_clock: int
    simulated_seconds: float
    mints_simulated: int
    expected_simulated: int
    mint_us: float
    cached_get_us: float


class _SteppingClock:
    """Wall-clock seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _calls(
    hm: HeymarketClient, calls: int, concurrency: int, clock: _SteppingClock | None
) -> None:
    request = ApiRequest(method="GET", path="/v1/team")
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await hm.request(request)
            if clock is not None:
                clock.now += STEP_SECONDS

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(info: ServerInfo, *, calls: int, quick: bool) -> TokenResult:
    async with HeymarketClient(**info.client_kwargs(), rate_limit_per_minute=None) as hm:
        await _calls(hm, calls, 8, None)
        real = hm.token_mint_count
    clock = _SteppingClock()
    async with HeymarketClient(
        **info.client_kwargs(), rate_limit_per_minute=None, clock=clock
    ) as hm:
        await _calls(hm, calls, 8, clock)
        simulated = hm.token_mint_count
    simulated_seconds = calls * STEP_SECONDS
    number = 200 if quick else 2000
    mint_us = per_op_us(
        lambda: mint_jwt(secret_id=BENCH_SECRET_ID, secret_key=BENCH_SECRET_KEY, now=time.time()),
        number=number,
        repeat=3 if quick else 7,
    )
    cache = TokenCache(
        SecretCredentials(secret_id=BENCH_SECRET_ID, secret_key=BENCH_SECRET_KEY),
        lifetime=DEFAULT_TOKEN_LIFETIME,
    )
    await cache.get()

    def cached_get() -> None:
        # A fresh-token get never suspends, so one send() runs the coroutine to completion.
        coroutine = cache.get()
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - would mean the cache minted or waited
            raise AssertionError("TokenCache.get suspended")

    cached_get_us = per_op_us(cached_get, number=number * 10, repeat=3 if quick else 7)
    return TokenResult(
        calls=calls,
        mints_real_clock=real,
        simulated_seconds=simulated_seconds,
        mints_simulated=simulated,
        expected_simulated=math.ceil(simulated_seconds / DEFAULT_TOKEN_LIFETIME),
        mint_us=mint_us,
        cached_get_us=cached_get_us,
    )
