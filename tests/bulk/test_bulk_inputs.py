"""Ordinary mistakes in bulk inputs and timeouts are typed errors, before the wire."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from heymarket_async import HeymarketClient, Timeouts
from heymarket_async.bulk import BatchSender, broadcast
from heymarket_async.errors import ConfigurationError, RequestValidationError

from ..hostile import Answer, HostileServer

ODD_SECONDS = [float("inf"), float("nan"), 10**400, -1, 0, True, "5"]


def _cases(hm: HeymarketClient) -> dict[str, Callable[[], Awaitable[Any]]]:
    bad: Any = None
    return {
        "broadcast phones=None": lambda: broadcast(
            hm, inbox_id=1, creator_id=1, phones=bad, key="k", text="x"
        ),
        "broadcast phones=str": lambda: broadcast(
            hm, inbox_id=1, creator_id=1, phones="15105550001", key="k", text="x"
        ),
        "broadcast journal=123": lambda: broadcast(
            hm,
            inbox_id=1,
            creator_id=1,
            phones=[],
            key="k",
            text="x",
            journal=123,  # type: ignore[arg-type]
        ),
        "send_all(None)": lambda: BatchSender(hm).send_all(bad),
        "send_all(5)": lambda: BatchSender(hm).send_all(5),  # type: ignore[arg-type]
        "BatchSender journal=123": lambda: BatchSender(hm, journal=123).send_all([]),  # type: ignore[arg-type]
        "BatchSender journal=bytes": lambda: BatchSender(hm, journal=b"j.db").send_all([]),  # type: ignore[arg-type]
    }


async def test_bad_bulk_inputs_are_refused_before_any_request() -> None:
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": 10}))
        async with server.client() as hm:
            for name, make in _cases(hm).items():
                with pytest.raises(RequestValidationError):
                    await make()
                assert server.requests == [], name


def test_a_callback_that_cannot_be_called_is_refused() -> None:
    hm = HeymarketClient(api_key="k")
    with pytest.raises(RequestValidationError, match="on_outcome"):
        BatchSender(hm, on_outcome=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", ODD_SECONDS)
async def test_odd_timeouts_are_configuration_errors(seconds: Any) -> None:
    with pytest.raises(ConfigurationError):
        HeymarketClient(api_key="k", timeout=seconds)
    with pytest.raises(ConfigurationError):
        Timeouts(total=seconds)
    with pytest.raises(ConfigurationError):
        Timeouts(read=seconds)
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": 10}))
        async with server.client() as hm:
            with pytest.raises(ConfigurationError):
                await hm.team.get(timeout=seconds)
            assert server.requests == []


def test_no_limit_is_still_none() -> None:
    assert Timeouts(total=None, read=None, connect=None).total is None
