from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.sandbox import Sandbox


def phones(n: int, start: int = 0) -> Iterator[str]:
    """n distinct valid US numbers."""
    for i in range(start, start + n):
        yield f"1510{i:07d}"


def sends(
    sb: Sandbox, numbers: Iterator[str] | list[str], text: str = "Hi"
) -> Iterator[SendMessage]:
    for number in numbers:
        yield SendMessage(
            inbox_id=sb.default_inbox_id,
            creator_id=sb.default_creator_id,
            phone_number=number,
            text=text,
        )


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


def client_for(sb: Sandbox, **options: Any) -> HeymarketClient:
    settings: dict[str, Any] = {
        "rate_limit_per_minute": None,
        "retry": RetryPolicy(attempts=6, deadline=60.0),
        **options,
    }
    return HeymarketClient(**sb.client_kwargs(), **settings)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with client_for(sandbox) as hm:
        yield hm
