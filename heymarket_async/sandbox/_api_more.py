"""Conversations (§2.3), templates (§2.7), tags (§2.8), surveys (§2.9) and users (§2.2).

Handlers follow the conventions in ``_api.py`` and use the readers in ``_api_base.py``.
Choices where heymarket-api.md is silent:

* ``POST /v1/conversations``: ``id`` (a team member) is required and scopes the answer to
  the inboxes that user belongs to; ``filters.inboxes`` narrows it further, and naming an
  inbox the user is not in is 400. ``filters.closed``/``unread`` left out means both.
  ``limit`` defaults to 30 and is clamped to 200. The count endpoint takes the same body,
  every part optional.
* A conversation's ``updated`` moves on every change (a message, open, close, read,
  unread, reassign, transfer), so a changed conversation pages first again. ``read`` is
  1 when read and 0 when unread; conversations the team starts are read.
* Open, close, read, unread and reassign name a conversation that must exist in
  ``inbox_id`` (400 otherwise), and ``user_id`` must be a member of that inbox; it is
  recorded as the actor only, not checked against the current owner. ``reassign_id``
  must be a member of the inbox too.
* Transfer refuses (400) non-SMS conversations, a destination that is not an SMS inbox,
  the conversation's own inbox, and an inbox already holding a conversation with the same
  target.
* ``PUT /v1/template/{id}`` changes only the fields sent; a ``local_id`` another template
  uses is 400. Tag names need not be unique (no evidence either way), and a tag's
  ``color`` may be left out (``null``). Deleting a tag takes it off every contact.
* Surveys are read-only seeds; ``POST /v1/surveys`` lists the newest first.
* ``/v1/users/update`` changes only the fields sent and keeps ``GET /v1/team`` in step.
  ``role_id`` is 1 (admin), 2 (owner, the sandbox's pick) or 4 (member).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from typing import Any, Final

import attrs

from ._api_base import (
    UUID_RE,
    Call,
    Route,
    body_object,
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
    one_target,
    path_id,
    read_cursor,
    read_limit,
    require_int,
    require_str,
    show,
    walk,
)
from ._state import ROLE_IDS, ApiFailure, Conversation, SandboxState, TagRecord, TemplateRecord

__all__ = ["MORE_ROUTES"]

_COLOR_CHARS: Final = frozenset("0123456789abcdefABCDEF")


# -- conversations (§2.3) ------------------------------------------------------------------


def _inbox(state: SandboxState, body: Mapping[str, Any]) -> dict[str, Any]:
    inbox_id = require_int(body, "inbox_id")
    inbox = state.inboxes.get(inbox_id)
    if inbox is None:
        raise ApiFailure.bad_data("inbox_id", f"no inbox {inbox_id} in this team")
    return inbox


def _target(inbox: Mapping[str, Any], body: Mapping[str, Any], family: str) -> str:
    """The conversation key the request names: a phone, or a group's sorted phones."""
    if family == "targets":
        phones = sorted(set(get_phones(body, "targets")))
        if len(phones) < 2:
            raise ApiFailure.bad_data("targets", "a group conversation has at least 2 numbers")
        return ",".join(phones)
    raw = body["target"]
    if inbox["channel"] == "sms":
        return check_phone("target", raw)
    if not isinstance(raw, str) or not raw.strip():
        raise ApiFailure.bad_data("target", f"must be a non-empty string, got {show(raw)}")
    return raw


