"""One process of a shared-limit job: sends its shard with BatchSender and a RedisRateLimiter.

Usage: python -m tests.redis._worker REDIS_URL NAME LIMIT PERIOD START COUNT INBOX CREATOR
(credentials and the sandbox URL from the environment). Prints the job's report as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from heymarket_async import HeymarketClient, RetryPolicy, SendMessage
from heymarket_async.bulk import BatchSender
from heymarket_async.redis import RedisRateLimiter
from heymarket_async.testing import retry_waits_disabled

from ..bulk.conftest import phones


async def main(argv: list[str]) -> None:
    url, name, limit, period, start, count, inbox_id, creator_id = argv
    limiter = RedisRateLimiter(
        url, name=name, limit_per_minute=int(limit), period=float(period), interactive_share=0
    )
    requests = (
        SendMessage(
            inbox_id=int(inbox_id), creator_id=int(creator_id), phone_number=number, text="Hi"
        )
        for number in phones(int(count), start=int(start))
    )
    async with HeymarketClient.from_env(
        rate_limiter=limiter, retry=RetryPolicy(attempts=6, deadline=60.0)
    ) as hm:
        report = await BatchSender(hm, concurrency=8).send_all(requests)
    print(json.dumps({"sent": report.sent, "failed": report.failed}))  # noqa: T201


if __name__ == "__main__":
    with retry_waits_disabled():
        asyncio.run(main(sys.argv[1:]))
