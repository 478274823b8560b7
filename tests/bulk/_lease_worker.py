"""A keyed bulk job in a child process with a short journal lease, for the lease tests.

Usage: python -m tests.bulk._lease_worker JOURNAL COUNT KEY INBOX CREATOR LEASE_TTL
(credentials and URL from the environment). Prints one JSON line: the report's counts, or
the ``BulkSendError`` that stopped the job (exit status 3).
"""

from __future__ import annotations

import asyncio
import json
import sys

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender, Journal
from heymarket_async.errors import BulkSendError
from heymarket_async.testing import retry_waits_disabled

from .conftest import phones


async def main(argv: list[str]) -> int:
    path, count, key, inbox_id, creator_id, ttl = argv
    requests = (
        SendMessage(inbox_id=int(inbox_id), creator_id=int(creator_id), phone_number=n, text="Hi")
        for n in phones(int(count))
    )
    async with (
        HeymarketClient.from_env(rate_limit_per_minute=None, retry=RetryPolicy(attempts=6)) as hm,
        Journal(path, lease_ttl=float(ttl)) as journal,
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
