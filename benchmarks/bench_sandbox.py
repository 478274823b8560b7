"""Case 6: the sandbox's own throughput, so it is never the bottleneck of a test or a demo.

The sandbox runs in a child process with faults and rate limiting off; a raw aiohttp client
in this process (no SDK in the way) keeps ``concurrency`` requests in flight and counts
answers per second. Sends use distinct phone numbers, so every one is committed.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from _harness import server_process

from heymarket_async._auth import mint_jwt

INBOX_ID = 42


async def _drive(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    *,
    method: str,
    count: int,
    concurrency: int,
) -> float:
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < count:
            issued += 1
            body = None
            if method == "POST":
                body = {"inbox_id": INBOX_ID, "phone_number": f"1510{issued:07d}", "text": "hi"}
            async with session.request(method, url, headers=headers, json=body) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"sandbox answered {response.status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def measure(*, count: int, concurrency: int = 32) -> dict[str, float]:
    """Requests per second for one read and one send route."""
    with server_process("sandbox", "--rate-limit", "0") as info:
        token = mint_jwt(secret_id=info.secret_id, secret_key=info.secret_key, now=time.time())
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            return {
                "GET /v1/inboxes": await _drive(
                    session,
                    info.url + "/v1/inboxes",
                    headers,
                    method="GET",
                    count=count,
                    concurrency=concurrency,
                ),
                "POST /v1/message/send": await _drive(
                    session,
                    info.url + "/v1/message/send",
                    headers,
                    method="POST",
                    count=count,
                    concurrency=concurrency,
                ),
            }
