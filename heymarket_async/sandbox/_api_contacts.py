"""Contacts (§2.4): v1 by integer id, v2 by UUID with channels, custom fields and status.

Handlers follow the conventions in ``_api.py`` and use the readers in ``_api_base.py``.
Choices where heymarket-api.md is silent:

* A phone number or email address belongs to at most one contact: a write that would give
  it to a second contact is 400 naming ``phone`` or ``email``.
* ``PUT /v1/contact/{id}`` is a full replacement, as [Skyvia]'s read-before-write implies:
  ``phone`` is required, and every field left out is reset: ``first``, ``last``,
  ``display_name`` and ``avatar`` to empty, ``email`` removed, ``tags`` emptied, the
  assignment cleared. ``custom`` alone survives an omission while ``overwrite`` is false
  (the map sent is merged into the stored one); with ``?overwrite=true`` the map sent
  replaces the stored one, so an omitted ``custom`` empties it. Clients must therefore
  read, modify and write back the whole contact. Messaging status is not contact data:
  it changes only when ``is_opted_out`` is sent, or through ``/v1/contact/set_status``.
* A contact read and written back unchanged stays unchanged: ``tags`` items carry
  ``tag_id`` and ``custom`` is keyed by field id. The one exception is the assignment,
  read as ``assigned_user_id`` but written as ``assignee_id`` (``-1`` clears it).
* ``custom`` keys that are not a known field id (a field *title*, for one) are dropped and
  the request still answers 200, as the real API does (§2.4); a ``null`` value removes
  that field; values must be strings.
* ``PUT /v2/contact/{contactID}`` resets the contact's own fields the same way, but its
  channels (``contact_channels``, ``phone``, ``email``) are only added or changed, never
  removed: the channel endpoints remove them. It answers the updated Contact.
* v2 objects carry the contact's UUID in ``id`` (and in ``uuid``, as v1 objects do).
* Lookups named by a body field (``/v1/contact/get``, ``/status``, ``/set_status``)
  answer 404 for an unknown contact id, since finding it is the request's whole purpose.
  A phone number with no contact still has a messaging status, so ``/status`` and
  ``/set_status`` accept one.
* ``POST /v1/batch/contacts`` without ``overwrite`` leaves contacts whose phone exists
  untouched and does not report them; with it they are replaced as by a PUT with
  ``overwrite=true``. Failed items come back as sent, plus an ``error`` string.
* ``DELETE /v2/contacts`` ignores UUIDs it does not know, so a retried delete answers
  ``"ok"``. ``POST /v2/contacts`` (bulk) reads ``?overwrite=`` like the PUTs.
* ``blocked`` is recorded and reported; sends to a blocked number are not refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import islice
from typing import Any, Final

import attrs

from ._api_base import (
    UUID_RE,
    Call,
    Route,
    body_object,
    check_email,
    check_phone,
    get_bool,
    get_int,
    get_list,
    get_str,
    path_id,
    read_cursor,
    read_limit,
    show,
    walk,
)
from ._state import (
    MAX_CONTACT_TAGS,
    ApiFailure,
    ChannelRecord,
    Contact,
    SandboxState,
    Timeline,
)

__all__ = ["CONTACT_ROUTES"]

_CHANNEL_TYPE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_STATUSES: Final = ("active", "blocked", "unblocked", "subscribed", "unsubscribed")
_CLEAR_ASSIGNEE: Final = -1  # §2.4: assignee_id -1 clears the assignment


def _count(timeline: Timeline, cursor: int | None, *, ascending: bool) -> int:
    if ascending:
        return timeline.count(after=-1 if cursor is None else cursor)
    return timeline.count(before=cursor)


def _overwrite(call: Call) -> bool:
    raw = call.query.get("overwrite")
    if raw is None or raw.lower() in {"false", "0", ""}:
        return False
    if raw.lower() in {"true", "1"}:
        return True
    raise ApiFailure.bad_data("overwrite", f"must be true or false, got {show(raw)}")


# -- the contact write payload -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Channel:
    type: str
    value: str
    handle: Any = None
    info: Any = None


@attrs.frozen(kw_only=True)
class _Write:
    """A validated contact write payload; ``None`` means the field was left out."""

    phone: str | None
    first: str | None
    last: str | None
    display_name: str | None
    avatar: str | None
    custom: dict[str, str | None] | None  # known field ids only
    tags: tuple[int, ...] | None
    assignee: int | None
    is_opted_out: bool | None
    channels: tuple[_Channel, ...]  # top-level phone/email included
    listed_channels: int  # items in contact_channels (v2)


def _custom(state: SandboxState, raw: object) -> dict[str, str | None] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiFailure.bad_data("custom", f"must be an object keyed by field id, got {show(raw)}")
    kept: dict[str, str | None] = {}
    for key, value in raw.items():
        if value is not None and not isinstance(value, str):
            raise ApiFailure.bad_data("custom", f"values must be strings, got {show(value)}")
        # §2.4: keyed by field id; anything else (a title) is accepted and silently dropped.
        if key.isascii() and key.isdigit() and int(key) in state.custom_fields:
            kept[str(int(key))] = value
    return kept


def _tags(state: SandboxState, raw: object) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ApiFailure.bad_data("tags", f"must be an array of {{tag_id}}, got {show(raw)}")
    ids: dict[int, None] = {}
    for item in raw:
        tag_id = item.get("tag_id") if isinstance(item, dict) else None
        if isinstance(tag_id, bool) or not isinstance(tag_id, int):
            raise ApiFailure.bad_data("tags", f'each item is {{"tag_id": <int>}}, got {show(item)}')
        if tag_id not in state.tags:
            raise ApiFailure.bad_data("tags", f"no tag {tag_id}")
        ids[tag_id] = None
    if len(ids) > MAX_CONTACT_TAGS:
        raise ApiFailure.bad_data(
            "tags", f"a contact holds at most {MAX_CONTACT_TAGS} tags, got {len(ids)}"
        )
    return tuple(ids)


def _assignee(state: SandboxState, body: Mapping[str, Any]) -> int | None:
    assignee = get_int(body, "assignee_id")
    if assignee is not None and assignee != _CLEAR_ASSIGNEE and assignee not in state.member_ids:
        raise ApiFailure.bad_data("assignee_id", f"user {assignee} is not a member of the team")
    return assignee


def _channel_value(channel_type: str, field: str, value: object) -> str:
    if channel_type == "phone":
        return check_phone(field, value)
    if channel_type == "email":
        return check_email(field, value)
    if not isinstance(value, str) or not value.strip():
        raise ApiFailure.bad_data(field, f"must be a non-empty string, got {show(value)}")
    return value


def _channel(raw: object, where: str | None) -> _Channel:
    """One ``{channel_type, channel_id, channel_handle, info_channel}`` object; errors name
    ``where`` (an item of ``contact_channels``), or the field itself for a bare channel."""

    def fail(field: str, why: str) -> ApiFailure:
        return ApiFailure.bad_data(where or field, why)

    if not isinstance(raw, dict):
        raise fail("body", f"a channel is an object, got {show(raw)}")
    channel_type = raw.get("channel_type")
    if not isinstance(channel_type, str) or not _CHANNEL_TYPE_RE.fullmatch(channel_type):
        raise fail("channel_type", f"must be phone, email, facebook, ...; got {show(channel_type)}")
    if channel_type == "id":
        raise fail("channel_type", "'id' only names contacts to delete")
    value = raw.get("channel_id")
    if value is None:
        many = raw.get("channel_ids")
        if not isinstance(many, list) or len(many) != 1:
            raise fail("channel_id", "is required")
        value = many[0]
    handle = raw.get("channel_handle")
    if handle is not None and not isinstance(handle, str):
        raise fail("channel_handle", f"must be a string, got {show(handle)}")
    return _Channel(
        type=channel_type,
        value=_channel_value(channel_type, where or "channel_id", value),
        handle=handle,
        info=raw.get("info_channel"),
    )


def _channels(body: Mapping[str, Any], phone: str | None, email: str | None) -> list[_Channel]:
    channels: dict[str, _Channel] = {}
    for item in get_list(body, "contact_channels") or ():
        channel = _channel(item, "contact_channels")
        if channel.type in channels:
            raise ApiFailure.bad_data(
                "contact_channels", f"one {channel.type} channel per contact, got two"
            )
        channels[channel.type] = channel
    for channel_type, value in (("phone", phone), ("email", email)):
        if value is None:
            continue
        listed = channels.get(channel_type)
        if listed is None:
            channels[channel_type] = _Channel(type=channel_type, value=value)
        elif listed.value.lower() != value.lower():
            raise ApiFailure.bad_data(channel_type, f"differs from the {channel_type} channel")
    return list(channels.values())


def _parse_write(state: SandboxState, body: Mapping[str, Any], *, v2: bool) -> _Write:
    raw_phone = body.get("phone")
    phone = None if raw_phone in (None, "") else check_phone("phone", raw_phone)
    raw_email = body.get("email")
    email = None if raw_email in (None, "") else check_email("email", raw_email)
    names = {name: get_str(body, name) for name in ("first", "last", "display_name", "avatar")}
    custom = _custom(state, body.get("custom"))
    tags = _tags(state, body.get("tags"))
    assignee = _assignee(state, body)
    is_opted_out = get_bool(body, "is_opted_out")
    get_list(body, "email_suppressions")  # checked, not emulated
    if v2:
        channels = _channels(body, phone, email)
        listed = len(get_list(body, "contact_channels") or ())
    else:
        channels = [_Channel(type=t, value=v) for t, v in (("phone", phone), ("email", email)) if v]
        listed = 0
    return _Write(
        phone=phone,
        custom=custom,
        tags=tags,
        assignee=assignee,
        is_opted_out=is_opted_out,
        channels=tuple(channels),
        listed_channels=listed,
        **names,
    )


def _check_free(state: SandboxState, write: _Write, contact: Contact | None) -> None:
    """No other contact may hold the phone or email this write gives ``contact``."""
    for channel in write.channels:
        owner = state.channel_owner(channel.type, channel.value)
        if owner is not None and owner is not contact:
            raise ApiFailure.bad_data(
                channel.type, f"contact {owner.id} already has {channel.value}"
            )


def _set_subscribed(state: SandboxState, phone: str, *, subscribed: bool) -> None:
    # The opt-out set is the one sends check (§1.5 unsubscribed_number).
    if subscribed:
        state.opted_out.discard(phone)
        state.admin_opted_out.discard(phone)
    else:
        state.opted_out.add(phone)
        state.admin_opted_out.add(phone)


def _apply(
    state: SandboxState,
    contact: Contact,
    write: _Write,
    *,
    now_us: int,
    overwrite: bool,
    drop_missing_email: bool,
) -> None:
    """Write every field (omitted ones reset, see the module docstring); never fails."""
    contact.first = write.first or ""
    contact.last = write.last or ""
    contact.display_name = None
    if write.display_name and write.display_name != contact.shown_name:
        contact.display_name = write.display_name  # else it stays derived from the names
    contact.avatar = write.avatar or None
    if write.custom is not None or overwrite:
        merged = {} if overwrite else dict(contact.custom)
        for key, value in (write.custom or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.custom = merged
    state.set_contact_tags(contact, write.tags or ())
    assignee = write.assignee
    contact.assigned_user_id = None if assignee in (None, _CLEAR_ASSIGNEE) else assignee
    for channel in write.channels:
        state.set_channel(
            contact, channel.type, channel.value, now_us, handle=channel.handle, info=channel.info
        )
    if drop_missing_email and not any(c.type == "email" for c in write.channels):
        state.drop_channel(contact, "email")
    if write.is_opted_out is not None and contact.phone is not None:
        _set_subscribed(state, contact.phone, subscribed=not write.is_opted_out)


def _create(state: SandboxState, write: _Write, now_us: int, *, v2: bool) -> Contact:
    contact = state.new_contact(now_us)
    _apply(
        state,
        contact,
        write,
        now_us=contact.created_us,
        overwrite=False,
        drop_missing_email=not v2,
    )
    return contact


def _update(
    state: SandboxState, contact: Contact, write: _Write, now_us: int, *, v2: bool, overwrite: bool
) -> None:
    _apply(state, contact, write, now_us=now_us, overwrite=overwrite, drop_missing_email=not v2)
    state.touch_contact(contact, now_us)


def _created(contact: Contact, *, v2: bool = False) -> dict[str, Any]:
    return {"id": contact.uuid if v2 else contact.id, "rev": contact.rev, "uuid": contact.uuid}


# -- v1 ------------------------------------------------------------------------------------


def _require_phone(write: _Write) -> str:
    if write.phone is None:
        raise ApiFailure.bad_data("phone", "is required")
    return write.phone


def create_contact(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contact``: a new contact keyed by ``phone``."""
    write = _parse_write(state, body_object(call), v2=False)
    _require_phone(write)
    _check_free(state, write, None)
    return _created(_create(state, write, call.now_us, v2=False))