def _named(
    state: SandboxState, body: Mapping[str, Any], *, chat_id: bool
) -> tuple[Conversation, dict[str, Any]]:
    """The existing conversation named by ``chat_id``, ``target`` or ``targets`` in the inbox
    ``inbox_id``, after checking ``user_id`` belongs to that inbox."""
    inbox = _inbox(state, body)
    check_member(state, "user_id", require_int(body, "user_id"), inbox)
    # §2.3 open/close: chat_id "required if no target", so both may come (the reference's
    # example sends both); a target given with chat_id must name the same conversation.
    by_chat = chat_id and body.get("chat_id") is not None
    named = body.get("target") is not None or body.get("targets") is not None
    if by_chat and not named:
        family = "chat_id"
    elif by_chat:
        family = one_target(body, ("target", "targets"))
    else:
        family = one_target(
            body, ("chat_id", "target", "targets") if chat_id else ("target", "targets")
        )
    if by_chat:
        conversation_id = require_int(body, "chat_id")
        conversation = state.conversations.get(conversation_id)
        if conversation is None:
            raise ApiFailure.bad_data("chat_id", f"no conversation {conversation_id}")
        if conversation.inbox_id != inbox["id"]:
            raise ApiFailure.bad_data(
                "chat_id", f"conversation {conversation_id} is not in inbox {inbox['id']}"
            )
        named_key = _target(inbox, body, family) if family != "chat_id" else None
        if (
            named_key is not None
            and state.conversation_with(inbox["id"], named_key) is not conversation
        ):
            raise ApiFailure.bad_data(family, f"does not name conversation {conversation_id}")
        return conversation, inbox
    target = _target(inbox, body, family)
    found = state.conversation_with(inbox["id"], target)
    if found is None:
        raise ApiFailure.bad_data(family, f"no conversation with {target} in inbox {inbox['id']}")
    return found, inbox


def open_conversation(state: SandboxState, call: Call) -> Any:
    conversation, _ = _named(state, body_object(call), chat_id=True)
    conversation.status = "open"
    state.touch_conversation(conversation, call.now_us)
    return "ok"


def close_conversation(state: SandboxState, call: Call) -> Any:
    conversation, _ = _named(state, body_object(call), chat_id=True)
    conversation.status = "closed"
    state.touch_conversation(conversation, call.now_us)
    return "ok"


def mark_read(state: SandboxState, call: Call) -> Any:
    conversation, _ = _named(state, body_object(call), chat_id=False)
    conversation.unread = False
    state.touch_conversation(conversation, call.now_us)
    return "Marked as Read"


def mark_unread(state: SandboxState, call: Call) -> Any:
    conversation, _ = _named(state, body_object(call), chat_id=False)
    conversation.unread = True
    state.touch_conversation(conversation, call.now_us)
    return "Marked as Unread"


def reassign_conversation(state: SandboxState, call: Call) -> Any:
    """``POST /v1/conversations/reassign``: ``reassign_id`` becomes the owner."""
    body = body_object(call)
    reassign_id = require_int(body, "reassign_id")
    conversation, inbox = _named(state, body, chat_id=False)
    conversation.assigned = check_member(state, "reassign_id", reassign_id, inbox)
    state.touch_conversation(conversation, call.now_us)
    return "ok"


def transfer_conversation(state: SandboxState, call: Call) -> Any:
    """``POST /v1/conversations/transfer``: move an SMS conversation to another inbox."""
    body = body_object(call)
    conversation_id = require_int(body, "conversation_id")
    inbox_id = require_int(body, "transfer_inbox_id")
    conversation = state.conversations.get(conversation_id)
    if conversation is None:
        raise ApiFailure.bad_data("conversation_id", f"no conversation {conversation_id}")
    if conversation.channel != "sms":
        raise ApiFailure.bad_data("conversation_id", "only SMS conversations can be transferred")
    destination = state.inboxes.get(inbox_id)
    if destination is None:
        raise ApiFailure.bad_data("transfer_inbox_id", f"no inbox {inbox_id} in this team")
    if destination["channel"] != "sms":
        raise ApiFailure.bad_data("transfer_inbox_id", f"inbox {inbox_id} is not an SMS inbox")
    if conversation.inbox_id == inbox_id:
        raise ApiFailure.bad_data(
            "transfer_inbox_id", f"conversation {conversation_id} is already in inbox {inbox_id}"
        )
    if state.conversation_with(inbox_id, conversation.target) is not None:
        raise ApiFailure.bad_data(
            "transfer_inbox_id",
            f"inbox {inbox_id} already has a conversation with {conversation.target}",
        )
    state.move_conversation(conversation, inbox_id, call.now_us)
    return "ok"


