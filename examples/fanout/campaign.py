"""The campaign side: split the phones into shards, queue one task per shard, wait, report.

    python campaign.py --campaign april-2026 --phones phones.txt --shards 8 \
        --inbox-id 1 --creator-id 1 --text "Spring sale"

Run it again with the same --campaign, phones file and --shards to resume: every shard's
journal says what was sent. Prints the campaign's totals as one JSON document; exits 1 if a
shard did not finish, 2 if a rerun asks for another --shards than the campaign's first run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from settings import REDIS_URL, journal_namespace
from taskiq import AsyncTaskiqTask
from taskiq.exceptions import TaskiqResultTimeoutError
from tasks import broker, send_shard

from heymarket_async.redis import RedisJournal


class ShardCountError(Exception):
    """A rerun split the campaign into another number of shards than its first run."""


def split(phones: list[str], shards: int) -> list[list[str]]:
    """Contiguous shards of nearly equal size (the same input always splits the same way)."""
    size, extra = divmod(len(phones), shards)
    out, start = [], 0
    for shard in range(shards):
        end = start + size + (1 if shard < extra else 0)
        out.append(phones[start:end])
        start = end
    return [shard for shard in out if shard]


async def keep_shard_count(campaign: str, shards: int) -> None:
    """Record the campaign's shard count on its first run; refuse a rerun with another.

    A send's ``local_id`` comes from its shard's job key, so a phone that moves to another
    shard would look new to the journal and be sent again.
    """
    async with aioredis.Redis.from_url(REDIS_URL) as redis:
        key = f"{journal_namespace(campaign)}:shards"
        await redis.set(key, shards, nx=True)
        first = int(await redis.get(key))
    if first != shards:
        raise ShardCountError(
            f"campaign {campaign!r} was started with --shards {first}; rerun it with "
            f"--shards {first} (another count would send most phones again)"
        )


async def outcome(number: int, task: AsyncTaskiqTask[Any], timeout: float) -> dict[str, Any]:
    try:
        result = await task.wait_result(timeout=timeout)
    except TaskiqResultTimeoutError:
        return {
            "shard": number,
            "error": f"no result within {timeout:g} s (worker lost?); rerun to resume",
        }
    if result.is_err:
        return {"shard": number, "error": str(result.error)}
    shard: dict[str, Any] = result.return_value
    return shard


async def run(args: argparse.Namespace, phones: list[str]) -> dict[str, Any]:
    await keep_shard_count(args.campaign, args.shards)
    await broker.startup()
    try:
        queued = [
            await send_shard.kiq(
                campaign=args.campaign,
                shard=number,
                phones=shard,
                inbox_id=args.inbox_id,
                creator_id=args.creator_id,
                text=args.text,
            )
            for number, shard in enumerate(split(phones, args.shards))
        ]
        # One overall timeout: every shard is waited for at once.
        shards = await asyncio.gather(
            *(outcome(number, task, args.timeout) for number, task in enumerate(queued))
        )
    finally:
        await broker.shutdown()
    totals = {
        name: sum(shard.get(name, 0) for shard in shards)
        for name in ("total", "sent", "skipped", "failed", "unknown")
    }
    # The journal is the record across reruns: sent here is every send of the campaign.
    async with RedisJournal(REDIS_URL, namespace=journal_namespace(args.campaign)) as journal:
        journal_counts = await journal.counts()
    return {
        "campaign": args.campaign,
        "recipients": len(phones),
        "shards": list(shards),
        "totals": totals,
        "journal": journal_counts,
        "finished": all("error" not in shard for shard in shards),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", required=True, help="names the campaign; reuse to resume")
    parser.add_argument("--phones", required=True, help="a file with one phone per line")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--inbox-id", type=int, required=True)
    parser.add_argument("--creator-id", type=int, required=True)
    parser.add_argument("--text", required=True)
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds to wait for all shards"
    )
    args = parser.parse_args(argv)
    lines = Path(args.phones).read_text().splitlines()
    try:
        report = asyncio.run(run(args, [line.strip() for line in lines if line.strip()]))
    except ShardCountError as exc:
        print(f"campaign.py: {exc}; nothing was queued", file=sys.stderr)  # noqa: T201
        return 2
    print(json.dumps(report, indent=2))  # noqa: T201
    return 0 if report["finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
