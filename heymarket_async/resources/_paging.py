"""Walking the API's paged listings, and reading its counts (heymarket-api.md §3).

Two walkers serve every listing: :func:`walk_by_timestamp` for the timestamp cursors
(``/v1/messages/all``, ``/v1/conversations``, ``/v1/templates``, ``/v1/tags``) and
:func:`walk_by_page_number` for ``page``/``limit`` paging (``/v1/surveys``). Each takes a
``fetch`` coroutine function that requests and reads one page, so the walkers stay free of
I/O details and every resource keeps its own request body.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final, Protocol, TypeVar

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._converter import converter
from .._protocol import ApiResponse
from ._base import unreadable

__all__ = [
    "DateCursor",
    "Identified",
    "read_count",
    "walk_by_page_number",
    "walk_by_timestamp",
]


class Identified(Protocol):
    """An item with an integer ``id`` (every listed API object has one)."""

    @property
    def id(self) -> int: ...


ItemT = TypeVar("ItemT", bound=Identified)


@attrs.frozen(kw_only=True)
class DateCursor:
    """A body that is only the ``date`` cursor: items updated before it (§3); ``{}`` at first.

    Used by ``/v1/templates``, ``/v1/tags`` and ``/v1/conversations/count``.
    """

    before: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.aware_datetime)
    )


converter.register_unstructure_hook(
    DateCursor,
    make_dict_unstructure_fn(
        DateCursor, converter, _cattrs_omit_if_default=True, before=override(rename="date")
    ),
)


# A count beyond this many digits is not a count of anything real (and int() of a few
# thousand digits is refused by Python itself).
_MAX_COUNT_DIGITS: Final = 18


def read_count(response: ApiResponse) -> int:
    """The count from ``"42"`` (§3: a JSON string), ``42`` or ``{"count": 42}``.

    Raises:
        UnexpectedResponseError: anything else (a negative, fractional or absurdly long
            number, digits outside ASCII, an unreadable body).
    """
    data = response.data
    if isinstance(data, dict) and response.readable:
        data = data.get("count")
    if isinstance(data, str):
        text = data.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_COUNT_DIGITS:
            return int(text)
    elif isinstance(data, int) and not isinstance(data, bool) and 0 <= data < 10**_MAX_COUNT_DIGITS:
        return data
    raise unreadable(response, "a count")


def walk_by_timestamp(
    fetch: Callable[[datetime | None], Awaitable[Sequence[ItemT]]],
    *,
    timestamp: Callable[[ItemT], datetime | None],
    start: datetime | None = None,
    ascending: bool = False,
    max_pages: int | None = None,
) -> AsyncGenerator[ItemT, None]:
    """Walk a timestamp-cursor listing lazily, each item once (§3).

    ``fetch(cursor)`` returns one page for a cursor (``None``: the first page). Each page's
    furthest ``timestamp`` becomes the next cursor. Items are de-duplicated by ``id``: an
    item on the already-walked side of the cursor was seen before, and the ids at the
    cursor's own timestamp are remembered (the only ones a page can repeat), so memory
    stays bounded by how many items share one timestamp. The walk stops on an empty page,
    after ``max_pages``, or when a page brings nothing new without moving the cursor (a
    server that ignores the cursor cannot make it loop). A short page does not stop it,
    since the servers' maximum page sizes are unknown.

    Args:
        fetch: requests and reads the page below (or, ``ascending``, above) a cursor.
        timestamp: the value of an item that the cursor compares with.
        start: the first cursor.
        ascending: the listing runs oldest first, so the cursor moves forward.
        max_pages: stop after this many pages.

    Raises:
        RequestValidationError: ``max_pages`` is not a positive integer (raised here,
            before any request).
    """
    if max_pages is not None:
        check.check_positive_int("max_pages", max_pages)
    return _walk_by_timestamp(fetch, timestamp, start, ascending, max_pages)


async def _walk_by_timestamp(
    fetch: Callable[[datetime | None], Awaitable[Sequence[ItemT]]],
    timestamp: Callable[[ItemT], datetime | None],
    start: datetime | None,
    ascending: bool,
    max_pages: int | None,
) -> AsyncGenerator[ItemT, None]:
    def beyond(when: datetime, cursor: datetime) -> bool:
        """Whether ``when`` lies further along the walk than ``cursor``."""
        return when > cursor if ascending else when < cursor

    cursor = start
    at_cursor: set[int] = set()  # ids already yielded whose timestamp equals the cursor
    untimed: set[int] = set()  # ids already yielded that carry no timestamp (none expected)
    pages = 0
    while max_pages is None or pages < max_pages:
        page = await fetch(cursor)
        pages += 1
        if not page:
            return
        fresh: list[ItemT] = []
        on_page: set[int] = set()
        next_cursor = cursor
        for item in page:
            if item.id in on_page:
                continue
            on_page.add(item.id)
            when = timestamp(item)
            if when is None:
                if item.id not in untimed:
                    untimed.add(item.id)
                    fresh.append(item)
                continue
            if next_cursor is None or beyond(when, next_cursor):
                next_cursor = when
            # §3: the walked side was yielded already; the boundary itself may repeat.
            if (cursor is not None and beyond(cursor, when)) or item.id in at_cursor:
                continue
            if when == cursor:
                at_cursor.add(item.id)
            fresh.append(item)
        for item in fresh:
            yield item
        if next_cursor is None or (next_cursor == cursor and not fresh):
            return  # nothing to page by, or no progress: stop rather than loop
        if next_cursor != cursor:
            at_cursor = {item.id for item in page if timestamp(item) == next_cursor}
        cursor = next_cursor


def walk_by_page_number(
    fetch: Callable[[int], Awaitable[Sequence[ItemT]]],
    *,
    first_page: int = 1,
    max_pages: int | None = None,
) -> AsyncGenerator[ItemT, None]:
    """Walk a ``page``-numbered listing lazily, each item once (§3: pages count from 1).

    ``fetch(page)`` returns one page. The walk stops on an empty page, after ``max_pages``,
    on a page that brings no id not seen before (a server that ignores ``page`` cannot make
    it loop), or on a page shorter than an earlier one: that is the last page. A first page
    shorter than the ``limit`` asked for does not end the walk, because a server may cap
    ``limit`` below the value asked for (the maximum is undocumented); at worst that costs
    one request for an empty page.

    Args:
        fetch: requests and reads one page by number.
        first_page: the number of the first page to request.
        max_pages: stop after this many pages.

    Raises:
        RequestValidationError: ``first_page`` or ``max_pages`` is not a positive integer
            (raised here, before any request).
    """
    check.check_positive_int("page", first_page)
    if max_pages is not None:
        check.check_positive_int("max_pages", max_pages)
    return _walk_by_page_number(fetch, first_page, max_pages)


async def _walk_by_page_number(
    fetch: Callable[[int], Awaitable[Sequence[ItemT]]],
    first_page: int,
    max_pages: int | None,
) -> AsyncGenerator[ItemT, None]:
    seen: set[int] = set()
    longest = 0
    number = first_page
    while max_pages is None or number - first_page < max_pages:
        page = await fetch(number)
        fresh: list[ItemT] = []
        for item in page:
            if item.id not in seen:
                seen.add(item.id)
                fresh.append(item)
        for item in fresh:
            yield item
        if not fresh or len(page) < longest:
            return  # empty, nothing new (no progress), or short: the end
        longest = max(longest, len(page))
        number += 1
