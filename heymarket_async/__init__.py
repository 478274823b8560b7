"""An asyncio-first SDK for the Heymarket business-messaging REST API."""

from __future__ import annotations

from ._client import HeymarketClient
from ._config import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    USE_CLIENT_DEFAULT,
    RetryPolicy,
    Timeouts,
)
from ._protocol import ApiRequest, ApiResponse
from ._version import version as _version
from .resources._base import ResponseList
from .resources.inboxes import Inbox
from .resources.team import Team, TeamMember

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "HeymarketClient",
    "Inbox",
    "ResponseList",
    "RetryPolicy",
    "Team",
    "TeamMember",
    "Timeouts",
    "USE_CLIENT_DEFAULT",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
