"""Reconciliation: did an ambiguously failed send reach the server after all?

No endpoint finds a message by ``local_id`` (§4), so the lookup reads history and matches
it: ``GET /v1/messages`` for a single phone number, otherwise the team-wide
``POST /v1/messages/all`` walk, newest first, back to the first attempt. A lookup that cannot
read that far says so (``ReconciliationError``) rather than guess "absent".
``hm.messages.send`` and the bulk sender use this same lookup (design.md "Retries").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from ._config import USE_CLIENT_DEFAULT
from ._converter import unstructure
from ._protocol import ApiResponse
from ._retry import Reconcile
from .errors import HeymarketError, ReconciliationError
from .resources._base import Requester, Timeout, read_list
from .resources.messages import (
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
    "find_sent",
    "reconciler",
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


def _matches(message: Message, send: SendMessage) -> bool:
    if message.local_id != send.local_id:
        return False
    # A caller-chosen local_id might be reused in another inbox (its scope is undocumented).
    inbox = message.conversation.inbox if message.conversation else None
    return inbox is None or inbox == send.inbox_id


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

    Returns:
        The message carrying ``send.local_id`` (in ``send.inbox_id`` when the answer says),
        or ``None`` when it is certainly absent: resending with the same ``local_id`` is
        then safe.

    Raises:
        ReconciliationError: history could not be read far enough to decide.
        APIError, TransportError: a lookup request failed.
    """
    cutoff = None if since is None else since - CLOCK_SKEW
    before: datetime | None = None
    for _ in range(max_pages):
        if send.phone_number is not None:
            query = HistoryQuery(
                phone_number=send.phone_number,
                inbox_id=send.inbox_id,
                before=None if before is None else math.ceil(before.timestamp()),
            )
            request = build_message_history(query)
        else:
            request = build_list_all_messages(
                AllMessagesQuery(before=before, limit=HISTORY_PAGE_LIMIT)
            )
        response = await requester.request(request, timeout=timeout)
        page = read_list(response, Message, wrappers=("messages",))
        found = next((m for m in page if _matches(m, send)), None)
        if found is not None:
            return found
        oldest = _oldest(page)
        if not page or oldest is None:
            return None  # the end of history
        if send.phone_number is not None and len(page) < PHONE_HISTORY_PAGE:
            return None  # §2.1: up to 50 per page, so a shorter page is the end
        if cutoff is not None and oldest < cutoff:
            return None  # read back past the first attempt
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
) -> Reconcile[ApiResponse]:
    """The ``reconcile`` hook for ``requester.request``: a found message becomes the answer.

    Call it just before the first attempt (that moment bounds the history walk) or pass
    ``since``. A failed lookup raises :class:`ReconciliationError` (the send may have
    happened and was not repeated), never an error that could be read as the send's own.
    """
    since = datetime.now(UTC) if since is None else since

    async def reconcile() -> ApiResponse | None:
        try:
            found = await find_sent(
                requester, send, since=since, max_pages=max_pages, timeout=timeout
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
        return ApiResponse(status=200, data=unstructure(found), request_id=None)

    return reconcile
