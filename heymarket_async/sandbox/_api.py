"""The emulated endpoints: one plain function per route, and the routing table.

A handler takes the :class:`~._state.SandboxState` and a :class:`Call` and returns the JSON
answer (status 200), or raises :class:`~._state.ApiFailure`. Handlers are synchronous: the
state is in memory, so a request commits atomically, which is what lets the server drop the
connection *after* the commit (``commit_then_drop``). To emulate another endpoint, write a
handler and add a :class:`Route` to :data:`ROUTES` (or pass ``extra_routes`` to the sandbox).

Conventions (where heymarket-api.md leaves a choice open):

* Validation failures answer 400 ``{"error_code": "bad_data", "message": "<field>: <why>"}``.
* An unknown id *in the body* (``inbox_id``, ``chat_id``, ``list_id``, contact ids ...) is bad
  data: 400. An unknown id *in the path* (``/v2/lists/{id}``, ``/v1/schedule/{id}``) is 404.
* Fields are validated first, then the ``local_id`` memory is consulted, then references are
  resolved: a retry of a request that already succeeded gets the original answer even if, say,
  its list was deleted since.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from ._api_base import (
    UUID_RE,
    Call,
    Handler,
    Route,
    body_object,
    check_email,
    check_member,
    check_phone,
    get_bool,
    get_emails,
    get_int,
    get_ints,
    get_list,
    get_local_id,
    get_phones,
    get_str,
    merge_text,
    one_target,
    path_id,
    refuse_opted_out,
    require_int,
    require_str,
    show,
    sms_inbox,
)
from ._api_contacts import CONTACT_ROUTES
from ._api_more import MORE_ROUTES
from ._compact import MemberIds
from ._state import (
    FIRST_IDS,
    ApiFailure,
    Conversation,
    LedgerKind,
    ListRecord,
    SandboxState,
    parse_rfc3339,
    rfc3339,
    to_us,
)

__all__ = ["ROUTES", "Call", "Handler", "Route"]

HISTORY_PAGE: Final = 50  # GET /v1/messages returns at most 50 (§2.1)
ALL_DEFAULT_LIMIT: Final = 30  # POST /v1/messages/all default page (§3)
ALL_MAX_LIMIT: Final = 200  # the real cap is unknown; larger limits are clamped, not refused
SCHEDULE_STEP_S: Final = 15 * 60  # execute_at: >= 15 minutes ahead, on :00/:15/:30/:45 (§2.6)
_SEND_TARGETS: Final = ("phone_number", "chat_id", "list_id", "targets")
_SCHEDULE_TARGETS: Final = ("phone_number", "conversation_id", "list_id", "targets")


# -- team and inboxes (§2.2) --------------------------------------------------------------


def get_team(state: SandboxState, call: Call) -> Any:
    return state.team


def list_inboxes(state: SandboxState, call: Call) -> Any:
    return list(state.inboxes.values())


# -- messages (§2.1) -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Send:
    """A validated ``POST /v1/message/send`` body."""

    inbox_id: int
    creator_id: int | None
    family: str
    phone: str | None = None
    chat_id: int | None = None
    list_id: int | None = None
    targets: tuple[str, ...] = ()
    text: str | None
    media_url: str | None
    local_id: str | None
    private: bool
    author: str | None


def _parse_send(body: Mapping[str, Any]) -> _Send:
    inbox_id = require_int(body, "inbox_id")
    creator_id = get_int(body, "creator_id")
    family = one_target(body, _SEND_TARGETS)
    text = get_str(body, "text")
    media_url = get_str(body, "media_url")
    template_id = get_int(body, "template_id")
    survey_id = get_int(body, "survey_id")
    if not (text or media_url or template_id is not None or survey_id is not None):
        raise ApiFailure.bad_data("text", "content required: give text, template_id or media_url")
    local_id = get_local_id(body)
    target: dict[str, Any] = {}
    if family == "phone_number":
        target["phone"] = check_phone("phone_number", body["phone_number"])
    elif family == "chat_id":
        target["chat_id"] = get_int(body, "chat_id")
    elif family == "list_id":
        target["list_id"] = get_int(body, "list_id")
        if local_id is None:
            raise ApiFailure.bad_data("local_id", "is required with list_id")
    else:
        targets = tuple(sorted(set(get_phones(body, "targets"))))
        if len(targets) < 2:
            raise ApiFailure.bad_data("targets", "a group MMS needs at least 2 distinct numbers")
        target["targets"] = targets
    return _Send(
        inbox_id=inbox_id,
        creator_id=creator_id,
        family=family,
        text=text,
        media_url=media_url,
        local_id=local_id,
        private=bool(get_bool(body, "private")),
        author=get_str(body, "author"),
        **target,
    )


def send_message(state: SandboxState, call: Call) -> Any:
    """``POST /v1/message/send``: one SMS/MMS, a group MMS, or a list broadcast."""
    send = _parse_send(body_object(call))
    # local_id dedupe (§4): always for list broadcasts, switchable for single sends.
    if send.local_id is not None and (send.list_id is not None or call.dedupe_individual_sends):
        original = state.sent_by_local_id.get(send.local_id)
        if original is not None:
            return original
    inbox = sms_inbox(state, "inbox_id", send.inbox_id)
    user = (
        check_member(state, "creator_id", send.creator_id, inbox)
        if send.creator_id is not None
        else inbox["members"][0]  # creator_id omitted: the API's effect is unknown (§2.1)
    )
    if send.list_id is not None:
        answer = _broadcast(state, call, send, user)
    else:
        answer = _send_one(state, call, send, user)
    if send.local_id is not None:
        state.sent_by_local_id.setdefault(send.local_id, answer)
    return answer


def _message_fields(send: _Send, user: int, now_us: int) -> dict[str, Any]:
    return {
        "now_us": now_us,
        "user": user,
        "kind": "private" if send.private else ("mms" if send.media_url else "sms"),
        "local_id": send.local_id,
        "media": send.media_url,
        "author": send.author,
        "private": send.private,
    }


def _send_one(state: SandboxState, call: Call, send: _Send, user: int) -> dict[str, Any]:
    now_us = call.now_us
    if send.chat_id is not None:
        conversation = _sms_conversation(state, send.chat_id, send.inbox_id)
        for phone in conversation.recipients:
            refuse_opted_out(state, send.family, phone)
    else:
        recipients = (send.phone,) if send.phone is not None else send.targets
        for phone in recipients:
            refuse_opted_out(state, send.family, phone)
        conversation = state.conversation_for(
            inbox_id=send.inbox_id,
            target=",".join(recipients),
            recipients=recipients,
            channel="sms",
            kind="individual" if len(recipients) == 1 else "group",
            now_us=now_us,
        )
    if send.private:
        kind = LedgerKind.PRIVATE_NOTE
    else:
        kind = LedgerKind.GROUP if conversation.type == "group" else LedgerKind.INDIVIDUAL
    contact = state.contacts_by_phone.get(conversation.recipients[0])
    message = state.add_message(
        conversation=conversation,
        text=merge_text(send.text, contact),
        **_message_fields(send, user, now_us),
    )
    state.ledger.record(
        kind=kind,
        message_id=message.id,
        inbox_id=send.inbox_id,
        recipients=conversation.recipients,
        local_id=send.local_id,
        at=call.now,
        request_id=call.request_id,
    )
    answer = {"id": message.id, "date": message.json["date"]}
    if send.media_url:
        answer["gallery_url"] = f"https://gallery.sandbox.invalid/{message.id}"
    return answer


def _sms_conversation(state: SandboxState, chat_id: int, inbox_id: int) -> Conversation:
    conversation = state.conversations.get(chat_id)
    if conversation is None or conversation.channel != "sms":
        raise ApiFailure.bad_data("chat_id", f"no SMS conversation {chat_id}")
    if conversation.inbox_id != inbox_id:
        raise ApiFailure.bad_data("chat_id", f"conversation {chat_id} is not in inbox {inbox_id}")
    return conversation


def _broadcast(state: SandboxState, call: Call, send: _Send, user: int) -> dict[str, Any]:
    """One one-to-one message per list member with a phone, sharing a broadcast id (§2.5)."""
    assert send.list_id is not None
    record = state.lists.get(send.list_id)
    if record is None:
        raise ApiFailure.bad_data("list_id", f"no list {send.list_id}")
    broadcast_id = state.new_id("message")
    now_us = call.now_us
    fields = _message_fields(send, user, now_us)
    state.broadcast(
        record=record,
        broadcast_id=broadcast_id,
        inbox_id=send.inbox_id,
        now_us=now_us,
        at=call.now,
        kind=LedgerKind.PRIVATE_NOTE if send.private else LedgerKind.LIST_BROADCAST,
        user=user,
        text=send.text,
        merge=merge_text,
        message_type=fields["kind"],
        local_id=send.local_id,
        media=send.media_url,
        author=send.author,
        private=send.private,
        request_id=call.request_id,
    )
    return {"id": broadcast_id, "date": rfc3339(now_us)}


def message_history(state: SandboxState, call: Call) -> Any:
    """``GET /v1/messages``: the <= 50 newest messages of one phone's thread, newest first."""
    phone = check_phone("phoneNumber", call.query.get("phoneNumber"))
    inbox_id: int | None = None
    raw_inbox = call.query.get("inboxID")
    if raw_inbox is not None:
        if not raw_inbox.isdigit() or int(raw_inbox) not in state.inboxes:
            raise ApiFailure.bad_data("inboxID", f"no inbox {show(raw_inbox)} in this team")
        inbox_id = int(raw_inbox)
    before: int | None = None
    raw_ts = call.query.get("timestamp")
    if raw_ts is not None:
        try:
            seconds = float(raw_ts)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise ApiFailure.bad_data("timestamp", "must be a Unix timestamp in seconds")
        before = to_us(seconds)
    return [
        m.json for m in state.thread_messages(phone, inbox_id, before=before, limit=HISTORY_PAGE)
    ]


