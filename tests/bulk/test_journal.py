from __future__ import annotations

from pathlib import Path

import pytest

from heymarket_async.bulk import Journal
from heymarket_async.errors import BulkSendError


async def test_claim_commits_inflight_once_per_run(tmp_path: Path) -> None:
    """A first claim writes an inflight row; a second claim in the same run is a repeat."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        prior, first = await journal.claim("a", run_id="r1", now=100.0)
        assert prior is None
        assert first == 100.0
        again, _ = await journal.claim("a", run_id="r1", now=101.0)
        assert again is not None
        assert again.state == "inflight"
        assert again.run_id == "r1"


async def test_a_new_run_reclaims_inflight_and_keeps_first_attempt(tmp_path: Path) -> None:
    """An entry left in flight is reclaimed by the next run with its first-attempt time kept."""
    path = tmp_path / "j.sqlite3"
    async with Journal(path) as journal:
        await journal.claim("a", run_id="r1", now=100.0)
    async with Journal(path) as journal:
        prior, first = await journal.claim("a", run_id="r2", now=200.0)
        assert prior is not None
        assert prior.state == "inflight"
        assert first == 100.0
        assert (await journal.get("a")).run_id == "r2"  # type: ignore[union-attr]


async def test_sent_entries_are_never_reclaimed(tmp_path: Path) -> None:
    """Once sent, an entry stays sent with its message id, whatever run asks."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        await journal.claim("a", run_id="r1")
        await journal.finish("a", "sent", run_id="r1", message_id=9)
        prior, _ = await journal.claim("a", run_id="r2")
        assert prior is not None
        assert (prior.state, prior.message_id) == ("sent", 9)
        assert await journal.counts() == {"sent": 1}


async def test_failed_entries_are_retried_by_a_later_run(tmp_path: Path) -> None:
    """A failed entry (certainly not sent) goes back in flight when a new run claims it."""
    async with Journal(tmp_path / "j.sqlite3") as journal:
        await journal.claim("a", run_id="r1")
        await journal.finish("a", "failed", run_id="r1", error="BadRequestError: x")
        prior, _ = await journal.claim("a", run_id="r2")
        assert prior is not None
        assert prior.state == "failed"
        assert (await journal.get("a")).state == "inflight"  # type: ignore[union-attr]


async def test_temporary_journal_is_removed_on_close() -> None:
    """A journal without a path lives in a temporary file deleted at close."""
    journal = await Journal().open()
    assert journal.path is not None
    path = journal.path
    assert path.exists()
    await journal.close()
    assert not path.exists()


async def test_unopened_journal_is_a_clear_error() -> None:
    """Using a journal before open raises BulkSendError."""
    with pytest.raises(BulkSendError, match="not open"):
        await Journal().get("a")


async def test_unusable_path_is_a_bulk_send_error(tmp_path: Path) -> None:
    """A journal path in a missing directory raises BulkSendError."""
    with pytest.raises(BulkSendError, match="cannot open"):
        await Journal(tmp_path / "missing" / "j.sqlite3").open()
