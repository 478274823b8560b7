"""pytest fixtures for testing code that uses ``heymarket_async``, against the sandbox.

Installed as a ``pytest11`` plugin, so the fixtures are available without imports:

* ``heymarket_sandbox``: a running :class:`~heymarket_async.sandbox.Sandbox`, fresh per test.
* ``heymarket_client``: a :class:`~heymarket_async.HeymarketClient` opened against it
  (client-side rate limiting off; the sandbox still enforces its own limit).

Options for the sandbox come from the ``heymarket_sandbox`` marker::

    @pytest.mark.heymarket_sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False)
    async def test_something(heymarket_client, heymarket_sandbox): ...

The fixtures are async; they need pytest-asyncio (or the anyio plugin for anyio tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from ._client import HeymarketClient
    from .sandbox import Sandbox

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - without pytest-asyncio, anyio's plugin runs them
    _fixture: Any = pytest.fixture
else:
    _fixture = pytest_asyncio.fixture  # works in both its "strict" and "auto" modes

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(func: _F) -> _F:
    return cast("_F", _fixture(func))


__all__ = ["heymarket_client", "heymarket_sandbox"]

MARKER = "heymarket_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): keyword arguments for the heymarket_sandbox Sandbox"
    )


@_async_fixture
async def heymarket_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A fresh sandbox on 127.0.0.1, stopped after the test."""
    # Imported here: every pytest run loads this plugin, few tests need aiohttp.web.
    from .sandbox import Sandbox  # noqa: PLC0415

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        options.update(marker.kwargs)  # the closest marker wins
    async with Sandbox(**options) as sandbox:
        yield sandbox


@_async_fixture
async def heymarket_client(heymarket_sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    """A client for ``heymarket_sandbox``, closed after the test."""
    from ._client import HeymarketClient  # noqa: PLC0415 - see heymarket_sandbox

    async with HeymarketClient(
        secret_id=heymarket_sandbox.secret_id,
        secret_key=heymarket_sandbox.secret_key,
        base_url=heymarket_sandbox.url,
        rate_limit_per_minute=None,
    ) as client:
        yield client