def _page_bounds(state: SandboxState, body: Mapping[str, Any]) -> tuple[int, int, bool]:
    """(start, end) indexes into the team history selected by the cursor, and the direction."""
    ascending = bool(get_bool(body, "ascending"))
    order = get_str(body, "order")
    if order is not None and order not in {"created_at", "updated_at"}:
        raise ApiFailure.bad_data("order", "must be created_at or updated_at")
    name = "created_at" if body.get("created_at") is not None else "date"
    raw = get_str(body, name)
    created = state.message_created
    if raw is None:
        return 0, len(created), ascending
    cursor = parse_rfc3339(raw)
    if cursor is None:
        raise ApiFailure.bad_data(name, "must be an RFC 3339 date-time with an offset")
    # Descending pages walk back: strictly before the cursor. Ascending ones walk forward:
    # strictly after it. Message times never tie, so a cursor never skips or repeats one.
    if ascending:
        return bisect_right(created, cursor), len(created), True
    return 0, bisect_left(created, cursor), False


def all_messages(state: SandboxState, call: Call) -> Any:
    """``POST /v1/messages/all``: a page of the team's messages, newest first by default."""
    body = body_object(call)
    limit = get_int(body, "limit")
    if limit is None:
        limit = ALL_DEFAULT_LIMIT
    if limit < 1:
        raise ApiFailure.bad_data("limit", "must be at least 1")
    limit = min(limit, ALL_MAX_LIMIT)
    start, end, ascending = _page_bounds(state, body)
    if ascending:
        page = state.messages[start : min(end, start + limit)]
    else:
        page = state.messages[max(start, end - limit) : end][::-1]
    return [m.json for m in page]


