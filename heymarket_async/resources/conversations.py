"""Conversations: page, count, fetch, open/close, mark read/unread, reassign, transfer.

Contract: heymarket-api.md §2.3 (endpoints; the Conversation object lives in
:mod:`.messages`, which embeds it) and §3 (the ``date`` cursor, counts as JSON strings).
The action endpoints answer with a bare string (``"ok"``, ``"Marked as Read"``); each is
read into an :class:`Acknowledgement`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
from ._base import Requester, Resource, ResponseList, ResponseModel, Timeout, read_list, read_model
from ._paging import DateCursor, read_count, walk_by_timestamp
from .messages import Conversation

__all__ = [
    "Acknowledgement",
    "ChangeConversationState",
    "Conversation",
    "Conversations",
    "ConversationsQuery",
    "MarkConversation",
    "ReassignConversation",
    "TransferConversation",
    "build_change_conversation_state",
    "build_count_conversations",
    "build_get_conversation",
    "build_list_conversations",
    "build_mark_conversation",
    "build_reassign_conversation",
    "build_transfer_conversation",
    "iter_all_conversations",
    "read_acknowledgement",
]

StateAction = Literal["open", "close"]
ReadAction = Literal["read", "unread"]
_STATE_ACTIONS: Final = ("open", "close")
_READ_ACTIONS: Final = ("read", "unread")


# --- Request models -------------------------------------------------------------------------


def _inboxes(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check.positive_int_tuple(_inst, attribute, value)
    assert isinstance(value, tuple)
    if not value:
        raise RequestValidationError(attribute.name, "give at least one inbox id")


def _optional_bool(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check.boolean(_inst, attribute, value)


@attrs.frozen(kw_only=True)
class ConversationsQuery:
    """A validated ``POST /v1/conversations`` body (§2.3, §3).

    Attributes:
        user_id: a user who is a member of ``inboxes``; results are scoped to them (the
            wire name is ``id``).
        inboxes: the inboxes to list (``filters.inboxes``).
        closed: only closed (``True``) or open (``False``) conversations; ``None``: both.
        unread: only unread (``True``) or read (``False``) ones; ``None``: both.
        before: the cursor: only conversations updated before it (wire name ``date``).
        limit: page size (the server's default and maximum are undocumented).
    """

    user_id: int = attrs.field(validator=check.positive_int)
    inboxes: tuple[int, ...] = attrs.field(converter=check.int_tuple, validator=_inboxes)
    closed: bool | None = attrs.field(default=None, validator=_optional_bool)
    unread: bool | None = attrs.field(default=None, validator=_optional_bool)
    before: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.aware_datetime)
    )
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )


def _check_one_target(*, target: str | None, targets: tuple[str, ...]) -> None:
    check.check_exactly_one(
        (("target", target), ("targets", targets)), choices="of target or targets"
    )
    if targets:
        check.check_group(targets, single="target")


@attrs.frozen(kw_only=True)
class ChangeConversationState:
    """A validated ``POST /v1/conversations/open`` or ``/close`` body (§2.3).

    Name the conversation by ``chat_id``, by ``target`` (a phone number, E.164 digits
    without ``+``) or ``targets`` (a group's numbers), or by ``chat_id`` together with one of
    those (as the API reference's own example does). ``target`` and ``targets`` exclude each
    other. ``user_id`` is recorded as the member who did it.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    inbox_id: int = attrs.field(validator=check.positive_int)
    user_id: int = attrs.field(validator=check.positive_int)
    chat_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    target: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )

    def __attrs_post_init__(self) -> None:
        # §2.3: chat_id is "required if no target" and target "required if no chat_id", so
        # both may come together; target and targets are two ways to say the same thing.
        if self.chat_id is None and self.target is None and not self.targets:
            raise RequestValidationError(None, "give chat_id, target or targets; got none")
        if self.target is not None or self.targets:
            _check_one_target(target=self.target, targets=self.targets)


@attrs.frozen(kw_only=True)
class MarkConversation:
    """A validated ``POST /v1/conversations/read`` or ``/unread`` body (§2.3).

    Name the conversation by exactly one of ``target`` or ``targets`` in ``inbox_id``.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    inbox_id: int = attrs.field(validator=check.positive_int)
    user_id: int = attrs.field(validator=check.positive_int)
    target: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )

    def __attrs_post_init__(self) -> None:
        _check_one_target(target=self.target, targets=self.targets)


@attrs.frozen(kw_only=True)
class ReassignConversation:
    """A validated ``POST /v1/conversations/reassign`` body (§2.3).

    Moves ownership within ``inbox_id`` from ``user_id`` (the current owner) to
    ``reassign_id``; name the conversation by exactly one of ``target`` or ``targets``.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    inbox_id: int = attrs.field(validator=check.positive_int)
    user_id: int = attrs.field(validator=check.positive_int)
    reassign_id: int = attrs.field(validator=check.positive_int)
    target: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )

    def __attrs_post_init__(self) -> None:
        _check_one_target(target=self.target, targets=self.targets)


@attrs.frozen(kw_only=True)
class TransferConversation:
    """A validated ``POST /v1/conversations/transfer`` body (§2.3).

    Only SMS conversations can move, and not into an inbox that already has this
    conversation; the server enforces both.
    """

    conversation_id: int = attrs.field(validator=check.positive_int)
    transfer_inbox_id: int = attrs.field(validator=check.positive_int)


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Acknowledgement(ResponseModel):
    """A conversation action the server accepted.

    Attributes:
        message: the server's answer text (``"ok"``, ``"Marked as Read"``), or ``None``
            when it sent an empty body or an object without one.
        request_id: the ``X-Request-Id`` to quote to support.
    """

    message: str | None = None


check.read_leniently(Acknowledgement)


# --- Wire mapping -----------------------------------------------------------------------------


def _query_body(query: ConversationsQuery) -> dict[str, Any]:
    # §2.3: the documented body nests the filters and names the user `id`.
    filters: dict[str, Any] = {"inboxes": list(query.inboxes)}
    if query.closed is not None:
        filters["closed"] = query.closed
    if query.unread is not None:
        filters["unread"] = query.unread
    body: dict[str, Any] = {"id": query.user_id, "filters": filters}
    if query.before is not None:
        body["date"] = converter.unstructure(query.before)
    if query.limit is not None:
        body["limit"] = query.limit
    return body


converter.register_unstructure_hook(ConversationsQuery, _query_body)


# --- Builders (pure) --------------------------------------------------------------------------


def build_list_conversations(query: ConversationsQuery) -> ApiRequest:
    """``POST /v1/conversations``: a read, so it is safe to repeat."""
    return ApiRequest(
        method="POST", path="/v1/conversations", json=unstructure(query), replay_safe=True
    )


def build_count_conversations(before: datetime | None = None) -> ApiRequest:
    """``POST /v1/conversations/count``: a read, so it is safe to repeat.

    Raises:
        RequestValidationError: ``before`` is not a timezone-aware ``datetime``.
    """
    body = unstructure(DateCursor(before=before))
    return ApiRequest(method="POST", path="/v1/conversations/count", json=body, replay_safe=True)


def build_get_conversation(conversation_id: int) -> ApiRequest:
    """``GET /v1/conversations/{id}``."""
    check.check_positive_int("conversation_id", conversation_id)
    return ApiRequest(method="GET", path=path("/v1/conversations/{}", conversation_id))


def build_change_conversation_state(
    action: StateAction, change: ChangeConversationState
) -> ApiRequest:
    """``POST /v1/conversations/open`` or ``/close``.

    Replay-safe: it sets an absolute state, so a repeat has the effect of one call.

    Raises:
        RequestValidationError: ``action`` is not ``"open"`` or ``"close"``.
    """
    if action not in _STATE_ACTIONS:
        raise RequestValidationError(
            "action", f"must be 'open' or 'close', got {check.show(action)}"
        )
    return ApiRequest(
        method="POST",
        path=path("/v1/conversations/{}", action),
        json=unstructure(change),
        replay_safe=True,
    )


def build_mark_conversation(action: ReadAction, mark: MarkConversation) -> ApiRequest:
    """``POST /v1/conversations/read`` or ``/unread``; replay-safe (an absolute state).

    Raises:
        RequestValidationError: ``action`` is not ``"read"`` or ``"unread"``.
    """
    if action not in _READ_ACTIONS:
        raise RequestValidationError(
            "action", f"must be 'read' or 'unread', got {check.show(action)}"
        )
    return ApiRequest(
        method="POST",
        path=path("/v1/conversations/{}", action),
        json=unstructure(mark),
        replay_safe=True,
    )


def build_reassign_conversation(reassign: ReassignConversation) -> ApiRequest:
    """``POST /v1/conversations/reassign``.

    Not replay-safe: after a first attempt that took effect, ``user_id`` is no longer the
    owner, so a repeat would fail and hide the success. An ambiguous failure is reported;
    :meth:`Conversations.get` shows the current owner.
    """
    return ApiRequest(method="POST", path="/v1/conversations/reassign", json=unstructure(reassign))


def build_transfer_conversation(transfer: TransferConversation) -> ApiRequest:
    """``POST /v1/conversations/transfer``.

    Not replay-safe: §2.3 forbids moving a conversation into an inbox that already has it,
    so a repeat after a first attempt that took effect would fail and hide the success.
    """
    return ApiRequest(method="POST", path="/v1/conversations/transfer", json=unstructure(transfer))


# --- Reading answers (pure) -----------------------------------------------------------------


def read_acknowledgement(response: ApiResponse) -> Acknowledgement:
    """An :class:`Acknowledgement` from a bare string (§1.1), an empty body or an object."""
    data = response.data
    if isinstance(data, str):
        data = {"message": data}
    elif isinstance(data, dict):
        texts = [data[key] for key in ("message", "status") if isinstance(data.get(key), str)]
        data = {"message": texts[0]} if texts else {}
    else:
        data = {}
    return read_model(attrs.evolve(response, data=data), Acknowledgement)


def iter_all_conversations(
    requester: Requester,
    query: ConversationsQuery,
    *,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Conversation, None]:
    """Walk ``POST /v1/conversations`` with the ``date`` cursor, newest ``updated`` first.

    The cursor is the last conversation's ``updated``; conversations come once each and the
    walk always ends (the rules of
    :func:`~heymarket_async.resources._paging.walk_by_timestamp`).

    Raises:
        RequestValidationError: ``max_pages`` is not a positive integer.
    """

    async def fetch(cursor: datetime | None) -> ResponseList[Conversation]:
        request = build_list_conversations(attrs.evolve(query, before=cursor))
        response = await requester.request(request, timeout=timeout)
        return read_list(response, Conversation, wrappers=("conversations",))

    return walk_by_timestamp(
        fetch,
        timestamp=lambda conversation: conversation.updated,
        start=query.before,
        max_pages=max_pages,
    )


# --- Service ----------------------------------------------------------------------------------


class Conversations(Resource):
    """Conversations (threads): list, count, fetch and act on them.

    Every action answers with an :class:`Acknowledgement` carrying the server's text and
    its request id. ``open``, ``close``, ``read`` and ``unread`` set an absolute state and
    are retried after ambiguous failures; ``reassign`` and ``transfer`` are not (a repeat
    of one that took effect fails).
    """

    def iter_all(
        self,
        *,
        user_id: int,
        inboxes: Iterable[int],
        closed: bool | None = None,
        unread: bool | None = None,
        before: datetime | None = None,
        limit: int | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Conversation, None]:
        """Every matching conversation, most recently updated first, fetched lazily.

        Use as ``async for conversation in hm.conversations.iter_all(...)``.

        Args:
            user_id: a member of ``inboxes``; results are scoped to them.
            inboxes: the inbox ids to list.
            closed: ``True`` only closed, ``False`` only open, ``None`` both.
            unread: ``True`` only unread, ``False`` only read, ``None`` both.
            before: start below this time (aware ``datetime``); default: the newest.
            limit: page size sent to the server.
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        query = ConversationsQuery(
            user_id=user_id,
            inboxes=inboxes,
            closed=closed,
            unread=unread,
            before=before,
            limit=limit,
        )
        return iter_all_conversations(self._requester, query, max_pages=max_pages, timeout=timeout)

    async def count(
        self, *, before: datetime | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> int:
        """How many conversations the team has (``POST /v1/conversations/count``).

        Args:
            before: count only conversations updated before this time (aware ``datetime``).
        """
        request = build_count_conversations(before)
        return read_count(await self._requester.request(request, timeout=timeout))

    async def get(
        self, conversation_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Conversation:
        """One conversation; its ``id`` is what ``chat_id`` takes."""
        request = build_get_conversation(conversation_id)
        response = await self._requester.request(request, timeout=timeout)
        return read_model(response, Conversation, wrapper="conversation")

    async def open(
        self,
        *,
        inbox_id: int,
        user_id: int,
        chat_id: int | None = None,
        target: str | None = None,
        targets: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Re-open a conversation.

        Args:
            inbox_id: the conversation's inbox.
            user_id: the member recorded as doing it.
            chat_id, target, targets: the conversation id, the contact's number, or a
                group's numbers (E.164 digits without ``+``); ``chat_id`` may come with
                ``target`` or ``targets``, which exclude each other.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        change = ChangeConversationState(
            inbox_id=inbox_id, user_id=user_id, chat_id=chat_id, target=target, targets=targets
        )
        return await self._acknowledged(build_change_conversation_state("open", change), timeout)

    async def close(
        self,
        *,
        inbox_id: int,
        user_id: int,
        chat_id: int | None = None,
        target: str | None = None,
        targets: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Close (archive) a conversation; the arguments are those of :meth:`open`."""
        change = ChangeConversationState(
            inbox_id=inbox_id, user_id=user_id, chat_id=chat_id, target=target, targets=targets
        )
        return await self._acknowledged(build_change_conversation_state("close", change), timeout)

    async def read(
        self,
        *,
        inbox_id: int,
        user_id: int,
        target: str | None = None,
        targets: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Mark a conversation read.

        Args:
            inbox_id: the conversation's inbox.
            user_id: the member it is read for.
            target, targets: exactly one: the contact's number or a group's numbers.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        mark = MarkConversation(inbox_id=inbox_id, user_id=user_id, target=target, targets=targets)
        return await self._acknowledged(build_mark_conversation("read", mark), timeout)

    async def unread(
        self,
        *,
        inbox_id: int,
        user_id: int,
        target: str | None = None,
        targets: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Mark a conversation unread; the arguments are those of :meth:`read`."""
        mark = MarkConversation(inbox_id=inbox_id, user_id=user_id, target=target, targets=targets)
        return await self._acknowledged(build_mark_conversation("unread", mark), timeout)

    async def reassign(
        self,
        *,
        inbox_id: int,
        user_id: int,
        reassign_id: int,
        target: str | None = None,
        targets: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Give a conversation to another member of the same inbox.

        Not resent after an ambiguous failure (a repeat would fail once the first took
        effect); check the owner with :meth:`get`.

        Args:
            inbox_id: the conversation's inbox.
            user_id: the current owner.
            reassign_id: the new owner.
            target, targets: exactly one: the contact's number or a group's numbers.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        reassign = ReassignConversation(
            inbox_id=inbox_id,
            user_id=user_id,
            reassign_id=reassign_id,
            target=target,
            targets=targets,
        )
        return await self._acknowledged(build_reassign_conversation(reassign), timeout)

    async def transfer(
        self,
        conversation_id: int,
        *,
        transfer_inbox_id: int,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Acknowledgement:
        """Move an SMS conversation to another inbox (not resent after ambiguous failures).

        Args:
            conversation_id: the conversation.
            transfer_inbox_id: the inbox to move it to; it must not already hold it.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        transfer = TransferConversation(
            conversation_id=conversation_id, transfer_inbox_id=transfer_inbox_id
        )
        return await self._acknowledged(build_transfer_conversation(transfer), timeout)

    async def _acknowledged(self, request: ApiRequest, timeout: Timeout) -> Acknowledgement:
        return read_acknowledgement(await self._requester.request(request, timeout=timeout))
