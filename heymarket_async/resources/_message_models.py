"""The message models, request builders and answer readers (§2.1, §2.3) and the team-wide
history walk. Both the reconciler and the ``Messages`` service (:mod:`.messages`, which
re-exports these names) build on this module, so it imports neither.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any, Final, Literal

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse
from ..errors import RequestValidationError
from ._base import (
    Requester,
    ResponseList,
    ResponseModel,
    Timeout,
    is_usable_id,
    optional_str,
    plain_object,
    read_list,
    read_model,
)
from ._paging import walk_by_timestamp

__all__ = [
    "MessageOrder",
    "AllMessagesQuery",
    "Conversation",
    "ConversationMember",
    "HistoryQuery",
    "Message",
    "SendMessage",
    "SentMessage",
    "build_count_messages",
    "build_list_all_messages",
    "build_message_history",
    "build_send_message",
    "iter_all_messages",
    "read_sent_message",
]

MessageOrder = Literal["created_at", "updated_at"]
_ORDERS: Final = ("created_at", "updated_at")


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConversationMember:
    """A member of a conversation."""

    id: int
    name: str | None = None


@attrs.frozen(kw_only=True)
class Conversation:
    """A conversation (thread) as the API returns it (§2.3); ``id`` is what ``chat_id`` takes.

    Every field but ``id`` is optional: the API documents them but does not promise them.
    """

    id: int
    inbox: int | None = None
    target: str | None = None
    name: str | None = None
    channel: str | None = None
    status: str | None = None
    type: str | None = None
    assigned: int | None = None
    creator: int | None = None
    members: tuple[ConversationMember, ...] = ()
    local_id: str | None = None
    blocked: bool | None = None
    muted: bool | None = None
    replied: bool | None = None
    support: bool | None = None
    email_noti: bool | None = None
    read: int | None = None
    last_inbound: int | None = None
    noreply: str | None = None
    op: str | None = None
    super: int | None = None
    snooze_till: datetime | None = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class Message:
    """A message as history, team paging and webhooks return it (§2.1 "Message object").

    Every field but ``id`` is optional. ``date`` is when it was created, ``local_id`` the
    client id it was sent with, ``status`` the delivery status (e.g. ``"sent"``), ``custom``
    the ``{"data": [...], "type": ...}`` object as sent.
    """

    id: int
    text: str | None = None
    date: datetime | None = None
    updated: datetime | None = None
    local_id: str | None = None
    status: str | None = None
    type: str | None = None
    phone: str | None = None
    target: str | None = None
    media: str | None = None
    link_url: str | None = None
    author: str | None = None
    user: int | None = None
    broadcast_id: int | None = None
    flagged: bool | None = None
    support: bool | None = None
    super: int | None = None
    conversation: Conversation | None = None
    custom: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class SentMessage(ResponseModel):
    """The answer to a send: the message was accepted and queued, not yet delivered (§1.5).

    Attributes:
        id: the created message's id.
        date: when the server created it.
        gallery_url: set when media was attached.
        local_id: the ``local_id`` the request carried (every retry carries the same one).
        convo_id: the conversation, when the server says (some answers carry it).
        queued: whether it is queued for delivery, when the server says.
        compliance_results: as sent by the server (contents undocumented).
    """

    id: int
    date: datetime | None = None
    gallery_url: str | None = None
    local_id: str | None = None
    convo_id: int | None = None
    queued: bool | None = None
    compliance_results: dict[str, Any] | None = None

    @classmethod
    def from_message(cls, message: Message, *, request_id: str | None = None) -> SentMessage:
        """The send result for a message found by reconciliation (a history lookup)."""
        return cls(
            id=message.id,
            date=message.date,
            local_id=message.local_id,
            convo_id=message.conversation.id if message.conversation else None,
            request_id=request_id,
        )


def _sent_from_any_shape(data: dict[str, Any]) -> dict[str, Any]:
    # §2.1 / §7.6: the answer may be {id, date, gallery_url}, the email-like
    # {id, convo_id, queued, ...}, or a whole Message whose conversation holds the id.
    conversation = data.get("conversation")
    if "convo_id" not in data and isinstance(conversation, dict) and "id" in conversation:
        return {**data, "convo_id": conversation["id"]}
    return data


# Nested models first: a hook is generated with the hooks its fields have at that moment.
check.read_leniently(ConversationMember)
check.read_leniently(Conversation)
check.read_leniently(Message)
check.read_leniently(SentMessage, prepare=_sent_from_any_shape)


# --- Request models -------------------------------------------------------------------------


def _generated_local_id(send: SendMessage) -> str:
    if send.list_id is not None:
        raise RequestValidationError(
            "local_id",
            "a list broadcast needs a stable local_id that you choose and store with the job "
            "(e.g. local_id='april-2026-list-501'): the API requires it and deduplicates "
            "broadcasts by it, so a safe resend (even after a crash) must carry the same value",
        )
    return check.new_local_id()


@attrs.frozen(kw_only=True)
class SendMessage:
    """A validated ``POST /v1/message/send`` request (§2.1).

    Give exactly one target: ``phone_number``, ``chat_id``, ``list_id`` (with a ``local_id``
    you keep), or ``targets`` (2+ numbers, group MMS); and at least one of ``text``,
    ``template_id`` or ``media_url``. Phone numbers are E.164 digits without ``+``
    (see :func:`~heymarket_async.normalize_phone`). Without a ``local_id`` one is generated
    here, once, so every retry of this request carries the same one.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    inbox_id: int = attrs.field(validator=check.positive_int)
    creator_id: int = attrs.field(validator=check.positive_int)
    phone_number: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.phone)
    )
    chat_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    list_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    text: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    media_url: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.http_url)
    )
    template_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    survey_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    # §4: one local_id per logical send, generated before the retry loop (after list_id,
    # which decides whether generating one is allowed).
    local_id: str = attrs.field(
        default=attrs.Factory(_generated_local_id, takes_self=True), validator=check.local_id
    )
    private: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.boolean)
    )
    author: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )

    def __attrs_post_init__(self) -> None:
        # §2.1 rules: exactly one target family, and some content.
        check.check_exactly_one(
            (
                ("phone_number", self.phone_number),
                ("chat_id", self.chat_id),
                ("list_id", self.list_id),
                ("targets", self.targets),
            ),
            choices="target: phone_number, chat_id, list_id (with local_id) or targets (group MMS)",
        )
        if self.targets:
            check.check_group(self.targets, single="phone_number")
        if self.text is None and self.template_id is None and self.media_url is None:
            raise RequestValidationError(None, "give some content: text, template_id or media_url")

    @property
    def is_broadcast(self) -> bool:
        """Whether this sends to a list (server-side dedupe by ``local_id`` is documented)."""
        return self.list_id is not None