def count_messages(state: SandboxState, call: Call) -> Any:
    """``POST /v1/messages/all/count``: the count as a JSON string (§3)."""
    start, end, _ = _page_bounds(state, body_object(call))
    return str(end - start)


# -- email (§2.1) ------------------------------------------------------------------------


def _email_targets(items: list[Any]) -> tuple[list[str], list[str]]:
    to: list[str] = []
    cc: list[str] = []
    for item in items:
        if not isinstance(item, str) or item[:3] not in {"to:", "cc:"}:
            raise ApiFailure.bad_data(
                "targets", f"each item starts with 'to:' or 'cc:', got {show(item)}"
            )
        bucket = to if item.startswith("to:") else cc
        bucket.extend(check_email("targets", part) for part in item[3:].split(",") if part.strip())
    if not to:
        raise ApiFailure.bad_data("targets", "name at least one 'to:' address")
    return to, cc


def send_email(state: SandboxState, call: Call) -> Any:
    body = body_object(call)
    creator_id = require_int(body, "creator_id")
    inbox_id = require_int(body, "inbox")
    text = require_str(body, "text")
    raw_text = get_str(body, "raw_text")
    local_id = get_local_id(body)
    title = get_str(body, "conv_title")
    family = one_target(body, ("targets", "convo_id"))
    convo_id = get_int(body, "convo_id")
    to: list[str] = []
    cc: list[str] = []
    if family == "targets":
        to, cc = _email_targets(get_list(body, "targets") or [])
    if local_id is not None and (original := state.email_by_local_id.get(local_id)) is not None:
        return original  # §4: "will not create a second message"

    inbox = state.inboxes.get(inbox_id)
    if inbox is None or inbox["channel"] != "email":
        raise ApiFailure.bad_data("inbox", f"no email inbox {inbox_id} in this team")
    check_member(state, "creator_id", creator_id, inbox)
    now_us = call.now_us
    if convo_id is not None:
        conversation = state.conversations.get(convo_id)
        if conversation is None or conversation.channel != "email":
            raise ApiFailure.bad_data("convo_id", f"no email conversation {convo_id}")
    else:
        conversation = state.conversation_for(
            inbox_id=inbox_id,
            target=",".join(to),
            recipients=tuple(to + cc),
            channel="email",
            kind="email",
            now_us=now_us,
            title=title,
            reuse=False,  # each new send starts its own thread
        )
    message = state.add_message(
        conversation=conversation,
        now_us=now_us,
        user=creator_id,
        text=text,
        kind="email",
        local_id=local_id,
        extra={"raw_text": raw_text},
    )
    state.ledger.record(
        kind=LedgerKind.EMAIL,
        message_id=message.id,
        inbox_id=inbox_id,
        recipients=conversation.recipients,
        local_id=local_id,
        at=call.now,
        request_id=call.request_id,
    )
    answer = {
        "id": message.id,
        "convo_id": conversation.id,
        "queued": True,
        "date": message.json["date"],
        "compliance_results": {},
    }
    if local_id is not None:
        state.email_by_local_id[local_id] = answer
    return answer