def _contact_v1(state: SandboxState, call: Call) -> Contact:
    contact = state.contacts.get(path_id(call, "contact"))
    if contact is None:
        raise ApiFailure.not_found(f"contact {call.params['id']}")
    return contact


def get_contact(state: SandboxState, call: Call) -> Any:
    return state.contact_json(_contact_v1(state, call))


def update_contact(state: SandboxState, call: Call) -> Any:
    """``PUT /v1/contact/{id}``: a full replacement (see the module docstring)."""
    contact = _contact_v1(state, call)
    overwrite = _overwrite(call)
    write = _parse_write(state, body_object(call), v2=False)
    _require_phone(write)
    _check_free(state, write, contact)
    _update(state, contact, write, call.now_us, v2=False, overwrite=overwrite)
    return _created(contact)


def delete_contact(state: SandboxState, call: Call) -> Any:
    state.delete_contact(_contact_v1(state, call))
    return "ok"


def list_contacts(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contacts``: newest ``updated`` first, cursor ``date`` (§3)."""
    body = body_object(call)
    limit = read_limit(body)
    cursor = read_cursor(body)
    ascending = bool(get_bool(body, "ascending"))
    ids = walk(state.contact_timeline, cursor, ascending=ascending)
    return [state.contact_json(state.contacts.peek(i)) for i in islice(ids, limit)]


def count_contacts(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contacts/count``: the count as a JSON string, ``date`` as for listing."""
    body = body_object(call)
    cursor = read_cursor(body)
    ascending = bool(get_bool(body, "ascending"))
    return str(_count(state.contact_timeline, cursor, ascending=ascending))


def _lookup_phone(body: Mapping[str, Any]) -> str | None:
    raw = body.get("phone")
    return None if raw is None else check_phone("phone", raw)


def find_contact(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contact/get``: by ``phone`` or by ``id`` as a string; phone wins."""
    body = body_object(call)
    phone = _lookup_phone(body)
    if phone is not None:
        contact = state.contacts_by_phone.get(phone)
        if contact is None:
            raise ApiFailure.not_found(f"contact with phone {phone}")
        return state.contact_json(contact)
    raw_id = body.get("id")
    if raw_id is None:
        raise ApiFailure.bad_data("phone", "give phone or id")
    if not isinstance(raw_id, str) or not (raw_id.isascii() and raw_id.isdigit()):
        raise ApiFailure.bad_data("id", f"must be a contact id as a string, got {show(raw_id)}")
    found = state.contacts.get(int(raw_id))
    if found is None:
        raise ApiFailure.not_found(f"contact {raw_id}")
    return state.contact_json(found)


def _status_subject(state: SandboxState, body: Mapping[str, Any]) -> tuple[Contact | None, str]:
    """The contact (if any) and phone a status request names; ``phone`` wins over ``id``."""
    phone = _lookup_phone(body)
    if phone is not None:
        return state.contacts_by_phone.get(phone), phone
    contact_id = get_int(body, "id")
    if contact_id is None:
        raise ApiFailure.bad_data("phone", "give phone or id")
    contact = state.contacts.get(contact_id)
    if contact is None:
        raise ApiFailure.not_found(f"contact {contact_id}")
    if contact.phone is None:
        raise ApiFailure.bad_data("id", f"contact {contact_id} has no phone number")
    return contact, contact.phone


def contact_status(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contact/status``: opt-out and block status of a contact or number."""
    contact, phone = _status_subject(state, body_object(call))
    unsubscribed = phone in state.opted_out
    by_admin = phone in state.admin_opted_out
    return {
        "id": contact.id if contact is not None else None,
        "phone": phone,
        "unsubscribed": unsubscribed,
        "blocked": phone in state.blocked,
        "unsubscribed_admin": by_admin,
        "unsubscribed_contact": unsubscribed and not by_admin,
    }


def set_contact_status(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contact/set_status``; ``unsubscribed`` makes sends fail (§1.5)."""
    body = body_object(call)
    raw = body.get("status")
    statuses = raw if isinstance(raw, list) else [raw]  # [MC] types it as a list
    if raw is None or not statuses or any(s not in _STATUSES for s in statuses):
        raise ApiFailure.bad_data("status", f"must be one of {', '.join(_STATUSES)}")
    contact, phone = _status_subject(state, body)
    for status in statuses:
        if status in {"active", "subscribed"}:
            _set_subscribed(state, phone, subscribed=True)
        if status in {"active", "unblocked"}:
            state.blocked.discard(phone)
        if status == "unsubscribed":
            _set_subscribed(state, phone, subscribed=False)
        if status == "blocked":
            state.blocked.add(phone)
    if contact is not None:
        state.touch_contact(contact, call.now_us)  # is_opted_out is part of the contact
    return "success"


def batch_contacts(state: SandboxState, call: Call) -> Any:
    """``POST /v1/batch/contacts``: ``"ok"``, or the items that failed."""
    overwrite = _overwrite(call)
    items = call.body
    if not isinstance(items, list):
        raise ApiFailure.bad_data("body", "must be a JSON array of contacts")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiFailure.bad_data("body", f"item {index} is not an object: {show(item)}")
    failed: list[dict[str, Any]] = []
    for item in items:
        try:
            write = _parse_write(state, item, v2=False)
            existing = state.contacts_by_phone.get(_require_phone(write))
            if existing is not None and not overwrite:
                continue  # §2.4: without overwrite, existing phones are skipped
            _check_free(state, write, existing)
        except ApiFailure as failure:
            failed.append({**item, "error": failure.message})
            continue
        if existing is None:
            _create(state, write, call.now_us, v2=False)
        else:
            _update(state, existing, write, call.now_us, v2=False, overwrite=True)
    return failed or "ok"


# -- custom fields -------------------------------------------------------------------------


def list_custom_fields(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contact-fields``: every field's ``id`` and ``title``."""
    return [{"id": i, "title": title} for i, title in state.custom_fields.items()]


def create_custom_fields(state: SandboxState, call: Call) -> Any:
    """``POST /v1/contacts/fields``: ``[{title}]`` -> ``[{id, title, duplicate}]``."""
    items = call.body
    if not isinstance(items, list) or not items:
        raise ApiFailure.bad_data("body", 'must be a non-empty array of {"title": ...}')
    titles = []
    for item in items:
        title = item.get("title") if isinstance(item, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise ApiFailure.bad_data("title", f"each item needs a title, got {show(item)}")
        titles.append(title.strip())
    known = {title.lower(): i for i, title in state.custom_fields.items()}
    answer = []
    for title in titles:
        field_id = known.get(title.lower())
        duplicate = field_id is not None
        if field_id is None:
            field_id = known[title.lower()] = state.add_custom_field(title)
        answer.append(
            {"id": field_id, "title": state.custom_fields[field_id], "duplicate": duplicate}
        )
    return answer


# -- v2 ------------------------------------------------------------------------------------


def _contact_v2(state: SandboxState, call: Call) -> Contact:
    raw = call.params["contactID"]
    contact = state.contact_by_uuid(raw)
    if contact is None:
        raise ApiFailure.not_found(f"contact {raw!r}")
    return contact


def _require_listed_channel(write: _Write) -> None:
    if write.listed_channels < 1:
        raise ApiFailure.bad_data(
            "contact_channels", "give at least one {channel_type, channel_id}"
        )


def create_contact_v2(state: SandboxState, call: Call) -> Any:
    """``POST /v2/contact``: a contact with at least one channel; ``id`` is its UUID."""
    write = _parse_write(state, body_object(call), v2=True)
    _require_listed_channel(write)
    _check_free(state, write, None)
    return _created(_create(state, write, call.now_us, v2=True), v2=True)


def get_contact_v2(state: SandboxState, call: Call) -> Any:
    return state.contact_json(_contact_v2(state, call), v2=True)


def update_contact_v2(state: SandboxState, call: Call) -> Any:
    """``PUT /v2/contact/{contactID}``: fields replaced, channels added or changed."""
    contact = _contact_v2(state, call)
    overwrite = _overwrite(call)
    write = _parse_write(state, body_object(call), v2=True)
    _check_free(state, write, contact)
    _update(state, contact, write, call.now_us, v2=True, overwrite=overwrite)
    return state.contact_json(contact, v2=True)


def delete_contact_v2(state: SandboxState, call: Call) -> Any:
    state.delete_contact(_contact_v2(state, call))
    return "ok"


def upsert_contacts_v2(state: SandboxState, call: Call) -> Any:
    """``POST /v2/contacts``: items with ``contact_id`` update, the others create."""
    overwrite = _overwrite(call)
    items = get_list(body_object(call), "contacts")
    if items is None:
        raise ApiFailure.bad_data("contacts", "is required")
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ApiFailure.bad_data("contacts", f"each item is an object, got {show(item)}")
            existing = None
            raw_id = item.get("contact_id")
            if raw_id is not None:
                existing = state.contact_by_uuid(raw_id) if isinstance(raw_id, str) else None
                if existing is None:
                    raise ApiFailure.bad_data("contact_id", f"no contact {show(raw_id)}")
            write = _parse_write(state, item, v2=True)
            if existing is None:
                _require_listed_channel(write)
            _check_free(state, write, existing)
        except ApiFailure as failure:
            failed.append({"contact": item, "error": failure.message})
            continue
        if existing is None:
            contact = _create(state, write, call.now_us, v2=True)
        else:
            contact = existing
            _update(state, contact, write, call.now_us, v2=True, overwrite=overwrite)
        done.append(state.contact_json(contact, v2=True))
    return {"contacts": done, "failed_contacts": failed}


def _channel_groups(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups = get_list(body, "contact_channels")
    if not groups:
        raise ApiFailure.bad_data("contact_channels", "is required")
    for group in groups:
        if not isinstance(group, dict):
            raise ApiFailure.bad_data("contact_channels", f"each item is an object: {show(group)}")
    return groups


def _group_values(group: Mapping[str, Any]) -> list[Any]:
    values = group.get("channel_ids")
    if values is None and group.get("channel_id") is not None:
        values = [group["channel_id"]]
    if not isinstance(values, list) or not values:
        raise ApiFailure.bad_data("contact_channels", "channel_ids must be a non-empty array")
    return values


def delete_contacts_v2(state: SandboxState, call: Call) -> Any:
    """``DELETE /v2/contacts``: one ``{channel_type: "id", channel_ids: [uuid...]}`` entry."""
    groups = _channel_groups(body_object(call))
    if len(groups) != 1 or groups[0].get("channel_type") != "id":
        raise ApiFailure.bad_data(
            "contact_channels", 'give exactly one entry, with channel_type "id"'
        )
    ids = _group_values(groups[0])
    for raw in ids:
        if not isinstance(raw, str) or not UUID_RE.fullmatch(raw):
            raise ApiFailure.bad_data("contact_channels", f"not a contact UUID: {show(raw)}")
    for raw in ids:
        contact = state.contact_by_uuid(raw)
        if contact is not None:  # unknown ids are ignored, so a retry still answers "ok"
            state.delete_contact(contact)
    return "ok"


def search_contacts_v2(state: SandboxState, call: Call) -> Any:
    """``POST /v2/contacts/search``: contacts holding any of the phones or emails given."""
    found: dict[int, Contact] = {}
    for group in _channel_groups(body_object(call)):
        given_type = group.get("channel_type")
        if given_type is not None and given_type not in {"phone", "email"}:
            raise ApiFailure.bad_data(
                "contact_channels", f"channel_type must be phone or email, got {show(given_type)}"
            )
        for value in _group_values(group):
            # §2.4: the type may be inferred from the value's format.
            channel_type = given_type or ("email" if "@" in str(value) else "phone")
            checked = _channel_value(channel_type, "contact_channels", value)
            owner = state.channel_owner(channel_type, checked)
            if owner is not None:
                found.setdefault(owner.id, owner)
    return [state.contact_json(contact, v2=True) for contact in found.values()]


def list_contacts_v2(state: SandboxState, call: Call) -> Any:
    """``POST /v2/contacts/list``: ``limit`` per page, ``page`` from 0, ``date``, ``ascending``."""
    body = body_object(call)
    limit = read_limit(body)
    page = get_int(body, "page")
    if page is None:
        page = 0
    if page < 0:
        raise ApiFailure.bad_data("page", "must be 0 or more (pages start at 0)")
    cursor = read_cursor(body)
    ids = walk(state.contact_timeline, cursor, ascending=bool(get_bool(body, "ascending")))
    start = page * limit
    return [
        state.contact_json(state.contacts.peek(i), v2=True)
        for i in islice(ids, start, start + limit)
    ]


# -- v2 channels ---------------------------------------------------------------------------


def _write_channel(
    state: SandboxState, call: Call, *, adding: bool
) -> tuple[Contact, ChannelRecord]:
    contact = _contact_v2(state, call)
    channel = _channel(body_object(call), None)
    present = channel.type in contact.channels
    if adding and present:
        raise ApiFailure.bad_data(
            "channel_type", f"the contact already has a {channel.type} channel; PUT changes it"
        )
    if not adding and not present:
        raise ApiFailure.bad_data(
            "channel_type", f"the contact has no {channel.type} channel; POST adds one"
        )
    owner = state.channel_owner(channel.type, channel.value)
    if owner is not None and owner is not contact:
        raise ApiFailure.bad_data("channel_id", f"contact {owner.id} already has {channel.value}")
    now_us = call.now_us
    record = state.set_channel(
        contact, channel.type, channel.value, now_us, handle=channel.handle, info=channel.info
    )
    state.touch_contact(contact, now_us)
    return contact, record


def add_channel(state: SandboxState, call: Call) -> Any:
    """``POST /v2/contact/{contactID}/channel``: answers the contact's channels."""
    contact, _ = _write_channel(state, call, adding=True)
    return [state.channel_json(contact, record) for record in contact.channels.values()]


def update_channel(state: SandboxState, call: Call) -> Any:
    """``PUT /v2/contact/{contactID}/channel``: answers the changed channel."""
    contact, record = _write_channel(state, call, adding=False)
    return state.channel_json(contact, record)


def list_channels(state: SandboxState, call: Call) -> Any:
    contact = _contact_v2(state, call)
    return [state.channel_json(contact, record) for record in contact.channels.values()]


def _channel_of(state: SandboxState, call: Call) -> tuple[Contact, ChannelRecord]:
    contact = _contact_v2(state, call)
    channel_type = call.params["channelType"]
    record = contact.channels.get(channel_type)
    if record is None:
        raise ApiFailure.not_found(f"{channel_type!r} channel of contact {contact.uuid}")
    return contact, record


def get_channel(state: SandboxState, call: Call) -> Any:
    return state.channel_json(*_channel_of(state, call))


def delete_channel(state: SandboxState, call: Call) -> Any:
    contact, record = _channel_of(state, call)
    state.drop_channel(contact, record.type)
    state.touch_contact(contact, call.now_us)
    return "ok"


CONTACT_ROUTES: Final[tuple[Route, ...]] = (
    Route("POST", "/v1/contact", create_contact),
    Route("GET", "/v1/contact/{id}", get_contact),
    Route("PUT", "/v1/contact/{id}", update_contact),
    Route("DELETE", "/v1/contact/{id}", delete_contact),
    Route("POST", "/v1/contacts", list_contacts),
    Route("POST", "/v1/contacts/count", count_contacts),
    Route("POST", "/v1/contact/get", find_contact),
    Route("POST", "/v1/contact/status", contact_status),
    Route("POST", "/v1/contact/set_status", set_contact_status),
    Route("POST", "/v1/batch/contacts", batch_contacts),
    Route("POST", "/v1/contact-fields", list_custom_fields),
    Route("POST", "/v1/contacts/fields", create_custom_fields),
    Route("POST", "/v2/contact", create_contact_v2),
    Route("GET", "/v2/contact/{contactID}", get_contact_v2),
    Route("PUT", "/v2/contact/{contactID}", update_contact_v2),
    Route("DELETE", "/v2/contact/{contactID}", delete_contact_v2),
    Route("POST", "/v2/contacts", upsert_contacts_v2),
    Route("DELETE", "/v2/contacts", delete_contacts_v2),
    Route("POST", "/v2/contacts/search", search_contacts_v2),
    Route("POST", "/v2/contacts/list", list_contacts_v2),
    Route("POST", "/v2/contact/{contactID}/channel", add_channel),
    Route("PUT", "/v2/contact/{contactID}/channel", update_channel),
    Route("GET", "/v2/contact/{contactID}/channels", list_channels),
    Route("GET", "/v2/contact/{contactID}/channel/{channelType}", get_channel),
    Route("DELETE", "/v2/contact/{contactID}/channel/{channelType}", delete_channel),
)
