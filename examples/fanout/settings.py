"""Settings shared by the campaign script and the workers (all from the environment).

FANOUT_REDIS_URL        one Redis for the task queue, the results, the journal and the limiter
FANOUT_RATE_PER_MINUTE  the API key's limit shared by every worker (default 500)
FANOUT_WORKERS          worker processes sharing it, for the fallback split (default 2)
HEYMARKET_SECRET_ID, HEYMARKET_SECRET_KEY (or HEYMARKET_API_KEY), HEYMARKET_BASE_URL
"""

from __future__ import annotations

import os
from typing import Any

try:  # the limiter shared through Redis, when this heymarket-async has it
    from heymarket_async.redis import RedisRateLimiter  # type: ignore[attr-defined]
except ImportError:
    RedisRateLimiter = None

REDIS_URL = os.environ.get("FANOUT_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_PER_MINUTE = int(os.environ.get("FANOUT_RATE_PER_MINUTE", "500"))
WORKERS = int(os.environ.get("FANOUT_WORKERS", "2"))
QUEUE = "heymarket-fanout"


def journal_namespace(campaign: str) -> str:
    """One journal per campaign: its shards resume from it, and it is dropped with it."""
    return f"heymarket-fanout:{campaign}"


def pacing() -> dict[str, Any]:
    """The client options that pace every worker together under the key's limit.

    With ``heymarket_async.redis.RedisRateLimiter`` available, all workers on all machines
    share one limit through Redis, bulk traffic in the bulk lane. Without it, each worker
    process paces itself at an equal share of the limit: still never over the limit, but a
    worker with nothing left to send does not hand its share to the others.
    """
    if RedisRateLimiter is None:
        return {"rate_limit_per_minute": max(1, RATE_PER_MINUTE // WORKERS)}
    limiter = RedisRateLimiter(REDIS_URL, name="heymarket-fanout", limit_per_minute=RATE_PER_MINUTE)
    return {"rate_limiter": limiter}