# -- lists (§2.5) ------------------------------------------------------------------------


def _new_members(ids: Iterable[int]) -> MemberIds:
    return MemberIds(ids, base=FIRST_IDS["contact"])


def _check_size(state: SandboxState, members: MemberIds, field: str) -> None:
    cap = state.team["list_size"]
    if len(members) > cap:
        raise ApiFailure.bad_data(field, f"a list holds at most {cap} contacts (team list_size)")


def _known_contacts(state: SandboxState, field: str, ids: Iterable[int]) -> list[int]:
    ids = list(ids)
    for contact_id in ids:
        if contact_id not in state.contacts:
            raise ApiFailure.bad_data(field, f"no contact {contact_id}")
    return ids


def create_list(state: SandboxState, call: Call) -> Any:
    body = body_object(call)
    title = require_str(body, "title")
    local_id = require_str(body, "local_id")
    list_type = get_str(body, "type")
    contact_ids = get_ints(body, "contacts")
    phones = get_phones(body, "phones")
    emails = get_emails(body, "emails")
    existing = state.list_by_local_id.get(local_id)
    if existing is not None:  # §4: "to avoid creating duplicate lists"
        record = state.lists[existing]
        return {"id": record.id, "rev": record.rev, "uuid": record.uuid}
    members = _new_members(_known_contacts(state, "contacts", contact_ids))
    now_us = call.now_us
    members.update(state.contact_id_for_phone(p, now_us) for p in phones)
    members.update(state.contact_for_email(e, now_us).id for e in emails)
    _check_size(state, members, "phones")
    record = ListRecord(
        id=state.new_id("list"),
        title=title,
        local_id=local_id,
        # A UUID-shaped local_id comes back as the list's uuid, as in the docs' examples (§4).
        uuid=local_id if UUID_RE.fullmatch(local_id) else state.new_uuid(),
        type=list_type,
        creator_id=state.team["members"][0]["id"],
        created_us=now_us,
        updated_us=now_us,
        members=members,
    )
    state.lists[record.id] = record
    state.list_by_local_id[local_id] = record.id
    return {"id": record.id, "rev": record.rev, "uuid": record.uuid}


def _list_for(state: SandboxState, call: Call) -> ListRecord:
    record = state.lists.get(path_id(call, "list"))
    if record is None:
        raise ApiFailure.not_found(f"list {call.params['id']}")
    return record


