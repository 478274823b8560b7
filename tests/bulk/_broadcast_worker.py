"""A list broadcast run in a child process, so a test can SIGKILL it mid-run and resume.

Usage: python -m tests.bulk._broadcast_worker JOURNAL COUNT KEY INBOX CREATOR LIST_SIZE
(credentials and URL from the environment)
"""

from __future__ import annotations

import asyncio
import sys

from heymarket_async import HeymarketClient, RetryPolicy
from heymarket_async.bulk import broadcast
from heymarket_async.testing import retry_waits_disabled

from .conftest import phones


async def main(argv: list[str]) -> None:
    journal, count, key, inbox_id, creator_id, list_size = argv
    async with HeymarketClient.from_env(
        rate_limit_per_minute=None, retry=RetryPolicy(attempts=6)
    ) as hm:
        await broadcast(
            hm,
            inbox_id=int(inbox_id),
            creator_id=int(creator_id),
            phones=phones(int(count)),
            text="Hi",
            key=key,
            list_size=int(list_size),
            journal=journal,
        )


if __name__ == "__main__":
    with retry_waits_disabled():
        asyncio.run(main(sys.argv[1:7]))