@attrs.frozen
class _Scope:
    inboxes: frozenset[int]
    closed: bool | None
    unread: bool | None

    def admits(self, conversation: Conversation) -> bool:
        return (
            conversation.inbox_id in self.inboxes
            and (self.closed is None or (conversation.status == "closed") == self.closed)
            and (self.unread is None or conversation.unread == self.unread)
        )


def _scope(state: SandboxState, body: Mapping[str, Any], *, need_user: bool) -> _Scope | None:
    """What ``id`` and ``filters`` select; ``None`` when neither is given."""
    user_id = get_int(body, "id", required=need_user)
    raw = body.get("filters")
    if raw is not None and not isinstance(raw, dict):
        raise ApiFailure.bad_data("filters", f"must be an object, got {show(raw)}")
    filters = {f"filters.{key}": value for key, value in (raw or {}).items()}
    inbox_ids = get_ints(filters, "filters.inboxes")
    closed = get_bool(filters, "filters.closed")
    unread = get_bool(filters, "filters.unread")
    if user_id is None and raw is None:
        return None
    if user_id is not None and user_id not in state.member_ids:
        raise ApiFailure.bad_data("id", f"user {user_id} is not a member of the team")
    for inbox_id in inbox_ids:
        inbox = state.inboxes.get(inbox_id)
        if inbox is None:
            raise ApiFailure.bad_data("filters.inboxes", f"no inbox {inbox_id} in this team")
        if user_id is not None:
            check_member(state, "filters.inboxes", user_id, inbox)
    if inbox_ids:
        allowed = frozenset(inbox_ids)
    else:
        allowed = frozenset(
            i
            for i, inbox in state.inboxes.items()
            if user_id is None or user_id in inbox["members"]
        )
    return _Scope(allowed, closed, unread)


def list_conversations(state: SandboxState, call: Call) -> Any:
    """``POST /v1/conversations``: newest ``updated`` first, cursor ``date`` (§2.3, §3)."""
    body = body_object(call)
    scope = _scope(state, body, need_user=True)
    assert scope is not None
    limit = read_limit(body)
    cursor = read_cursor(body)
    conversations = state.conversations
    chosen = (conversations.peek(i) for i in walk(state.conversation_timeline, cursor))
    page = islice(filter(scope.admits, chosen), limit)
    return [state.conversation_json(conversation) for conversation in page]


def count_conversations(state: SandboxState, call: Call) -> Any:
    """``POST /v1/conversations/count``: updated before ``date``, as a JSON string."""
    body = body_object(call)
    scope = _scope(state, body, need_user=False)
    cursor = read_cursor(body)
    timeline = state.conversation_timeline
    if scope is None:
        return str(timeline.count(before=cursor))
    conversations = state.conversations
    return str(sum(1 for i in walk(timeline, cursor) if scope.admits(conversations.peek(i))))


def get_conversation(state: SandboxState, call: Call) -> Any:
    conversation = state.conversations.get(path_id(call, "conversation"))
    if conversation is None:
        raise ApiFailure.not_found(f"conversation {call.params['id']}")
    return state.conversation_json(conversation)


# -- templates (§2.7) ----------------------------------------------------------------------


