"""Settings shared by the campaign script and the workers (all from the environment).

FANOUT_REDIS_URL        one Redis for the task queue, the results, the journal and the limiter
FANOUT_RATE_PER_MINUTE  the API key's limit shared by every worker (default 500)
HEYMARKET_SECRET_ID, HEYMARKET_SECRET_KEY (or HEYMARKET_API_KEY), HEYMARKET_BASE_URL
"""

from __future__ import annotations

import os
from typing import Any

from heymarket_async.redis import RedisRateLimiter

REDIS_URL = os.environ.get("FANOUT_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_PER_MINUTE = int(os.environ.get("FANOUT_RATE_PER_MINUTE", "500"))
QUEUE = "heymarket-fanout"


def journal_namespace(campaign: str) -> str:
    """One journal per campaign: its shards resume from it, and it is dropped with it."""
    return f"heymarket-fanout:{campaign}"


def pacing() -> dict[str, Any]:
    """The client options that pace every worker together under the key's limit.

    All workers on all machines share one limit through Redis; the campaign's sends use the
    bulk lane, so a web app on the same key (and the same limiter name) keeps its reserved
    interactive share.
    """
    limiter = RedisRateLimiter(REDIS_URL, name="heymarket-fanout", limit_per_minute=RATE_PER_MINUTE)
    return {"rate_limiter": limiter}
