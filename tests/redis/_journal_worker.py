"""A keyed bulk job in a child process, journaled in Redis with a short lease.

Usage: python -m tests.redis._journal_worker REDIS_URL NAMESPACE COUNT KEY INBOX CREATOR TTL
(credentials and URL of the API from the environment). Prints one JSON line: the report's
counts, or the ``BulkSendError`` that stopped the job (exit status 3).
"""

from __future__ import annotations

import asyncio
import json
import sys

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender
from heymarket_async.errors import BulkSendError
from heymarket_async.redis import RedisJournal
from heymarket_async.testing import retry_waits_disabled

from ..bulk.conftest import phones


async def main(argv: list[str]) -> int:
    url, namespace, count, key, inbox_id, creator_id, ttl = argv
    requests = (
        SendMessage(inbox_id=int(inbox_id), creator_id=int(creator_id), phone_number=n, text="Hi")
        for n in phones(int(count))
    )
    async with (
        HeymarketClient.from_env(rate_limit_per_minute=None, retry=RetryPolicy(attempts=6)) as hm,
        RedisJournal(url, namespace=namespace, lease_ttl=float(ttl)) as journal,
    ):
        try:
            report = await BatchSender(hm, concurrency=8, key=key, journal=journal).send_all(
                requests
            )
        except BulkSendError as exc:
            print(json.dumps({"error": str(exc)}), flush=True)  # noqa: T201
            return 3
    print(json.dumps({"sent": report.sent, "skipped": report.skipped}), flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    with retry_waits_disabled():
        sys.exit(asyncio.run(main(sys.argv[1:])))