def _before_as_unix_seconds(value: datetime | int | None) -> int | None:
    # §1.1: this one endpoint takes a Unix timestamp integer, not RFC 3339.
    if isinstance(value, datetime):
        check.check_aware_datetime("before", value)
        # Rounded up: a message from the same second may repeat, none is skipped.
        return math.ceil(value.timestamp())
    return value


@attrs.frozen(kw_only=True)
class HistoryQuery:
    """A validated ``GET /v1/messages`` query: one conversation's newest messages (§2.1).

    ``before`` (an aware ``datetime`` or Unix seconds) returns only older messages.
    """

    phone_number: str = attrs.field(validator=check.phone)
    inbox_id: int = attrs.field(validator=check.positive_int)
    before: int | None = attrs.field(
        default=None,
        converter=_before_as_unix_seconds,
        validator=attrs.validators.optional(check.positive_int),
    )


@attrs.frozen(kw_only=True)
class AllMessagesQuery:
    """A validated ``POST /v1/messages/all`` (and ``/count``) body (§2.1, §3).

    Attributes:
        before: the timestamp cursor; sent as both ``date`` and ``created_at``.
        limit: page size (the server's default is 30; its maximum is undocumented).
        order: ``"created_at"`` or ``"updated_at"``.
        ascending: oldest first (the server's default is newest first).
    """

    before: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.aware_datetime)
    )
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    order: MessageOrder | None = attrs.field(default=None)
    ascending: bool = attrs.field(default=False, validator=check.boolean)

    @order.validator
    def _check_order(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and value not in _ORDERS:
            raise RequestValidationError(
                attribute.name, f"must be 'created_at' or 'updated_at', got {check.show(value)}"
            )


# --- Wire mapping -----------------------------------------------------------------------------

# A caller-given local_id must be sent even though its default is a factory.
converter.register_unstructure_hook(
    SendMessage,
    make_dict_unstructure_fn(
        SendMessage,
        converter,
        _cattrs_omit_if_default=True,
        local_id=override(omit_if_default=False),
    ),
)
converter.register_unstructure_hook(
    HistoryQuery,
    make_dict_unstructure_fn(
        HistoryQuery,
        converter,
        _cattrs_omit_if_default=True,
        phone_number=override(rename="phoneNumber"),
        inbox_id=override(rename="inboxID"),
        before=override(rename="timestamp"),
    ),
)
_unstructure_all_query = make_dict_unstructure_fn(
    AllMessagesQuery, converter, _cattrs_omit_if_default=True, before=override(rename="date")
)


def _all_query_body(query: AllMessagesQuery) -> dict[str, Any]:
    body = _unstructure_all_query(query)
    # §3: the generated schema names the cursor `date`, the prose `created_at`; a server
    # ignores the key it does not know, so sending both works with either reading.
    if "date" in body:
        body["created_at"] = body["date"]
    return body


converter.register_unstructure_hook(AllMessagesQuery, _all_query_body)


# --- Builders (pure) --------------------------------------------------------------------------


def build_send_message(send: SendMessage) -> ApiRequest:
    """``POST /v1/message/send``.

    Only a list broadcast is replay-safe: §4 documents server dedupe by ``local_id`` for
    broadcasts, not for single sends, which reconcile before any resend instead.
    """
    return ApiRequest(
        method="POST",
        path="/v1/message/send",
        json=unstructure(send),
        idempotency_key=send.local_id,
        replay_safe=send.is_broadcast,
    )


def build_message_history(query: HistoryQuery) -> ApiRequest:
    """``GET /v1/messages?phoneNumber=&inboxID=[&timestamp=]``."""
    params = {name: str(value) for name, value in unstructure(query).items()}
    return ApiRequest(method="GET", path="/v1/messages", query=params)


def build_list_all_messages(query: AllMessagesQuery) -> ApiRequest:
    """``POST /v1/messages/all``: a read, so it is safe to repeat."""
    return ApiRequest(
        method="POST", path="/v1/messages/all", json=unstructure(query), replay_safe=True
    )


def build_count_messages(query: AllMessagesQuery) -> ApiRequest:
    """``POST /v1/messages/all/count``: a read, so it is safe to repeat."""
    return ApiRequest(
        method="POST", path="/v1/messages/all/count", json=unstructure(query), replay_safe=True
    )


# --- Reading answers (pure) -----------------------------------------------------------------


def read_sent_message(response: ApiResponse, send: SendMessage) -> SentMessage:
    """A :class:`SentMessage` from any documented answer shape, with our ``local_id``.

    Raises:
        UnexpectedResponseError: the answer cannot be read; the message WAS accepted, and
            the error carries its ``local_id`` for a lookup.
    """
    data = plain_object(response, "message")
    if data is not None:
        sent = _read_plain_sent_message(data, response.request_id, send.local_id)
        if sent is not None:
            return sent
    return read_model(
        response,
        SentMessage,
        wrapper="message",
        local_id=send.local_id,
        missing={"local_id": send.local_id},
    )


_read_optional_time: Final = converter.get_structure_hook(datetime | None)


def _read_plain_sent_message(
    data: dict[str, Any], request_id: str | None, local_id: str
) -> SentMessage | None:
    """The common answer (``{id, date, ...}`` with plain values) read without cattrs; the
    result equals the full reader's. ``None`` for anything else, which the full reader then
    reads or refuses (a conversation to take the ``convo_id`` from, compliance results,
    quoted ids, values of another type, a time that does not parse)."""
    id_ = data.get("id")
    convo_id = data.get("convo_id")
    gallery_url = data.get("gallery_url")
    own_local_id = data.get("local_id")
    queued = data.get("queued")
    date = data.get("date")
    if (
        not is_usable_id(id_)
        or not (convo_id is None or is_usable_id(convo_id))
        or not optional_str(gallery_url)
        or not optional_str(own_local_id)
        or not (queued is None or type(queued) is bool)
        or not (date is None or type(date) is str)
        or data.get("conversation") is not None
        or data.get("compliance_results") is not None
    ):
        return None
    if date is not None:
        try:
            date = _read_optional_time(date, datetime)
        except (ValueError, OverflowError, OSError):
            return None
    return SentMessage(
        id=id_,  # type: ignore[arg-type]
        date=date,
        gallery_url=gallery_url,
        local_id=local_id if own_local_id is None else own_local_id,
        convo_id=convo_id,
        queued=queued,
        request_id=request_id,
    )


# --- Team-wide paging ----------------------------------------------------------------------


def iter_all_messages(
    requester: Requester,
    query: AllMessagesQuery,
    *,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Message, None]:
    """Walk ``POST /v1/messages/all`` page by page with the timestamp cursor (§3).

    Each page's furthest timestamp (``date``, or ``updated`` for ``order="updated_at"``)
    becomes the next cursor; the de-duplication and stop rules are those of
    :func:`~heymarket_async.resources._paging.walk_by_timestamp`: messages come once each,
    and the walk always ends.

    Raises:
        RequestValidationError: ``max_pages`` is not a positive integer.
    """

    async def fetch(cursor: datetime | None) -> ResponseList[Message]:
        request = build_list_all_messages(attrs.evolve(query, before=cursor))
        response = await requester.request(request, timeout=timeout)
        return read_list(response, Message, wrappers=("messages",))

    def timestamp(message: Message) -> datetime | None:
        return message.updated if query.order == "updated_at" else message.date

    return walk_by_timestamp(
        fetch,
        timestamp=timestamp,
        start=query.before,
        ascending=query.ascending,
        max_pages=max_pages,
    )
