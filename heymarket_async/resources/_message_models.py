"""The message models, request builders and answer readers (§2.1, §2.3) and the team-wide
history walk. Both the reconciler and the ``Messages`` service (:mod:`.messages`, which
re-exports these names) build on this module, so it imports neither.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from types import NoneType
from typing import Any, Final, Literal

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, slot_setters
from ..errors import RequestValidationError
from ._base import (
    Requester,
    ResponseList,
    ResponseModel,
    Timeout,
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


def _broadcast_without_local_id() -> RequestValidationError:
    return RequestValidationError(
        "local_id",
        "a list broadcast needs a stable local_id that you choose and store with the job "
        "(e.g. local_id='april-2026-list-501'): the API requires it and deduplicates "
        "broadcasts by it, so a safe resend (even after a crash) must carry the same value",
    )


def _generated_local_id(send: SendMessage) -> str:
    # The declared default of SendMessage.local_id; its __init__ applies the same rule inline.
    if send.list_id is not None:
        raise _broadcast_without_local_id()
    return check.new_local_id()


# What SendMessage.__init__ uses to accept the common values without a call per field.
_validators_disabled: Final = attrs.validators.get_disabled
_MAX_ID: Final = check.MAX_ID

_is_phone_digits: Final = check.is_phone_digits

_is_local_id: Final = check.LOCAL_ID_RE.fullmatch
_BOOL_OR_NONE: Final = frozenset({bool, NoneType})  # bool has no subclasses


def _is_sendable_text(value: object) -> bool:
    """A plain ``str`` that ``check.non_empty_text`` accepts (``False`` may still be valid)."""
    return (
        type(value) is str
        and (value.isascii() or not check.has_lone_surrogate(value))
        and bool(value.strip())
    )


def _are_phones(numbers: tuple[object, ...]) -> bool:
    """Plain ``str`` numbers that ``check.phone`` accepts (``False`` may still be valid)."""
    return all(type(number) is str and _is_phone_digits(number) for number in numbers)


@attrs.frozen(kw_only=True, init=False)
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

    # The validators declared here define what is valid; __init__ runs them, in this order,
    # for every value its fast tests do not accept outright.
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

    # Written out rather than generated by attrs: the same steps in the same order
    # (converter, local_id default, field validators, then the rules across fields), with
    # the common values accepted inline instead of through one validator call per field.
    def __init__(
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
        local_id: str = attrs.NOTHING,  # type: ignore[assignment]
        private: bool | None = None,
        author: str | None = None,
    ) -> None:
        if type(targets) is not tuple:
            targets = check.str_tuple(targets)
        generated = local_id is attrs.NOTHING  # type: ignore[comparison-overlap]
        if generated:
            if list_id is not None:
                raise _broadcast_without_local_id()
            local_id = check.new_local_id()
        if not _validators_disabled():
            if not (type(inbox_id) is int and 0 < inbox_id <= _MAX_ID):
                _validate(self, "inbox_id", inbox_id)
            if not (type(creator_id) is int and 0 < creator_id <= _MAX_ID):
                _validate(self, "creator_id", creator_id)
            if phone_number is not None and not (
                type(phone_number) is str and _is_phone_digits(phone_number)
            ):
                _validate(self, "phone_number", phone_number)
            if chat_id is not None and not (type(chat_id) is int and 0 < chat_id <= _MAX_ID):
                _validate(self, "chat_id", chat_id)
            if list_id is not None and not (type(list_id) is int and 0 < list_id <= _MAX_ID):
                _validate(self, "list_id", list_id)
            if type(targets) is not tuple or (targets and not _are_phones(targets)):
                _validate(self, "targets", targets)
            if text is not None and not _is_sendable_text(text):
                _validate(self, "text", text)
            if media_url is not None:
                _validate(self, "media_url", media_url)
            if template_id is not None and not (
                type(template_id) is int and 0 < template_id <= _MAX_ID
            ):
                _validate(self, "template_id", template_id)
            if survey_id is not None and not (type(survey_id) is int and 0 < survey_id <= _MAX_ID):
                _validate(self, "survey_id", survey_id)
            # A generated local_id is valid by construction.
            if not generated and not (
                type(local_id) is str and local_id.isascii() and _is_local_id(local_id) is not None
            ):
                _validate(self, "local_id", local_id)
            if type(private) not in _BOOL_OR_NONE:
                _validate(self, "private", private)
            if author is not None and not _is_sendable_text(author):
                _validate(self, "author", author)
        _set_inbox_id(self, inbox_id)
        _set_creator_id(self, creator_id)
        _set_phone_number(self, phone_number)
        _set_chat_id(self, chat_id)
        _set_list_id(self, list_id)
        _set_targets(self, targets)
        _set_text(self, text)
        _set_media_url(self, media_url)
        _set_template_id(self, template_id)
        _set_survey_id(self, survey_id)
        _set_local_id(self, local_id)
        _set_private(self, private)
        _set_author(self, author)
        self.__attrs_post_init__()

    def __attrs_post_init__(self) -> None:
        # §2.1 rules: exactly one target family, and some content. The targets are counted
        # as check_exactly_one counts them (it words the error), whatever the values' types.
        phone_number: object = self.phone_number
        chat_id: object = self.chat_id
        list_id: object = self.list_id
        targets: object = self.targets
        given = 0
        if phone_number is not None and phone_number != ():
            given += 1
        if chat_id is not None and chat_id != ():
            given += 1
        if list_id is not None and list_id != ():
            given += 1
        if targets is not None and targets != ():
            given += 1
        if given != 1:
            check.check_exactly_one(
                (
                    ("phone_number", phone_number),
                    ("chat_id", chat_id),
                    ("list_id", list_id),
                    ("targets", targets),
                ),
                choices="target: phone_number, chat_id, list_id (with local_id) "
                "or targets (group MMS)",
            )
        if self.targets:
            check.check_group(self.targets, single="phone_number")
        if self.text is None and self.template_id is None and self.media_url is None:
            raise RequestValidationError(None, "give some content: text, template_id or media_url")

    @property
    def is_broadcast(self) -> bool:
        """Whether this sends to a list (server-side dedupe by ``local_id`` is documented)."""
        return self.list_id is not None


_SEND_FIELDS: Final = {field.name: field for field in attrs.fields(SendMessage)}


# A frozen model's fields cannot be assigned; __init__ sets each through its slot's setter.
(
    _set_inbox_id,
    _set_creator_id,
    _set_phone_number,
    _set_chat_id,
    _set_list_id,
    _set_targets,
    _set_text,
    _set_media_url,
    _set_template_id,
    _set_survey_id,
    _set_local_id,
    _set_private,
    _set_author,
) = slot_setters(
    SendMessage,
    "inbox_id",
    "creator_id",
    "phone_number",
    "chat_id",
    "list_id",
    "targets",
    "text",
    "media_url",
    "template_id",
    "survey_id",
    "local_id",
    "private",
    "author",
)


def _validate(send: SendMessage, name: str, value: object) -> None:
    """Run the validator ``SendMessage`` declares for field ``name``: it raises its error."""
    field = _SEND_FIELDS[name]
    assert field.validator is not None
    field.validator(send, field, value)


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

_new: Final = object.__new__  # with slot_setters: the hot builders and readers fill models


def _send_body(send: SendMessage) -> dict[str, Any]:
    """The JSON body of a send, written out because every send builds one: the dict cattrs
    would generate (same keys in the same order, unset fields omitted, ``local_id`` always
    sent: a caller-given one must be sent even though its default is a factory)."""
    body: dict[str, Any] = {
        "inbox_id": send.inbox_id,
        "creator_id": send.creator_id,
        "local_id": send.local_id,
    }
    if send.phone_number is not None:
        body["phone_number"] = send.phone_number
    if send.chat_id is not None:
        body["chat_id"] = send.chat_id
    if send.list_id is not None:
        body["list_id"] = send.list_id
    if send.targets != ():
        body["targets"] = list(send.targets)
    if send.text is not None:
        body["text"] = send.text
    if send.media_url is not None:
        body["media_url"] = send.media_url
    if send.template_id is not None:
        body["template_id"] = send.template_id
    if send.survey_id is not None:
        body["survey_id"] = send.survey_id
    if send.private is not None:
        body["private"] = send.private
    if send.author is not None:
        body["author"] = send.author
    return body


converter.register_unstructure_hook(SendMessage, _send_body)
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
    # ApiRequest(method="POST", path=..., json=..., ...) at half the cost: every send builds one.
    request = _new(ApiRequest)
    _SET_REQUEST_METHOD(request, "POST")
    _SET_REQUEST_PATH(request, "/v1/message/send")
    _SET_REQUEST_QUERY(request, None)
    _SET_REQUEST_JSON(request, _send_body(send))
    _SET_REQUEST_IDEMPOTENCY_KEY(request, send.local_id)
    _SET_REQUEST_REPLAY_SAFE(request, send.list_id is not None)  # send.is_broadcast
    return request


(
    _SET_REQUEST_METHOD,
    _SET_REQUEST_PATH,
    _SET_REQUEST_QUERY,
    _SET_REQUEST_JSON,
    _SET_REQUEST_IDEMPOTENCY_KEY,
    _SET_REQUEST_REPLAY_SAFE,
) = slot_setters(ApiRequest, "method", "path", "query", "json", "idempotency_key", "replay_safe")


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
    # is_usable_id and optional_str, inlined: every send reads one of these.
    if not (
        type(id_) is int
        and 1 <= id_ <= _MAX_ID
        and (convo_id is None or (type(convo_id) is int and 1 <= convo_id <= _MAX_ID))
        and (gallery_url is None or type(gallery_url) is str)
        and (own_local_id is None or type(own_local_id) is str)
        and (queued is None or type(queued) is bool)
        and (date is None or type(date) is str)
        and data.get("conversation") is None
        and data.get("compliance_results") is None
    ):
        return None
    if date is not None:
        parsed = None
        try:  # noqa: SIM105 - contextlib.suppress costs more than the parse
            parsed = datetime.fromisoformat(date)
        except ValueError:
            pass
        if parsed is not None and parsed.tzinfo is not None:
            date = parsed  # RFC 3339 with an offset: what the full reader makes of it
        else:
            try:
                date = _read_optional_time(date, datetime)
            except (ValueError, OverflowError, OSError):
                return None
    sent = _new(SentMessage)  # SentMessage(id=id_, ...) at half the cost
    _SET_SENT_ID(sent, id_)
    _SET_SENT_DATE(sent, date)
    _SET_SENT_GALLERY_URL(sent, gallery_url)
    _SET_SENT_LOCAL_ID(sent, local_id if own_local_id is None else own_local_id)
    _SET_SENT_CONVO_ID(sent, convo_id)
    _SET_SENT_QUEUED(sent, queued)
    _SET_SENT_COMPLIANCE_RESULTS(sent, None)
    _SET_SENT_REQUEST_ID(sent, request_id)
    return sent


(
    _SET_SENT_ID,
    _SET_SENT_DATE,
    _SET_SENT_GALLERY_URL,
    _SET_SENT_LOCAL_ID,
    _SET_SENT_CONVO_ID,
    _SET_SENT_QUEUED,
    _SET_SENT_COMPLIANCE_RESULTS,
    _SET_SENT_REQUEST_ID,
) = slot_setters(
    SentMessage,
    "id",
    "date",
    "gallery_url",
    "local_id",
    "convo_id",
    "queued",
    "compliance_results",
    "request_id",
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
