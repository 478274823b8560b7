"""Many processes on one API key, through one Redis server (``heymarket-async[redis]``).

``RedisRateLimiter`` keeps every client that shares its Redis URL and ``name`` under one
rate limit, with an interactive lane that bulk traffic cannot starve. ``RedisJournal`` is
the bulk journal in Redis, so a job can resume on another machine.
"""

from __future__ import annotations

try:
    import redis as _redis  # noqa: F401 - fail here, with the fix, not deep inside
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "heymarket_async.redis needs the redis extra: pip install 'heymarket-async[redis]'"
    ) from exc

from ._journal import RedisJournal
from ._limiter import RedisRateLimiter

__all__ = ["RedisJournal", "RedisRateLimiter"]