def update_list(state: SandboxState, call: Call) -> Any:
    """``PUT /v2/lists/{id}``: ``contacts`` replaces, then removals, then additions apply."""
    record = _list_for(state, call)
    body = body_object(call)
    title = get_str(body, "title")
    if title is not None and not title.strip():
        raise ApiFailure.bad_data("title", "must not be empty")
    replace = body.get("contacts") is not None
    contacts = _known_contacts(state, "contacts", get_ints(body, "contacts"))
    add_contacts = _known_contacts(state, "add_contacts", get_ints(body, "add_contacts"))
    remove_contacts = get_ints(body, "remove_contacts")
    add_phones = get_phones(body, "add_phones") + get_phones(body, "phones")
    remove_phones = get_phones(body, "remove_phones")
    add_emails = get_emails(body, "add_emails") + get_emails(body, "emails")
    remove_emails = get_emails(body, "remove_emails")
    now_us = call.now_us
    members = _new_members(contacts) if replace else record.members.copy()
    removed = set(remove_contacts)
    removed.update(c for p in remove_phones if (c := state.contacts_by_phone.id_of(p)) is not None)
    removed.update(m.id for e in remove_emails if (m := state.contacts_by_email.get(e.lower())))
    members.discard_many(removed)
    members.update(add_contacts)
    members.update(state.contact_id_for_phone(p, now_us) for p in add_phones)
    members.update(state.contact_for_email(e, now_us).id for e in add_emails)
    _check_size(state, members, "add_phones")
    record.members = members
    if title is not None:
        record.title = title
    record.rev += 1
    record.updated_us = now_us
    return {"id": record.id, "rev": record.rev}


def delete_list(state: SandboxState, call: Call) -> Any:
    record = _list_for(state, call)
    record.members.discard_many(get_ints(body_object(call), "contact_ids"))
    del state.lists[record.id]
    # The local_id is free again: a later create with it makes a new list.
    state.list_by_local_id.pop(record.local_id, None)
    return {"deleted": True, "id": record.id}


# -- scheduled messages (§2.6) -----------------------------------------------------------


def _execute_at(raw: object, now_us: int) -> int:
    if not isinstance(raw, str):
        raise ApiFailure.bad_data("execute_at", "is required (RFC 3339 date-time)")
    when = parse_rfc3339(raw)
    if when is None:
        raise ApiFailure.bad_data("execute_at", "must be an RFC 3339 date-time with an offset")
    if when % (SCHEDULE_STEP_S * 1_000_000):
        raise ApiFailure.bad_data(
            "execute_at", "must be on a 15-minute boundary (:00, :15, :30, :45, zero seconds)"
        )
    if when - now_us < SCHEDULE_STEP_S * 1_000_000:
        raise ApiFailure.bad_data("execute_at", "must be at least 15 minutes in the future")
    return when


