"""The campaign side: split the phones into shards, queue one task per shard, wait, report.

    python campaign.py --campaign april-2026 --phones phones.txt --shards 8 \
        --inbox-id 1 --creator-id 1 --text "Spring sale"

Run it again with the same --campaign to resume: every shard's journal says what was sent.
Prints the campaign's totals as one JSON document; exits 1 if a shard did not finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from settings import REDIS_URL, journal_namespace
from tasks import broker, send_shard

from heymarket_async.redis import RedisJournal


def split(phones: list[str], shards: int) -> list[list[str]]:
    """Contiguous shards of nearly equal size (the same input always splits the same way)."""
    size, extra = divmod(len(phones), shards)
    out, start = [], 0
    for shard in range(shards):
        end = start + size + (1 if shard < extra else 0)
        out.append(phones[start:end])
        start = end
    return [shard for shard in out if shard]


async def run(args: argparse.Namespace, phones: list[str]) -> dict[str, Any]:
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
        results = [await task.wait_result(timeout=args.timeout) for task in queued]
    finally:
        await broker.shutdown()
    shards = [
        {"shard": number, "error": str(result.error)} if result.is_err else result.return_value
        for number, result in enumerate(results)
    ]
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
        "shards": shards,
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
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per shard")
    args = parser.parse_args(argv)
    lines = Path(args.phones).read_text().splitlines()
    report = asyncio.run(run(args, [line.strip() for line in lines if line.strip()]))
    print(json.dumps(report, indent=2))  # noqa: T201
    return 0 if report["finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
