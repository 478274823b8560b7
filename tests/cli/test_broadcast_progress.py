"""The list broadcast's progress bar counts recipients decided, not rows read ahead."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heymarket_async._cli._broadcast import RowChecker, _Result, _send_lists, read_layout
from heymarket_async.sandbox import Sandbox

from . import use_sandbox


class RecordingBar:
    """A progress bar that remembers how far it was at each note."""

    def __init__(self) -> None:
        self.done = 0
        self.notes: list[tuple[int, str]] = []

    def advance(self, amount: int = 1) -> None:
        self.done += amount

    def note(self, text: str) -> None:
        self.notes.append((self.done, text))


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        use_sandbox(monkeypatch, sb)
        yield sb


async def test_bar_moves_as_lists_are_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    """With lists of 10, the bar stands at 10 and 20 after the first lists, then at every row."""
    path = tmp_path / "job.csv"
    rows = ["phone", "nope", *(f"1510555{i:04d}" for i in range(25))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    layout = read_layout(path)
    checker = RowChecker(layout, normalize=False, has_default_content=True)
    args = argparse.Namespace(
        csv=path,
        inbox=sandbox.default_inbox_id,
        creator=sandbox.default_creator_id,
        key="bar",
        list_size=10,
        journal=None,
        text="Hi",
        template=None,
        media=None,
        rate_limit=None,
        base_url=None,
    )
    bar = RecordingBar()
    result = _Result(mode="list")
    await _send_lists(args, layout, checker, bar, result)
    at_lists = {text: done for done, text in bar.notes if text.endswith("list broadcast(s) done")}
    # The refused row is counted when read; the rest only once their list went out.
    assert at_lists["1 list broadcast(s) done"] == 1 + 10
    assert at_lists["2 list broadcast(s) done"] == 1 + 20
    assert bar.done == len(rows) - 1
    assert (result.sent, result.recipients) == (25, 25)
