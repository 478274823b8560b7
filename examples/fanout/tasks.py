"""The worker side: one taskiq task sends one shard of a campaign.

Run the workers with:  taskiq worker tasks:broker --workers 2
"""

from __future__ import annotations

import os
import socket
from typing import Any

from settings import QUEUE, REDIS_URL, journal_namespace, pacing
from taskiq import TaskiqEvents, TaskiqState
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from heymarket_async import HeymarketClient, SendMessage
from heymarket_async.bulk import BatchSender
from heymarket_async.redis import RedisJournal

broker = ListQueueBroker(REDIS_URL, queue_name=QUEUE).with_result_backend(
    RedisAsyncResultBackend(REDIS_URL, result_ex_time=7 * 24 * 3600)
)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def open_client(state: TaskiqState) -> None:
    """One API client per worker process, paced with every other worker."""
    state.client = await HeymarketClient.from_env(**pacing()).__aenter__()


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def close_client(state: TaskiqState) -> None:
    await state.client.__aexit__(None, None, None)


@broker.task(task_name="heymarket_fanout.send_shard")
async def send_shard(
    *,
    campaign: str,
    shard: int,
    phones: list[str],
    inbox_id: int,
    creator_id: int,
    text: str,
) -> dict[str, Any]:
    """Send one shard, journaled in Redis under the job key ``<campaign>-<shard>``.

    Running it again (another worker, another machine, after a crash) resumes the shard:
    what was sent is skipped, what was in flight is looked up first. While a live worker
    holds the shard's lease, another one is refused (``BulkSendError``).
    """
    client: HeymarketClient = broker.state.client
    requests = (
        SendMessage(inbox_id=inbox_id, creator_id=creator_id, phone_number=phone, text=text)
        for phone in phones
    )
    async with RedisJournal(REDIS_URL, namespace=journal_namespace(campaign)) as journal:
        sender = BatchSender(client, concurrency=8, key=f"{campaign}-{shard}", journal=journal)
        report = await sender.send_all(requests)
    return {
        "shard": shard,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "total": report.total,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
        "unknown": report.unknown,
    }
