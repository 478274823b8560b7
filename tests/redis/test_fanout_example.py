"""The fan-out example (examples/fanout) end to end: a real redis-server as task queue,
result store and journal, two taskiq worker processes started with the taskiq CLI, the
campaign script, and the sandbox's ledger as ground truth."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from heymarket_async.sandbox import FaultPlan, Sandbox

from ..bulk.conftest import phones
from ..bulk.test_batch_sender import assert_exactly_once
from ..helpers import sandbox_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fanout"
SEND = "POST /v1/message/send"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


def example_env(sb: Sandbox, redis_url: str) -> dict[str, str]:
    return sandbox_env(sb, FANOUT_REDIS_URL=redis_url, FANOUT_RATE_PER_MINUTE="60000")


async def test_the_fanout_example_sends_a_campaign_over_two_workers_exactly_once(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    """400 phones in 4 shards over 2 taskiq worker processes, with a few faults on sends:
    the campaign's totals count every phone sent once, the journal agrees, the ledger holds
    each phone exactly once; a rerun of the campaign resumes and sends nothing."""
    numbers = list(phones(400))
    listing = tmp_path / "phones.txt"
    listing.write_text("\n".join(numbers) + "\n")
    sandbox.faults = FaultPlan.chaos(
        0.05, route=SEND, seed=3, max_delay=0.01, kinds=["server_error", "commit_then_drop"]
    )
    env = example_env(sandbox, redis_url)
    log = (tmp_path / "workers.log").open("wb")
    workers = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "taskiq",
        "worker",
        "tasks:broker",
        "--workers",
        "2",
        "--log-level",
        "WARNING",
        cwd=EXAMPLE,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,  # its own process group: the worker children stop with it
    )
    try:

        async def campaign() -> dict[str, object]:
            script = await asyncio.create_subprocess_exec(
                sys.executable,
                "campaign.py",
                "--campaign",
                "april",
                "--phones",
                str(listing),
                "--shards",
                "4",
                "--inbox-id",
                str(sandbox.default_inbox_id),
                "--creator-id",
                str(sandbox.default_creator_id),
                "--text",
                "Spring sale",
                "--timeout",
                "60",
                cwd=EXAMPLE,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(script.communicate(), 90)
            workers_log = (tmp_path / "workers.log").read_text(errors="replace")[-2000:]
            assert script.returncode == 0, (out + err).decode()[-3000:] + workers_log
            report: dict[str, object] = json.loads(out)
            return report

        report = await campaign()
        assert report["recipients"] == 400
        assert report["totals"] == {
            "total": 400,
            "sent": 400,
            "skipped": 0,
            "failed": 0,
            "unknown": 0,
        }
        assert report["journal"] == {"sent": 400}
        shards = report["shards"]
        assert isinstance(shards, list)
        assert sorted(shard["total"] for shard in shards) == [100, 100, 100, 100]
        assert_exactly_once(sandbox, numbers)

        sandbox.faults = FaultPlan()
        again = await campaign()
        assert again["totals"] == {
            "total": 400,
            "sent": 0,
            "skipped": 400,
            "failed": 0,
            "unknown": 0,
        }
        assert_exactly_once(sandbox, numbers)
    finally:
        if workers.returncode is None:
            os.killpg(workers.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(workers.wait(), 15)
            except TimeoutError:
                os.killpg(workers.pid, signal.SIGKILL)
                await workers.wait()
        log.close()


async def run_campaign(
    sandbox: Sandbox, redis_url: str, listing: Path, *options: str
) -> tuple[int, str, str]:
    script = await asyncio.create_subprocess_exec(
        sys.executable,
        "campaign.py",
        "--campaign",
        "may",
        "--phones",
        str(listing),
        "--inbox-id",
        str(sandbox.default_inbox_id),
        "--creator-id",
        str(sandbox.default_creator_id),
        "--text",
        "Spring sale",
        *options,
        cwd=EXAMPLE,
        env=example_env(sandbox, redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(script.communicate(), 60)
    assert script.returncode is not None
    return script.returncode, out.decode(), err.decode()


async def test_shards_without_a_result_are_reported_and_a_reshard_is_refused(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    """No worker runs: every shard is reported with its error in the JSON (no traceback),
    within one overall timeout; a rerun with another --shards is refused before anything
    is queued, since its phones would get new local_ids and be sent again."""
    listing = tmp_path / "phones.txt"
    listing.write_text("\n".join(phones(12)) + "\n")
    code, out, err = await run_campaign(
        sandbox, redis_url, listing, "--shards", "3", "--timeout", "0.5"
    )
    assert code == 1, err
    report = json.loads(out)
    assert report["finished"] is False
    assert [shard["shard"] for shard in report["shards"]] == [0, 1, 2]
    assert all("no result within 0.5 s" in shard["error"] for shard in report["shards"])
    assert "Traceback" not in err

    code, out, err = await run_campaign(
        sandbox, redis_url, listing, "--shards", "4", "--timeout", "0.5"
    )
    assert (code, out) == (2, "")
    assert "was started with --shards 3" in err
    assert "Traceback" not in err
    async with aioredis.Redis.from_url(redis_url) as redis:
        assert await redis.llen("heymarket-fanout") == 3  # the first run's shards only
