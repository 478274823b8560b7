"""The shared walkers driven by in-memory pages (no HTTP): the rules every listing inherits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from heymarket_async.errors import RequestValidationError
from heymarket_async.resources._paging import walk_by_page_number, walk_by_timestamp

T0 = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


@attrs.frozen
class Item:
    id: int
    when: datetime | None = None


def at(minutes: int) -> datetime:
    return T0 - timedelta(minutes=minutes)


async def test_page_walk_starts_at_the_given_page() -> None:
    """The numbered walk asks for first_page, then the pages after it."""
    asked: list[int] = []
    pages = {3: [Item(1), Item(2)], 4: [Item(3)]}

    async def fetch(number: int) -> Sequence[Item]:
        asked.append(number)
        return pages.get(number, [])

    found = [item.id async for item in walk_by_page_number(fetch, first_page=3)]
    assert (found, asked) == ([1, 2, 3], [3, 4])


def test_page_walk_refuses_bad_numbers_up_front() -> None:
    """A first page below 1 or max_pages 0 fails at the call, before any fetch."""

    async def fetch(number: int) -> Sequence[Item]:
        raise AssertionError(number)  # pragma: no cover - must not run

    with pytest.raises(RequestValidationError) as info:
        walk_by_page_number(fetch, first_page=0)
    assert info.value.field == "page"
    with pytest.raises(RequestValidationError) as info:
        walk_by_page_number(fetch, max_pages=0)
    assert info.value.field == "max_pages"


async def test_timestamp_walk_passes_each_cursor_to_fetch() -> None:
    """The first fetch gets `start`, each next one the oldest timestamp of the page before."""
    asked: list[datetime | None] = []
    pages = [[Item(3, at(0)), Item(2, at(4))], [Item(1, at(7))], []]

    async def fetch(cursor: datetime | None) -> Sequence[Item]:
        asked.append(cursor)
        return pages[len(asked) - 1]

    walk = walk_by_timestamp(fetch, timestamp=lambda item: item.when, start=T0)
    assert [item.id async for item in walk] == [3, 2, 1]
    assert asked == [T0, at(4), at(7)]


async def test_timestamp_walk_skips_items_from_the_walked_side() -> None:
    """An item newer than the cursor of a newest-first walk was seen before and is not repeated."""
    pages = [[Item(3, at(0)), Item(2, at(4))], [Item(3, at(0)), Item(1, at(5))], []]
    calls = 0

    async def fetch(cursor: datetime | None) -> Sequence[Item]:
        nonlocal calls
        calls += 1
        return pages[calls - 1]

    walk = walk_by_timestamp(fetch, timestamp=lambda item: item.when)
    assert [item.id async for item in walk] == [3, 2, 1]
