"""Messages: send SMS/MMS (§2.1, seed S1), conversation history, team-wide paging and count.

Contract: heymarket-api.md §2.1 (endpoints, Message object), §2.3 (Conversation object),
§3 (timestamp cursors) and §4 (``local_id``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from .._config import USE_CLIENT_DEFAULT
from .._protocol import ApiRequest, ApiResponse
from .._reconcile import find_sent, reconciler, sent_id
from .._retry import Reconcile
from ..errors import HeymarketError, RequestValidationError, UnexpectedResponseError
from ._base import Resource, ResponseList, Timeout, read_list
from ._message_models import (
    AllMessagesQuery,
    Conversation,
    ConversationMember,
    HistoryQuery,
    Message,
    MessageOrder,
    SendMessage,
    SentMessage,
    build_count_messages,
    build_list_all_messages,
    build_message_history,
    build_send_message,
    iter_all_messages,
    read_sent_message,
)
from ._paging import read_count

__all__ = [
    "AllMessagesQuery",
    "Conversation",
    "ConversationMember",
    "HistoryQuery",
    "Message",
    "Messages",
    "SendMessage",
    "SentMessage",
    "build_count_messages",
    "build_list_all_messages",
    "build_message_history",
    "build_send_message",
    "iter_all_messages",
    "read_count",
    "read_sent_message",
]

# History pages read to find the id of a send whose 2xx answer was unreadable.
_SETTLE_PAGES: Final = 3


# --- Service ----------------------------------------------------------------------------------


class Messages(Resource):
    """Send messages and read message history."""

    async def send(
        self,
        *,
        inbox_id: int,
        creator_id: int,
        phone_number: str | None = None,
        chat_id: int | None = None,
        list_id: int | None = None,
        targets: Iterable[str] = (),
        text: str | None = None,
        media_url: str | None = None,
        template_id: int | None = None,
        survey_id: int | None = None,
        local_id: str | None = None,
        private: bool | None = None,
        author: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> SentMessage:
        """Send an SMS/MMS, a list broadcast, a group MMS or a private note (§2.1).

        The arguments are those of :class:`SendMessage`. Retries never duplicate a send:
        every attempt carries the same ``local_id``; a broadcast relies on the server's
        dedupe, and a single send that fails ambiguously (5xx, timeout, reset) first looks
        its ``local_id`` up and returns the message found instead of sending again.

        Returns:
            The accepted message (``request_id`` is ``None`` when it came from a lookup).
            When the server accepts it (2xx) with an answer that cannot be read, the
            message is looked up by its ``local_id`` and returned from history.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
            APIError: the API refused the message.
            TransportError: no answer, and nothing could be confirmed.
            ReconciliationError: after an ambiguous failure, history could not tell whether
                it was sent (it was not sent again).
            UnexpectedResponseError: the server accepted it (2xx) but its answer could not
                be read nor the message found; it was sent (``local_id`` says which).
            ClientClosedError: the client was closed meanwhile; ``possibly_sent`` is
                ``True`` when an earlier attempt may have gone out (look it up first).
        """
        # Leaving local_id out lets the model generate it (or refuse, for a broadcast).
        extra: dict[str, Any] = {} if local_id is None else {"local_id": local_id}
        send = SendMessage(
            inbox_id=inbox_id,
            creator_id=creator_id,
            phone_number=phone_number,
            chat_id=chat_id,
            list_id=list_id,
            targets=targets,
            text=text,
            media_url=media_url,
            template_id=template_id,
            survey_id=survey_id,
            private=private,
            author=author,
            **extra,
        )
        # send_request's body, not a call to it: one coroutine fewer on every resume.
        request, since, reconcile = self._plan_send(send, timeout)
        response = await self._requester.request(request, timeout=timeout, reconcile=reconcile)
        try:
            return read_sent_message(response, send)
        except UnexpectedResponseError as exc:
            # A 2xx whose answer could not be read: accepted, so it must never be sent again.
            return await self._settle_accepted(send, exc, response, since=since, timeout=timeout)

    async def send_request(
        self, send: SendMessage, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> SentMessage:
        """Send a prebuilt :class:`SendMessage`, with the same guarantees as :meth:`send`.

        Raises:
            RequestValidationError: ``send`` is not a :class:`SendMessage`.
            APIError, TransportError, ReconciliationError, UnexpectedResponseError: as
                :meth:`send` says.
        """
        if not isinstance(send, SendMessage):
            raise RequestValidationError(
                "send", f"must be a SendMessage, got {type(send).__name__}"
            )
        request, since, reconcile = self._plan_send(send, timeout)
        response = await self._requester.request(request, timeout=timeout, reconcile=reconcile)
        try:
            return read_sent_message(response, send)
        except UnexpectedResponseError as exc:
            return await self._settle_accepted(send, exc, response, since=since, timeout=timeout)

    def _plan_send(
        self, send: SendMessage, timeout: Timeout
    ) -> tuple[ApiRequest, datetime, Reconcile[ApiResponse] | None]:
        """The request, the moment history lookups start from, and the lookup to run
        before any repeat (a broadcast relies on the server's dedupe instead)."""
        request = build_send_message(send)
        since = datetime.now(UTC)
        reconcile = (
            None if request.replay_safe else reconciler(self._requester, send, timeout, since=since)
        )
        return request, since, reconcile

    async def _settle_accepted(
        self,
        send: SendMessage,
        cause: UnexpectedResponseError,
        answer: ApiResponse,
        *,
        since: datetime,
        timeout: Timeout,
    ) -> SentMessage:
        """The message a 2xx with an unreadable answer created, looked up by ``local_id``.

        Raises:
            UnexpectedResponseError: the lookup did not find it; the message says it was
                accepted and carries its ``local_id``.
        """
        status, request_id = answer.status, answer.request_id
        try:
            found = await find_sent(
                self._requester, send, since=since, max_pages=_SETTLE_PAGES, timeout=timeout
            )
        except HeymarketError:
            found = None
        if found is not None:
            settled = SentMessage.from_message(found, request_id=request_id)
            return attrs.evolve(settled, id=sent_id(found, send))
        raise UnexpectedResponseError(
            f"the server accepted the message (HTTP {status}) but its answer could not be "
            f"read and history did not show it yet; it WAS sent, do not send it again "
            f"(local_id {send.local_id!r})",
            status=status,
            request_id=request_id,
            local_id=send.local_id,
        ) from cause

    async def history(
        self,
        *,
        phone_number: str,
        inbox_id: int,
        before: datetime | int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[Message]:
        """Up to 50 newest messages of one conversation, newest first (``GET /v1/messages``).

        Args:
            phone_number: the contact, E.164 digits without ``+``.
            inbox_id: the inbox.
            before: only older messages (an aware ``datetime`` or Unix seconds); page
                backwards by passing the oldest ``date`` you have.
        """
        query = HistoryQuery(phone_number=phone_number, inbox_id=inbox_id, before=before)
        response = await self._requester.request(build_message_history(query), timeout=timeout)
        return read_list(response, Message, wrappers=("messages",))

    def iter_all(
        self,
        *,
        before: datetime | None = None,
        limit: int | None = None,
        order: MessageOrder | None = None,
        ascending: bool = False,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Message, None]:
        """Every team message, newest first, fetched lazily page by page.

        Use as ``async for message in hm.messages.iter_all(): ...``. Pages follow the
        timestamp cursor, messages are de-duplicated by ``id``, and the walk always ends
        (see :func:`iter_all_messages` for the rules). With ``ascending=True`` the walk
        relies on the server reading the cursor as "on and after", which is unconfirmed.

        Args:
            before: start below this time (aware ``datetime``); default: the newest.
            limit: page size sent to the server.
            order: ``"created_at"`` (default) or ``"updated_at"``.
            ascending: ask for oldest first.
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        query = AllMessagesQuery(before=before, limit=limit, order=order, ascending=ascending)
        return iter_all_messages(self._requester, query, max_pages=max_pages, timeout=timeout)

    async def count(
        self,
        *,
        before: datetime | None = None,
        order: MessageOrder | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """How many messages the team has (``POST /v1/messages/all/count``).

        Args:
            before: count only messages before this time (aware ``datetime``).
            order: which timestamp ``before`` applies to.
        """
        query = AllMessagesQuery(before=before, order=order)
        response = await self._requester.request(build_count_messages(query), timeout=timeout)
        return read_count(response)
