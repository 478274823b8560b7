from __future__ import annotations

import subprocess
import sys


def test_the_core_package_never_imports_redis() -> None:
    """``import heymarket_async`` (and a client) work without touching the redis extra."""
    code = (
        "import sys, heymarket_async, heymarket_async.bulk\n"
        "heymarket_async.HeymarketClient(api_key='k')\n"
        "assert 'redis' not in sys.modules, sorted(m for m in sys.modules if 'redis' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # noqa: S603


def test_the_redis_package_exports_the_limiter_and_the_journal() -> None:
    import heymarket_async.redis  # noqa: PLC0415 - the import is what is tested

    assert heymarket_async.redis.__all__ == ["RedisJournal", "RedisRateLimiter"]
