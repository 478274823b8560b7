"""A bulk job run in a child process, so a test can SIGKILL it mid-run and resume.

Usage: python -m tests.bulk._worker JOURNAL COUNT KEY  (credentials and URL from the env)
"""

from __future__ import annotations

import asyncio
import json
import sys

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender
from heymarket_async.testing import retry_waits_disabled

from .conftest import phones


async def main(journal: str, count: int, key: str, inbox_id: int, creator_id: int) -> None:
    requests = (
        SendMessage(inbox_id=inbox_id, creator_id=creator_id, phone_number=number, text="Hi")
        for number in phones(count)
    )
    async with HeymarketClient.from_env(
        rate_limit_per_minute=None, retry=RetryPolicy(attempts=6)
    ) as hm:
        report = await BatchSender(hm, concurrency=8, key=key, journal=journal).send_all(requests)
    print(json.dumps({"sent": report.sent, "skipped": report.skipped}))  # noqa: T201


if __name__ == "__main__":
    with retry_waits_disabled():
        asyncio.run(
            main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        )