def _template_content(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ApiFailure.bad_data("content", "is required: an object with text and/or gallery")
    text = raw.get("text")
    if text is not None and not isinstance(text, str):
        raise ApiFailure.bad_data("content.text", f"must be a string, got {show(text)}")
    gallery = raw.get("gallery")
    if gallery is None:
        gallery = []
    if not isinstance(gallery, list) or not all(isinstance(g, dict) for g in gallery):
        raise ApiFailure.bad_data("content.gallery", "must be an array of gallery entries")
    if not (text and text.strip()) and not gallery:
        raise ApiFailure.bad_data("content", "give text or a gallery")
    return {"text": text, "gallery": gallery}


def _template_ids(record: TemplateRecord) -> dict[str, Any]:
    return {"id": record.id, "rev": record.rev, "uuid": record.uuid}


def create_template(state: SandboxState, call: Call) -> Any:
    """``POST /v1/template``; a known ``local_id`` answers the original template (§4)."""
    body = body_object(call)
    title = require_str(body, "title")
    content = _template_content(body.get("content"))
    local_id = get_local_id(body)
    archived = bool(get_bool(body, "archived"))
    if local_id is not None and (known := state.template_by_local_id.get(local_id)) is not None:
        return _template_ids(state.templates[known])
    record = state.add_template(
        name=title,
        content=content,
        local_id=local_id,
        # A UUID-shaped local_id comes back as the uuid, as in the docs' examples (§4).
        uuid=local_id if local_id is not None and UUID_RE.fullmatch(local_id) else state.new_uuid(),
        archived=archived,
        now_us=call.now_us,
    )
    return _template_ids(record)


def _template(state: SandboxState, call: Call) -> TemplateRecord:
    record = state.templates.get(path_id(call, "template"))
    if record is None:
        raise ApiFailure.not_found(f"template {call.params['id']}")
    return record


def get_template(state: SandboxState, call: Call) -> Any:
    return _template(state, call).to_json()


def update_template(state: SandboxState, call: Call) -> Any:
    """``PUT /v1/template/{id}``: the fields sent replace the stored ones."""
    record = _template(state, call)
    body = body_object(call)
    title = get_str(body, "title")
    if title is not None and not title.strip():
        raise ApiFailure.bad_data("title", "must not be empty")
    content = _template_content(body["content"]) if body.get("content") is not None else None
    archived = get_bool(body, "archived")
    local_id = get_local_id(body)
    if local_id is not None and local_id != record.local_id:
        other = state.template_by_local_id.get(local_id)
        if other is not None:
            raise ApiFailure.bad_data("local_id", f"template {other} already uses it")
        if record.local_id is not None:
            del state.template_by_local_id[record.local_id]
        state.template_by_local_id[local_id] = record.id
        record.local_id = local_id
    if title is not None:
        record.name = title
    if content is not None:
        record.content = content
    if archived is not None:
        record.archived = archived
    record.rev += 1
    record.updated_us = state.template_timeline.touch(record.id, call.now_us)
    return {"id": record.id, "rev": record.rev}


def delete_template(state: SandboxState, call: Call) -> Any:
    record = _template(state, call)
    del state.templates[record.id]
    state.template_timeline.remove(record.id)
    if record.local_id is not None:
        state.template_by_local_id.pop(record.local_id, None)  # free for a new template
    return "ok"


def list_templates(state: SandboxState, call: Call) -> Any:
    """``POST /v1/templates``: the 30 most recently updated before ``date`` (§3)."""
    body = body_object(call)
    limit = read_limit(body)
    ids = walk(state.template_timeline, read_cursor(body))
    return [state.templates[i].to_json() for i in islice(ids, limit)]


# -- tags (§2.8) ---------------------------------------------------------------------------


def create_tag(state: SandboxState, call: Call) -> Any:
    body = body_object(call)
    tag = require_str(body, "tag")
    color = get_str(body, "color")
    if color is not None:
        digits = color.removeprefix("#")
        if len(digits) not in {3, 6} or not _COLOR_CHARS.issuperset(digits):
            raise ApiFailure.bad_data(
                "color", f"must be a hex color like #1976d2, got {show(color)}"
            )
    record = state.add_tag(tag, color, state.new_uuid(), call.now_us)
    return {"id": record.id, "rev": record.rev, "uuid": record.uuid}


def _tag(state: SandboxState, call: Call) -> TagRecord:
    record = state.tags.get(path_id(call, "tag"))
    if record is None:
        raise ApiFailure.not_found(f"tag {call.params['id']}")
    return record


def get_tag(state: SandboxState, call: Call) -> Any:
    return _tag(state, call).to_json()


def delete_tag(state: SandboxState, call: Call) -> Any:
    state.delete_tag(_tag(state, call), call.now_us)
    return "ok"


def list_tags(state: SandboxState, call: Call) -> Any:
    """``POST /v1/tags``: the 30 most recently updated before ``date`` (§3)."""
    body = body_object(call)
    limit = read_limit(body)
    ids = walk(state.tag_timeline, read_cursor(body))
    return [state.tags[i].to_json() for i in islice(ids, limit)]


# -- surveys (§2.9) ------------------------------------------------------------------------


def get_survey(state: SandboxState, call: Call) -> Any:
    survey = state.surveys.get(path_id(call, "survey"))
    if survey is None:
        raise ApiFailure.not_found(f"survey {call.params['id']}")
    return survey


def list_surveys(state: SandboxState, call: Call) -> Any:
    """``POST /v1/surveys``: ``limit`` per page, ``page`` numbered from 1, newest first."""
    body = body_object(call)
    limit = read_limit(body)
    page = get_int(body, "page")
    if page is None:
        page = 1
    if page < 1:
        raise ApiFailure.bad_data("page", "must be 1 or more (pages start at 1)")
    newest_first = list(reversed(state.surveys.values()))
    start = (page - 1) * limit
    return newest_first[start : start + limit]


# -- users (§2.2) --------------------------------------------------------------------------


def get_users(state: SandboxState, call: Call) -> Any:
    """``GET /v1/users/get``, with a JSON body: memberships matching any phone or email."""
    body = body_object(call)
    phones = set(get_phones(body, "phone"))
    emails = {email.lower() for email in get_emails(body, "email")}
    if not phones and not emails:
        raise ApiFailure.bad_data("phone", "give phone or email (arrays) in the body")
    found = [
        user.to_json()
        for user in state.users.values()
        if user.phone in phones or (user.email is not None and user.email.lower() in emails)
    ]
    return {"memberships": found}


def update_users(state: SandboxState, call: Call) -> Any:
    """``POST /v1/users/update``: every item is checked before any is applied."""
    items = get_list(body_object(call), "users")
    if not items:
        raise ApiFailure.bad_data("users", "give at least one {id, ...}")
    changes = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiFailure.bad_data("users", f"each item is an object, got {show(item)}")
        user_id = require_int(item, "id")
        user = state.users.get(user_id)
        if user is None:
            raise ApiFailure.bad_data("id", f"no user {user_id} in this team")
        first = get_str(item, "first_name")
        if first is not None and not first.strip():
            raise ApiFailure.bad_data("first_name", "must not be empty")
        last = get_str(item, "last_name")
        role_id = get_int(item, "role_id")
        if role_id is not None and role_id not in ROLE_IDS.values():
            known = ", ".join(f"{n} ({name})" for name, n in sorted(ROLE_IDS.items()))
            raise ApiFailure.bad_data("role_id", f"must be one of {known}")
        changes.append((user, first, last, role_id))
    for user, first, last, role_id in changes:
        state.update_user(user, first=first, last=last, role_id=role_id, now_us=call.now_us)
    return {"memberships": [user.to_json() for user, *_ in changes]}


MORE_ROUTES: Final[tuple[Route, ...]] = (
    Route("POST", "/v1/conversations", list_conversations),
    Route("POST", "/v1/conversations/count", count_conversations),
    Route("GET", "/v1/conversations/{id}", get_conversation),
    Route("POST", "/v1/conversations/open", open_conversation),
    Route("POST", "/v1/conversations/close", close_conversation),
    Route("POST", "/v1/conversations/read", mark_read),
    Route("POST", "/v1/conversations/unread", mark_unread),
    Route("POST", "/v1/conversations/reassign", reassign_conversation),
    Route("POST", "/v1/conversations/transfer", transfer_conversation),
    Route("POST", "/v1/template", create_template),
    Route("GET", "/v1/template/{id}", get_template),
    Route("PUT", "/v1/template/{id}", update_template),
    Route("DELETE", "/v1/template/{id}", delete_template),
    Route("POST", "/v1/templates", list_templates),
    Route("POST", "/v1/tag", create_tag),
    Route("GET", "/v1/tag/{id}", get_tag),
    Route("DELETE", "/v1/tag/{id}", delete_tag),
    Route("POST", "/v1/tags", list_tags),
    Route("GET", "/v1/survey/{id}", get_survey),
    Route("POST", "/v1/surveys", list_surveys),
    Route("GET", "/v1/users/get", get_users),
    Route("POST", "/v1/users/update", update_users),
)