def _schedule_content(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ApiFailure.bad_data("content", "is required (an object with text or template)")
    text = get_str(raw, "text")
    template = raw.get("template")
    attachments = get_list(raw, "attachments") or []
    gallery = get_list(raw, "gallery") or []
    if not (text or template is not None or attachments or gallery):
        raise ApiFailure.bad_data("content", "give text, template, attachments or gallery")
    to = raw.get("to")
    if to is not None:
        check_phone("content.to", to)
    return {
        "text": text,
        "template": template,
        "to": to,
        "attachments": attachments,
        "gallery": gallery,
        "local_day": raw.get("local_day"),
        "local_time": raw.get("local_time"),
        "offset": raw.get("offset", 0),
    }


def _schedule_target(state: SandboxState, body: Mapping[str, Any]) -> dict[str, Any]:
    family = one_target(body, _SCHEDULE_TARGETS)
    target: dict[str, Any] = dict.fromkeys(_SCHEDULE_TARGETS)
    if family == "phone_number":
        target[family] = check_phone(family, body[family])
    elif family == "targets":
        items = get_list(body, family) or []
        if not items:
            raise ApiFailure.bad_data(family, "must not be empty")
        for item in items:  # element shape is undocumented: numbers, or objects
            if isinstance(item, str):
                check_phone(family, item)
        target[family] = items
    else:
        value = get_int(body, family)
        assert value is not None
        known = state.conversations if family == "conversation_id" else state.lists
        if value not in known:
            raise ApiFailure.bad_data(family, f"no {family.removesuffix('_id')} {value}")
        target[family] = value
    return target


def _build_schedule(
    state: SandboxState,
    body: Mapping[str, Any],
    *,
    now_us: int,
    check_time: bool,
    created_us: int,
    rev: int,
) -> dict[str, Any]:
    inbox_id = require_int(body, "inbox_id")
    execute = (
        _execute_at(body.get("execute_at"), now_us)
        if check_time
        else parse_rfc3339(str(body["execute_at"]))
    )
    assert execute is not None
    content = _schedule_content(body.get("content"))
    target = _schedule_target(state, body)
    local_id = get_local_id(body)
    user_id = get_int(body, "user_id")
    sms_inbox(state, "inbox_id", inbox_id)
    if user_id is not None:
        check_member(state, "user_id", user_id, None)
    if content["to"] is None and target["phone_number"] is not None:
        content["to"] = target["phone_number"]
    return {
        "created": rfc3339(created_us),
        "updated": rfc3339(now_us),
        # The request says execute_at, the Scheduled object says execute (§2.6).
        "execute": rfc3339(execute).replace(".000000Z", "Z"),
        "inbox_id": inbox_id,
        "local_id": local_id,
        "user_id": user_id if user_id is not None else state.team["members"][0]["id"],
        "op": "i" if rev == 1 else "u",
        "rev": rev,
        "meta": {
            "campaign_id": None,
            "campaign_step_id": None,
            "campaign_target_phone": None,
            "content": content,
            "conversation_id": target["conversation_id"],
            "list_id": target["list_id"],
            "phone_number": target["phone_number"],
            "targets": target["targets"],
        },
    }


def create_schedule(state: SandboxState, call: Call) -> Any:
    body = body_object(call)
    local_id = get_local_id(body)
    if local_id is not None and (known := state.schedule_by_local_id.get(local_id)) is not None:
        return {"id": known}
    now_us = call.now_us
    scheduled = _build_schedule(
        state, body, now_us=now_us, check_time=True, created_us=now_us, rev=1
    )
    schedule_id = state.new_id("schedule")  # only once valid, so ids stay dense
    state.schedules[schedule_id] = {"id": schedule_id, **scheduled}
    state.schedule_requests[schedule_id] = dict(body)
    if local_id is not None:
        state.schedule_by_local_id[local_id] = schedule_id
    return {"id": schedule_id}


def _schedule_id(state: SandboxState, call: Call) -> int:
    schedule_id = path_id(call, "scheduled message")
    if schedule_id not in state.schedules:
        raise ApiFailure.not_found(f"scheduled message {schedule_id}")
    return schedule_id


def get_schedule(state: SandboxState, call: Call) -> Any:
    return state.schedules[_schedule_id(state, call)]


def update_schedule(state: SandboxState, call: Call) -> Any:
    """``PUT /v1/schedule/{id}``: fields sent replace the stored ones; a new target replaces
    the old target family. The time rules apply when ``execute_at`` is sent."""
    schedule_id = _schedule_id(state, call)
    body = body_object(call)
    merged = dict(state.schedule_requests[schedule_id])
    if any(body.get(name) is not None for name in _SCHEDULE_TARGETS):
        for name in _SCHEDULE_TARGETS:
            merged.pop(name, None)
    merged.update({k: v for k, v in body.items() if v is not None})
    old = state.schedules[schedule_id]
    scheduled = _build_schedule(
        state,
        merged,
        now_us=call.now_us,
        check_time="execute_at" in body,
        created_us=parse_rfc3339(old["created"]) or 0,
        rev=old["rev"] + 1,
    )
    if old["local_id"] != scheduled["local_id"]:
        state.schedule_by_local_id.pop(old["local_id"], None)
        if scheduled["local_id"] is not None:
            state.schedule_by_local_id[scheduled["local_id"]] = schedule_id
    state.schedules[schedule_id] = {"id": schedule_id, **scheduled}
    state.schedule_requests[schedule_id] = merged
    return {"id": schedule_id}


def delete_schedule(state: SandboxState, call: Call) -> Any:
    schedule_id = _schedule_id(state, call)
    scheduled = state.schedules.pop(schedule_id)
    state.schedule_requests.pop(schedule_id, None)
    if scheduled["local_id"] is not None:
        state.schedule_by_local_id.pop(scheduled["local_id"], None)
    return "ok"


ROUTES: Final[tuple[Route, ...]] = (
    Route("GET", "/v1/team", get_team),
    Route("GET", "/v1/inboxes", list_inboxes),
    Route("POST", "/v1/message/send", send_message),
    Route("GET", "/v1/messages", message_history),
    Route("POST", "/v1/messages/all", all_messages),
    Route("POST", "/v1/messages/all/count", count_messages),
    Route("POST", "/v1/email/send", send_email),
    Route("POST", "/v2/lists", create_list),
    Route("PUT", "/v2/lists/{id}", update_list),
    Route("DELETE", "/v2/lists/{id}", delete_list),
    Route("POST", "/v1/schedule", create_schedule),
    Route("GET", "/v1/schedule/{id}", get_schedule),
    Route("PUT", "/v1/schedule/{id}", update_schedule),
    Route("DELETE", "/v1/schedule/{id}", delete_schedule),
    *CONTACT_ROUTES,
    *MORE_ROUTES,
)
