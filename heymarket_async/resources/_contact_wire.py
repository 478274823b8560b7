"""The contact endpoints without I/O: request builders, the read-modify-write merge of an
update (``PUT /v1/contact/{id}`` replaces the whole contact) and the readers of their answers,
shared by the v1 and v2 endpoints (contract §2.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from .. import _validation as check
from .._converter import unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError, UnexpectedResponseError
from ._base import (
    ResponseList,
    is_acknowledgement,
    read_list,
    read_model,
    unreadable,
    unwrap,
)
from ._contact_models import (
    _ERROR_KEYS,
    Contact,
    ContactBatchResult,
    ContactFailure,
    ContactField,
    ContactLookup,
    ContactPayload,
    ContactSaved,
    ContactsQuery,
    CreateContact,
    SetContactStatus,
    UpdateContact,
    _query_flag,
)

__all__ = [
    "batch_items",
    "build_batch_create_contacts",
    "build_contact_status",
    "build_count_contacts",
    "build_create_contact",
    "build_create_contact_fields",
    "build_delete_contact",
    "build_get_contact",
    "build_get_contact_by",
    "build_list_contact_fields",
    "build_list_contacts",
    "build_set_contact_status",
    "build_update_contact",
    "check_update",
    "map_custom_field_titles",
    "merge_update",
    "read_batch_result",
    "read_contact_fields",
    "read_contact_saved",
    "read_failures",
]

# --- Builders (pure) --------------------------------------------------------------------------


def build_create_contact(create: CreateContact) -> ApiRequest:
    """``POST /v1/contact``.

    Not replay-safe: §2.4 documents no ``local_id`` dedupe for contacts, so a create that
    may have reached the server is reported, never resent.
    """
    return ApiRequest(
        method="POST", path="/v1/contact", json=unstructure(create), replay_safe=False
    )


def build_get_contact(contact_id: int) -> ApiRequest:
    """``GET /v1/contact/{id}``."""
    check.check_positive_int("contact_id", contact_id)
    return ApiRequest(method="GET", path=path("/v1/contact/{}", contact_id))


def build_get_contact_by(lookup: ContactLookup) -> ApiRequest:
    """``POST /v1/contact/get``: a read (replay-safe); §2.4 types the ``id`` as a string."""
    return ApiRequest(
        method="POST",
        path="/v1/contact/get",
        json=lookup.body(id_as_string=True),
        replay_safe=True,
    )


def build_update_contact(update: UpdateContact) -> ApiRequest:
    """``PUT /v1/contact/{id}?overwrite=``: the whole contact, so repeating it is harmless."""
    return ApiRequest(
        method="PUT",
        path=path("/v1/contact/{}", update.contact_id),
        query=_query_flag(update.overwrite),
        json=unstructure(update),
    )


def build_delete_contact(contact_id: int) -> ApiRequest:
    """``DELETE /v1/contact/{id}`` (permanent: history and custom data go too)."""
    check.check_positive_int("contact_id", contact_id)
    return ApiRequest(method="DELETE", path=path("/v1/contact/{}", contact_id))


def build_list_contacts(query: ContactsQuery) -> ApiRequest:
    """``POST /v1/contacts``: one page, a read (replay-safe)."""
    return ApiRequest(method="POST", path="/v1/contacts", json=unstructure(query), replay_safe=True)


def build_count_contacts() -> ApiRequest:
    """``POST /v1/contacts/count``: a read (replay-safe); the body is empty (§7.13)."""
    return ApiRequest(method="POST", path="/v1/contacts/count", json={}, replay_safe=True)


def build_contact_status(lookup: ContactLookup) -> ApiRequest:
    """``POST /v1/contact/status``: a read (replay-safe); §2.4 types the ``id`` as an int."""
    return ApiRequest(
        method="POST",
        path="/v1/contact/status",
        json=lookup.body(id_as_string=False),
        replay_safe=True,
    )


def build_set_contact_status(change: SetContactStatus) -> ApiRequest:
    """``POST /v1/contact/set_status``: setting the same status twice ends in the same state,
    so it is replay-safe."""
    body = {**change.contact.body(id_as_string=False), "status": change.status.value}
    return ApiRequest(method="POST", path="/v1/contact/set_status", json=body, replay_safe=True)


def batch_items(contacts: Iterable[CreateContact | Mapping[str, Any]]) -> tuple[CreateContact, ...]:
    """The items of a batch create: :class:`CreateContact` values, or mappings of their
    fields (the write payload as in the API reference).

    Raises:
        RequestValidationError: not a list, no contacts, or an invalid item.
    """
    items = check.nested_tuple(CreateContact, "contacts", check.as_tuple("contacts", contacts))
    if not items:
        raise RequestValidationError("contacts", "give at least one contact")
    for index, item in enumerate(items):
        if not isinstance(item, CreateContact):
            raise RequestValidationError(
                f"contacts[{index}]",
                f"must be a CreateContact or a mapping of its fields, got {type(item).__name__}",
            )
    return items


def build_batch_create_contacts(
    contacts: Iterable[CreateContact | Mapping[str, Any]], *, overwrite: bool = False
) -> ApiRequest:
    """``POST /v1/batch/contacts?overwrite=`` with a JSON array body.

    Not replay-safe (creates, no documented dedupe). With ``overwrite=False`` the server
    skips phones it already has.

    Raises:
        RequestValidationError: no contacts, or an invalid item (see :func:`batch_items`).
    """
    if not isinstance(overwrite, bool):
        raise RequestValidationError(
            "overwrite", f"must be True or False, got {check.show(overwrite)}"
        )
    items = batch_items(contacts)
    return ApiRequest(
        method="POST",
        path="/v1/batch/contacts",
        query=_query_flag(overwrite),
        json=[unstructure(item) for item in items],
        replay_safe=False,
    )


def build_list_contact_fields() -> ApiRequest:
    """``POST /v1/contact-fields``: a read (replay-safe); the body is ``{}`` (§2.4)."""
    return ApiRequest(method="POST", path="/v1/contact-fields", json={}, replay_safe=True)


def build_create_contact_fields(titles: Iterable[str]) -> ApiRequest:
    """``POST /v1/contacts/fields`` with ``[{"title": ...}]``.

    Not replay-safe: no dedupe is documented (the answer's ``duplicate`` flag hints at one).

    Raises:
        RequestValidationError: no titles, an empty title, or a title given twice.
    """
    items = check.as_tuple("titles", titles)
    if not items:
        raise RequestValidationError("titles", "give at least one title")
    for index, title in enumerate(items):
        if not isinstance(title, str) or not title.strip():
            raise RequestValidationError(f"titles[{index}]", "must be a non-empty string")
        check.check_text(f"titles[{index}]", title)
    if len(set(items)) != len(items):
        raise RequestValidationError("titles", "a title appears more than once")
    return ApiRequest(
        method="POST",
        path="/v1/contacts/fields",
        json=[{"title": title} for title in items],
        replay_safe=False,
    )


# --- Read-modify-write (pure) -----------------------------------------------------------------


def check_update(changes: ContactPayload, *, overwrite: bool) -> None:
    """Refuse an update that changes nothing, or ``overwrite=True`` without ``custom``.

    Raises:
        RequestValidationError: as above.
    """
    if not isinstance(overwrite, bool):
        raise RequestValidationError(
            "overwrite", f"must be True or False, got {check.show(overwrite)}"
        )
    if not changes.given():
        raise RequestValidationError(None, "give at least one field to change")
    if overwrite and changes.custom is None:
        raise RequestValidationError(
            "custom",
            "overwrite=True replaces the whole custom map: give custom= (use {} to clear it)",
        )


_UNREADABLE: Final = object()  # current tags that cannot be turned back into tag ids


def _tag_id(tag: object) -> int | None:
    if isinstance(tag, Mapping):
        tag = tag.get("tag_id", tag.get("id"))
    if isinstance(tag, str) and tag.isascii() and tag.isdigit():
        tag = int(tag)
    if isinstance(tag, int) and not isinstance(tag, bool) and tag > 0:
        return tag
    return None


def _current_values(current: Contact) -> dict[str, Any]:
    """What ``current`` holds that the write payload can express, ready to resend.

    ``is_opted_out`` and ``email_suppressions`` are never carried over: resending a value
    read a moment ago could undo an opt-out that happened in between.
    """
    values: dict[str, Any] = {}
    for name in ("phone", "email", "first", "last", "display_name", "avatar"):
        value = getattr(current, name)
        if isinstance(value, str) and value:
            values[name] = value
    if current.custom:
        # Only id keys can be written back (§2.4); anything else would be dropped anyway.
        values["custom"] = {
            key: value for key, value in current.custom.items() if key.isascii() and key.isdigit()
        }
    if current.tags:
        ids = [_tag_id(tag) for tag in current.tags]
        if None in ids:
            values["tags"] = _UNREADABLE
        else:
            values["tags"] = tuple(ids)
    assigned = current.assigned_user_id
    if isinstance(assigned, int) and assigned > 0:
        values["assignee_id"] = assigned
    return values


def _full_name(first: str | None, last: str | None) -> str:
    return f"{first or ''} {last or ''}".strip()


def merge_update(
    contact_id: int, current: Contact, changes: ContactPayload, *, overwrite: bool = False
) -> UpdateContact:
    """The ``PUT`` that changes ``changes`` and keeps everything else ``current`` holds.

    The API wipes fields a PUT leaves out (§2.4), so the current phone, email, names,
    avatar, custom fields, tags and assignee are resent unless ``changes`` sets them. With
    ``overwrite=False`` the given ``custom`` entries are merged into the current ones; with
    ``overwrite=True`` the given ``custom`` replaces them. A ``display_name`` that is just
    "first last" follows a change of ``first`` or ``last`` (resending the old one would pin
    a stale name); any other display name is kept.

    Raises:
        RequestValidationError: see :func:`check_update`; or the contact has no phone and
            none is given; or a current value cannot be resent (pass that field explicitly).
    """
    check_update(changes, overwrite=overwrite)
    given = changes.given()
    current_values = _current_values(current)
    carried = {name: value for name, value in current_values.items() if name not in given}
    if carried.get("tags") is _UNREADABLE:
        raise RequestValidationError(
            "tags",
            f"cannot read contact {contact_id}'s current tags ({current.tags!r:.80}) to resend "
            "them; pass tags= explicitly",
        )
    if "custom" in given and not overwrite:
        given["custom"] = {**current_values.get("custom", {}), **given["custom"]}
    renaming = "first" in given or "last" in given
    if renaming and carried.get("display_name") == _full_name(current.first, current.last):
        renamed = _full_name(given.get("first", current.first), given.get("last", current.last))
        carried["display_name"] = renamed
        if not renamed:
            del carried["display_name"]
    if "phone" not in given and "phone" not in carried:
        raise RequestValidationError(
            "phone",
            f"contact {contact_id} has no phone number and PUT /v1/contact/{{id}} requires "
            "one: pass phone=, or use hm.contacts.v2.update()",
        )
    try:
        return UpdateContact(contact_id=contact_id, overwrite=overwrite, **carried, **given)
    except RequestValidationError as exc:
        if exc.field is None or exc.field.split("[")[0] not in carried:
            raise
        raise RequestValidationError(
            exc.field,
            f"contact {contact_id}'s current value cannot be resent ({exc.reason}); "
            f"pass {exc.field.split('[')[0]}= explicitly",
        ) from exc


def map_custom_field_titles(
    values: Mapping[str, Any], fields: Iterable[ContactField]
) -> dict[str, Any]:
    """``{title: value}`` to ``{field id: value}`` using the team's field definitions.

    Titles must match exactly. Nothing is dropped: an unknown or ambiguous title is an
    error, since the API would silently ignore it.

    Raises:
        RequestValidationError: a title is unknown, or names more than one field.
    """
    by_title: dict[str, list[int]] = {}
    for field in fields:
        if field.title is not None:
            by_title.setdefault(field.title, []).append(field.id)
    resolved: dict[str, Any] = {}
    unknown: list[str] = []
    for title, value in values.items():
        ids = by_title.get(title, [])
        if len(ids) > 1:
            raise RequestValidationError(
                "custom", f"the title {title!r} names several fields ({ids}); use the id"
            )
        if not ids:
            unknown.append(title)
        else:
            resolved[str(ids[0])] = value
    if unknown:
        known = ", ".join(repr(t) for t in sorted(by_title)[:20]) or "none"
        raise RequestValidationError(
            "custom",
            f"no custom field titled {', '.join(repr(t) for t in unknown)} (known titles: "
            f"{known}); create it with hm.contacts.create_fields([...]) or fix the title",
        )
    return resolved


# --- Reading answers (pure) -------------------------------------------------------------------


def _is_field_id(key: object) -> bool:
    # ASCII digits only: "²".isdigit() is true, and int() refuses it.
    return isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 18


def _fields_payload(data: Any) -> Any:
    data = unwrap(data, "fields", "contact_fields", "data")
    if isinstance(data, dict) and data and all(_is_field_id(k) for k in data):
        # A map of id -> title (or -> definition) is read as a list of definitions.
        return [
            {"id": int(key), **value}
            if isinstance(value, dict)
            else {"id": int(key), "title": value}
            for key, value in data.items()
        ]
    return data


def read_contact_fields(response: ApiResponse) -> ResponseList[ContactField]:
    """Custom field definitions from an array, a wrapped array, or an id -> title map."""
    if not response.readable:
        return read_list(response, ContactField)  # raises, saying why
    return read_list(attrs.evolve(response, data=_fields_payload(response.data)), ContactField)


def _failure(item: object, *, nested: str | None = None) -> ContactFailure:
    if not isinstance(item, dict):
        return ContactFailure(contact={"value": item})
    contact = item.get(nested) if nested is not None else None
    rest = {k: v for k, v in item.items() if k != nested}
    reason = next((str(rest[k]) for k in _ERROR_KEYS if rest.get(k) not in (None, "")), None)
    if not isinstance(contact, dict):
        contact = {k: v for k, v in item.items() if k not in _ERROR_KEYS}
    return ContactFailure(contact=contact, reason=reason)


def read_failures(
    items: object, *, nested: str | None = None, status: int, request_id: str | None
) -> tuple[ContactFailure, ...]:
    """Failed contacts from an array; ``nested`` names the key holding each contact."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise UnexpectedResponseError(
            f"the server accepted the request (HTTP {status}) but its answer could not be "
            f"read: expected an array of failed contacts, got {type(items).__name__}",
            status=status,
            request_id=request_id,
        )
    return tuple(_failure(item, nested=nested) for item in items)


