"""Reconciliation: did an ambiguously failed send reach the server after all?

No endpoint finds a message by ``local_id`` (§4), so the lookup reads history and matches
it: ``GET /v1/messages`` for a single phone number, otherwise the team-wide
``POST /v1/messages/all`` walk, newest first, back to the first attempt. A lookup that cannot
read that far, or reads history whose messages carry no ``local_id`` at all, says so
(``ReconciliationError``) rather than guess "absent". ``hm.messages.send`` and the bulk
sender use this same lookup (design.md "Retries").

A list broadcast writes one one-to-one message per member, each carrying the broadcast's
``local_id`` (§2.5), so :func:`probe_members` looks for it in a few members' conversations:
a cost bounded by ``PROBE_MEMBERS * PROBE_PAGES`` requests, whatever the team has sent.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from ._config import USE_CLIENT_DEFAULT
from ._converter import unstructure
from ._protocol import ApiResponse
from ._retry import Reconcile, reconcile_deadline
from .errors import HeymarketError, NotFoundError, ReconciliationError
from .resources._base import Requester, Timeout, read_list
from .resources._message_models import (
    AllMessagesQuery,
    HistoryQuery,
    Message,
    SendMessage,
    build_list_all_messages,
    build_message_history,
)

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_MAX_PAGES",
    "HISTORY_PAGE_LIMIT",
    "PROBE_MEMBERS",
    "PROBE_PAGES",
    "find_sent",
    "probe_members",
    "reconciler",
    "sent_id",
]

logger = logging.getLogger("heymarket_async")

DEFAULT_MAX_PAGES: Final = 50
"""History pages read at most before a lookup gives up undecided."""
PHONE_HISTORY_PAGE: Final = 50
"""Messages ``GET /v1/messages`` answers at most (§2.1)."""
HISTORY_PAGE_LIMIT: Final = 200
"""Messages asked for per team-history page (the server may answer with fewer)."""
CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far the server's clock may run behind ours when deciding a message is too old."""
PROBE_MEMBERS: Final = 3
"""List members whose conversations :func:`probe_members` reads at most."""
PROBE_PAGES: Final = 2
"""Pages of one member's conversation :func:`probe_members` reads at most."""

OnPage = Callable[[int], None]


class _PageCounter:
    """Counts pages across several walks and reports the running total."""

    def __init__(self, on_page: OnPage | None) -> None:
        self.total = 0
        self._on_page = on_page

    def __call__(self, _number: int) -> None:
        self.total += 1
        if self._on_page is not None:
            self._on_page(self.total)


def _matches(message: Message, send: SendMessage) -> bool:
    if message.local_id != send.local_id:
        return False
    # A caller-chosen local_id might be reused in another inbox (its scope is undocumented).
    inbox = message.conversation.inbox if message.conversation else None
    return inbox is None or inbox == send.inbox_id


def sent_id(message: Message, send: SendMessage) -> int:
    """The id a send answer would have carried: a list broadcast's own id when the message
    found is one member's copy of it, else the message's id."""
    if send.is_broadcast and message.broadcast_id is not None:
        return message.broadcast_id
    return message.id


def _oldest(page: list[Message]) -> datetime | None:
    dates = [m.date for m in page if m.date is not None]
    return min(dates) if dates else None


async def find_sent(
    requester: Requester,
    send: SendMessage,
    *,
    since: datetime | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    timeout: Timeout = USE_CLIENT_DEFAULT,
    on_page: OnPage | None = None,
    deadline: float | None = None,
) -> Message | None:
    """Look for the message ``send`` created, by its ``local_id``, and decide.

    For a ``phone_number`` this pages that conversation's history (``GET /v1/messages``);
    for ``chat_id``, ``list_id`` and ``targets`` it pages team history newest first
    (``POST /v1/messages/all``). Either walk ends in a decision: the message is found, or
    history is read back past ``since`` (minus :data:`CLOCK_SKEW`) or to its end without it.

    Args:
        requester: the client (anything with ``request``).
        send: the request whose effect is in doubt.
        since: when the first attempt started; history older than that cannot hold it.
        max_pages: pages read at most.
        on_page: called with the number of pages read so far, after each one (progress).
        deadline: a ``time.monotonic()`` moment bounding the whole lookup (every page
            request is capped by it); past it the lookup ends undecided.

    Returns:
        The message carrying ``send.local_id`` (in ``send.inbox_id`` when the answer says),
        or ``None`` when it is certainly absent: resending with the same ``local_id`` is
        then safe.

    Raises:
        ReconciliationError: history could not be read far enough to decide (within
            ``max_pages`` or before ``deadline``), or none of the messages read carried a
            ``local_id`` (so not finding it proves nothing).
        APIError, TransportError: a lookup request failed.
    """
    return await _walk(
        requester,
        send,
        phone=send.phone_number,
        since=since,
        max_pages=max_pages,
        timeout=timeout,
        on_page=on_page,
        deadline=deadline,
    )


