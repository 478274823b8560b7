"""An in-process fake Heymarket API server with fault injection, for tests and demos.

::

    from heymarket_async import HeymarketClient
    from heymarket_async.sandbox import Fault, FaultPlan, Sandbox

    async with Sandbox() as sb:
        sb.faults.next(Fault.server_error(503), route="GET /v1/inboxes")
        async with HeymarketClient(**sb.client_kwargs(), rate_limit_per_minute=None) as hm:
            inboxes = await hm.inboxes.list()  # the 503 is retried transparently
        assert sb.stats.requests("GET /v1/inboxes") == 2

Run ``python -m heymarket_async.sandbox --port 8080`` to serve one from a shell.
"""

from __future__ import annotations

from ._api import ROUTES, Call, Handler, Route
from ._faults import (
    FAR_FUTURE_HTTP_DATE,
    MESSAGE_LISTING_ROUTES,
    NGINX_502_HTML,
    BodyFormat,
    Fault,
    FaultKind,
    FaultPlan,
    FaultRule,
    HiddenLocalId,
    UnreadableBody,
)
from ._server import LEDGER_PATH, Sandbox, SandboxStats
from ._state import ApiFailure, Ledger, LedgerEntry, LedgerKind, SandboxState

__all__ = [
    "FAR_FUTURE_HTTP_DATE",
    "LEDGER_PATH",
    "MESSAGE_LISTING_ROUTES",
    "NGINX_502_HTML",
    "ROUTES",
    "ApiFailure",
    "BodyFormat",
    "Call",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Handler",
    "HiddenLocalId",
    "Ledger",
    "LedgerEntry",
    "LedgerKind",
    "Route",
    "Sandbox",
    "SandboxState",
    "SandboxStats",
    "UnreadableBody",
]