def read_batch_result(response: ApiResponse, submitted: int) -> ContactBatchResult:
    """A :class:`ContactBatchResult` from ``"ok"``, an empty body, or an array."""
    if response.truncated:
        raise unreadable(response, "'ok' or an array of contacts")
    data = unwrap(response.data, "failed", "contacts", "data")
    if data is None or is_acknowledgement(data):
        return ContactBatchResult(submitted=submitted, request_id=response.request_id)
    if not isinstance(data, list) or not response.readable:
        raise unreadable(response, "'ok' or an array of contacts")
    saved: list[Any] = []
    failed: list[Any] = []
    for item in data:
        (saved if _is_saved_contact(item) else failed).append(item)
    return ContactBatchResult(
        submitted=submitted,
        failed=read_failures(failed, status=response.status, request_id=response.request_id),
        saved=tuple(read_list(attrs.evolve(response, data=saved), Contact)),
        request_id=response.request_id,
    )


def _is_saved_contact(item: object) -> bool:
    # A write payload has no `id`, so an item with one (and no error) is a stored contact.
    return (
        isinstance(item, dict)
        and "id" in item
        and all(item.get(key) in (None, "") for key in _ERROR_KEYS)
    )


def _with_known_id(response: ApiResponse, contact_id: int | str) -> ApiResponse:
    # A write answer is documented as {id, rev, uuid}; a bare "ok" still means a 2xx, and
    # the contact is the one in our path.
    data = unwrap(response.data, "contact")
    data = data if isinstance(data, dict) else {}
    return attrs.evolve(response, data={"id": contact_id, **data})


def read_contact_saved(response: ApiResponse, contact_id: int | str) -> ContactSaved:
    """A :class:`ContactSaved` for an update, the id filled in when the answer lacks it."""
    return read_model(_with_known_id(response, contact_id), ContactSaved)