async def probe_members(
    requester: Requester,
    send: SendMessage,
    members: Sequence[str],
    *,
    since: datetime | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
    on_page: OnPage | None = None,
    deadline: float | None = None,
) -> Message | None:
    """Look for a list broadcast in the conversations of a few of the list's ``members``.

    Reads at most :data:`PROBE_PAGES` pages of each of the first :data:`PROBE_MEMBERS`
    members' conversations in ``send.inbox_id``, so the cost does not grow with the team's
    history.

    Returns:
        One member's copy of the broadcast, or ``None`` when none of them shows it. ``None``
        is not proof of absence: the API skips members who opted out since the list was made.

    Raises:
        APIError, TransportError: a lookup request failed.
    """
    count = _PageCounter(on_page)
    for phone in members[:PROBE_MEMBERS]:
        try:
            found = await _walk(
                requester,
                send,
                phone=phone,
                since=since,
                max_pages=PROBE_PAGES,
                timeout=timeout,
                on_page=count,
                deadline=deadline,
            )
        except (ReconciliationError, NotFoundError) as exc:
            # A member without a conversation may be answered 404 (undocumented): not seen.
            logger.debug("probing a member for local_id %s: %s", send.local_id, exc)
            found = None
        if found is not None:
            return found
    return None


async def _walk(
    requester: Requester,
    send: SendMessage,
    *,
    phone: str | None,
    since: datetime | None,
    max_pages: int,
    timeout: Timeout,
    on_page: OnPage | None,
    deadline: float | None = None,
) -> Message | None:
    cutoff = None if since is None else since - CLOCK_SKEW

    before: datetime | None = None
    read_any = saw_local_id = False
    for number in range(1, max_pages + 1):
        if phone is not None:
            query = HistoryQuery(
                phone_number=phone,
                inbox_id=send.inbox_id,
                before=None if before is None else math.ceil(before.timestamp()),
            )
            request = build_message_history(query)
        else:
            request = build_list_all_messages(
                AllMessagesQuery(before=before, limit=HISTORY_PAGE_LIMIT)
            )
        if deadline is not None and time.monotonic() >= deadline:
            raise ReconciliationError(
                f"could not decide whether local_id {send.local_id!r} was sent before the "
                f"call's deadline ({number - 1} history pages read)"
            )
        response = await requester.request(request, timeout=timeout, deadline=deadline)
        page = read_list(response, Message, wrappers=("messages",))
        if on_page is not None:
            on_page(number)
        found = next((m for m in page if _matches(m, send)), None)
        if found is not None:
            return found
        read_any = read_any or bool(page)
        saw_local_id = saw_local_id or any(m.local_id for m in page)
        oldest = _oldest(page)
        at_end = (
            not page
            or oldest is None
            # §2.1: up to 50 per page, so a shorter page is the end
            or (phone is not None and len(page) < PHONE_HISTORY_PAGE)
            # read back past the first attempt
            or (cutoff is not None and oldest < cutoff)
        )
        if at_end or oldest is None:
            if read_any and not saw_local_id:
                # A server that leaves local_id out of history would hide our message too.
                raise ReconciliationError(
                    f"could not decide whether local_id {send.local_id!r} was sent: the "
                    "history read carries no local_id on any message, so not finding it "
                    "proves nothing"
                )
            return None
        if before is not None and oldest >= before:
            break  # the server ignored the cursor: cannot read further back
        before = oldest
    raise ReconciliationError(
        f"could not decide whether local_id {send.local_id!r} was sent: "
        f"history was not readable back to the first attempt within {max_pages} pages"
    )


def reconciler(
    requester: Requester,
    send: SendMessage,
    timeout: Timeout = USE_CLIENT_DEFAULT,
    *,
    since: datetime | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    on_found: Callable[[Message], None] | None = None,
    lookup: Callable[[], Awaitable[Message | None]] | None = None,
) -> Reconcile[ApiResponse]:
    """The ``reconcile`` hook for ``requester.request``: a found message becomes the answer.

    Call it just before the first attempt (that moment bounds the history walk) or pass
    ``since``. A failed lookup raises :class:`ReconciliationError` (the send may have
    happened and was not repeated), never an error that could be read as the send's own.
    ``lookup`` replaces the default :func:`find_sent` (``None`` from it means "resend");
    it should bound itself by :func:`~heymarket_async._retry.reconcile_deadline`, as the
    default lookup does: the call's deadline then bounds its lookups too.
    """
    since = datetime.now(UTC) if since is None else since

    async def reconcile() -> ApiResponse | None:
        try:
            if lookup is not None:
                found = await lookup()
            else:
                found = await find_sent(
                    requester,
                    send,
                    since=since,
                    max_pages=max_pages,
                    timeout=timeout,
                    deadline=reconcile_deadline(),
                )
        except ReconciliationError:
            raise
        except HeymarketError as exc:
            # The lookup had its own retries; its failure must not read as the send's own.
            raise ReconciliationError(
                f"could not look up local_id {send.local_id!r} in history: {exc}"
            ) from exc
        if found is None:
            logger.debug("local_id %s not found after an ambiguous failure", send.local_id)
            return None
        logger.info(
            "local_id %s was already sent as message %s; not sending again",
            send.local_id,
            found.id,
        )
        if on_found is not None:
            on_found(found)
        # The found Message reads as a SentMessage (its conversation gives convo_id).
        data = {**unstructure(found), "id": sent_id(found, send)}
        return ApiResponse(status=200, data=data, request_id=None)

    return reconcile
