"""Contacts (v1): create, read, update, delete, page, count, opt-out status, batch create and
custom fields; the v2 endpoints are in :mod:`.contacts_v2`, reached as ``hm.contacts.v2``.

Contract: heymarket-api.md §2.4 (endpoints, Contact object, write payload, important
behaviours) and §3 (the ``date`` cursor, counts as JSON strings). Two behaviours shape this
module:

* Custom fields are keyed by field **id**. The API accepts a title-keyed ``custom`` and
  silently drops it, so a write model refuses any non-numeric key; titles are turned into
  ids only through :meth:`Contacts.resolve_custom_fields`.
* ``PUT /v1/contact/{id}`` behaves like a full replacement (``phone`` required, unspecified
  fields wiped), so :meth:`Contacts.update` reads the contact first and resends what the
  caller did not change; :meth:`Contacts.replace` is the deliberate full replacement.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError, UnexpectedResponseError
from ._base import (
    Requester,
    Resource,
    ResponseList,
    ResponseModel,
    Timeout,
    is_acknowledgement,
    read_list,
    read_model,
    unreadable,
    unwrap,
)
from ._paging import read_count, walk_by_timestamp

if TYPE_CHECKING:
    from .contacts_v2 import ContactsV2

__all__ = [
    "MAX_TAGS",
    "Contact",
    "ContactBatchResult",
    "ContactFailure",
    "ContactField",
    "ContactLookup",
    "ContactNote",
    "ContactPayload",
    "ContactSaved",
    "ContactStatus",
    "Contacts",
    "ContactsQuery",
    "CreateContact",
    "MessagingStatus",
    "SetContactStatus",
    "UpdateContact",
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
    "iter_all_contacts",
    "map_custom_field_titles",
    "merge_update",
    "read_batch_result",
    "read_contact_fields",
    "read_failures",
]

MAX_TAGS: Final = 5  # §2.4: a contact holds at most 5 tags
_ERROR_KEYS: Final = ("error", "message", "reason", "error_message", "error_code", "code")
_DIGITS: Final = frozenset("0123456789")


class ContactStatus(enum.StrEnum):
    """The statuses ``POST /v1/contact/set_status`` accepts (§2.4)."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ContactNote:
    """A note on a contact (generated schema)."""

    id: str | None = None
    text: str | None = None
    name: str | None = None
    user_id: int | None = None
    date: datetime | None = None


@attrs.frozen(kw_only=True)
class ContactBase:
    """The fields a contact has in both API versions (every one optional: documented, not
    promised). ``custom`` is keyed by field id as a string; ``tags`` are kept as sent."""

    uuid: str | None = None
    phone: str | None = None
    email: str | None = None
    first: str | None = None
    last: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    custom: dict[str, Any] | None = None
    tags: tuple[Any, ...] = ()
    assigned_user_id: int | None = None
    is_opted_out: bool | None = None
    team_id: int | None = None
    creator_id: int | None = None
    inbox_id: int | None = None
    parent_id: int | None = None
    shared: bool | None = None
    type: str | None = None
    external_id: str | int | None = None
    external_ref: str | None = None
    note: tuple[ContactNote, ...] = ()
    op: str | None = None
    rev: int | None = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class Contact(ContactBase):
    """A v1 contact (§2.4); ``id`` is what ``hm.contacts.get`` and ``update`` take."""

    id: int


@attrs.frozen(kw_only=True)
class ContactSaved(ResponseModel):
    """The answer to a create or update: ``{id, rev, uuid}`` (v2 ids may be UUID strings)."""

    id: int | str
    rev: int | None = None
    uuid: str | None = None


def _boolish(value: object) -> object:
    # The status answer's flags are documented as booleans; 0/1 and "true"/"false" are read
    # as such (cattrs alone would turn "false" into True).
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    if isinstance(value, int) and not isinstance(value, bool) and value in {0, 1}:
        return bool(value)
    return value


_STATUS_FLAGS: Final = ("unsubscribed", "blocked", "unsubscribed_admin", "unsubscribed_contact")


@attrs.frozen(kw_only=True)
class MessagingStatus(ResponseModel):
    """A contact's messaging status from ``POST /v1/contact/status`` (§2.4).

    Attributes:
        unsubscribed: the contact opted out (or was opted out): you cannot send to it.
        blocked: no messages in either direction.
        unsubscribed_admin: opted out by a team member, when the server says.
        unsubscribed_contact: opted out by the contact (STOP ...), when the server says.
    """

    id: int | None = None
    phone: str | None = None
    unsubscribed: bool = False
    blocked: bool = False
    unsubscribed_admin: bool | None = None
    unsubscribed_contact: bool | None = None

    @property
    def is_opted_out(self) -> bool:
        """Whether any opt-out flag is set."""
        return bool(self.unsubscribed or self.unsubscribed_admin or self.unsubscribed_contact)

    @property
    def can_message(self) -> bool:
        """Whether a message to this contact may be sent: neither opted out nor blocked."""
        return not (self.is_opted_out or self.blocked)


def _status_flags(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _boolish(value) if key in _STATUS_FLAGS else value for key, value in data.items()}


@attrs.frozen(kw_only=True)
class ContactField:
    """A custom field definition: its ``id`` is the key contacts' ``custom`` maps use.

    Attributes:
        duplicate: set by ``create_fields`` when the title already existed.
    """

    id: int
    title: str | None = None
    duplicate: bool | None = None


def _field_title(data: dict[str, Any]) -> dict[str, Any]:
    # §7.13: the listing's shape is undocumented; `name` or `label` stand in for `title`.
    if "title" not in data:
        for key in ("name", "label"):
            if isinstance(data.get(key), str):
                return {**data, "title": data[key]}
    return data


@attrs.frozen(kw_only=True)
class ContactFailure:
    """One contact a batch or bulk write did not save.

    Attributes:
        contact: the contact as the server echoed it (usually what was sent).
        reason: the server's explanation, when it gave one.
    """

    contact: dict[str, Any]
    reason: str | None = None

    @property
    def phone(self) -> str | None:
        """The failed contact's phone, when the echo carries one."""
        value = self.contact.get("phone")
        return value if isinstance(value, str) else None


@attrs.frozen(kw_only=True)
class ContactBatchResult(ResponseModel):
    """What ``POST /v1/batch/contacts`` did.

    §2.4 documents ``"ok"`` or an array of the contacts that failed; the generated schema
    says an array of contacts. An array item carrying an ``id`` (which no write payload
    has) is read as a saved contact, any other item as a failure.

    Attributes:
        submitted: how many contacts were sent.
        failed: the contacts the server reported as failed.
        saved: contacts the server returned as saved (only if it answers that way).
    """

    submitted: int
    failed: tuple[ContactFailure, ...] = ()
    saved: tuple[Contact, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no contact failed."""
        return not self.failed


# Nested models first: a hook is generated with the hooks its fields have at that moment.
check.read_leniently(ContactNote)
check.read_leniently(Contact)
check.read_leniently(ContactSaved)
check.read_leniently(MessagingStatus, prepare=_status_flags)
check.read_leniently(ContactField, prepare=_field_title)


# --- Request models -------------------------------------------------------------------------


def _custom_converter(value: Mapping[Any, Any] | None) -> dict[Any, Any] | None:
    # Integer keys become strings (the wire form, §2.4); anything else is left for the
    # validator to judge. A copy is taken so the caller's mapping can change freely.
    if not isinstance(value, Mapping):
        return value
    return {
        str(key) if isinstance(key, int) and not isinstance(key, bool) else key: item
        for key, item in value.items()
    }


def _custom(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise RequestValidationError(
            attribute.name,
            f"must be a mapping of custom field id to value, got {type(value).__name__}",
        )
    for key, item in value.items():
        if not (isinstance(key, str) and key and set(key) <= _DIGITS and key != "0" * len(key)):
            # §2.4: a title-keyed field is accepted with 200 and silently dropped.
            raise RequestValidationError(
                attribute.name,
                f"keys are custom field ids such as 12 or '12', got {key!r}; the API silently "
                "drops fields keyed by title, so convert titles first with "
                "`await hm.contacts.resolve_custom_fields({...})`",
            )
        check.check_json_value(f"{attribute.name}[{key!r}]", item)


def _optional_str(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check.check_text(attribute.name, value)


def _optional_email(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise RequestValidationError(
            attribute.name, f"must be a string, got {type(value).__name__}"
        )
    check.email_address(attribute.name, value)


def _tags(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    check.positive_int_tuple(_inst, attribute, value)
    assert isinstance(value, tuple)
    if len(value) > MAX_TAGS:
        raise RequestValidationError(
            attribute.name, f"a contact holds at most {MAX_TAGS} tags, got {len(value)}"
        )
    if len(set(value)) != len(value):
        raise RequestValidationError(attribute.name, "a tag id appears more than once")


def _assignee(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    # -1 clears the assignment (§2.4).
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (value <= 0 and value != -1)
        or value > check.MAX_ID
    ):
        raise RequestValidationError(
            attribute.name,
            f"must be a user id, or -1 to clear the assignment, got {check.show(value)}",
        )


def _optional_ids(value: Iterable[int] | None) -> tuple[int, ...] | None:
    return check.optional_int_tuple(value)


def _tag_ids(value: Iterable[int | Mapping[str, Any]] | None) -> tuple[int, ...] | None:
    # The wire form [{"tag_id": 5}] (§2.4, as in the API reference) is read as the id 5.
    ids = check.optional_int_tuple(value)  # type: ignore[arg-type]
    if not isinstance(ids, tuple):
        return ids
    return tuple(_wire_tag(tag) for tag in ids)


def _wire_tag(tag: object) -> Any:
    if isinstance(tag, Mapping) and set(tag) == {"tag_id"}:
        return tag["tag_id"]
    return tag  # anything else is judged by the validator


@attrs.frozen(kw_only=True)
class ContactPayload:
    """The contact write payload (§2.4), every field optional; a base for the write models.

    Attributes:
        phone: E.164 digits without ``+`` (see :func:`~heymarket_async.normalize_phone`).
        email: one email address.
        first, last, display_name: names.
        avatar: an image URL.
        custom: custom field **id** (``12`` or ``"12"``) to value. A key that is not an id
            (e.g. a field title) is refused, because the API would drop it silently:
            translate titles with ``await hm.contacts.resolve_custom_fields({...})``.
        tags: up to 5 tag ids (sent as ``[{"tag_id": id}]``; that form is accepted too).
        assignee_id: the assigned user's id; ``-1`` clears the assignment.
        is_opted_out: mark the contact opted out (or not).
        email_suppressions: as the API defines them (integer ids).

    Raises:
        RequestValidationError: a field is invalid.
    """

    phone: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    email: str | None = attrs.field(default=None, validator=_optional_email)
    first: str | None = attrs.field(default=None, validator=_optional_str)
    last: str | None = attrs.field(default=None, validator=_optional_str)
    display_name: str | None = attrs.field(default=None, validator=_optional_str)
    avatar: str | None = attrs.field(default=None, validator=_optional_str)
    custom: dict[str, Any] | None = attrs.field(
        default=None, converter=_custom_converter, validator=_custom
    )
    tags: tuple[int, ...] | None = attrs.field(default=None, converter=_tag_ids, validator=_tags)
    assignee_id: int | None = attrs.field(default=None, validator=_assignee)
    is_opted_out: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.boolean)
    )
    email_suppressions: tuple[int, ...] | None = attrs.field(
        default=None,
        converter=_optional_ids,
        validator=attrs.validators.optional(check.positive_int_tuple),
    )

    def given(self) -> dict[str, Any]:
        """The payload fields that are set, by name."""
        return {
            field.name: getattr(self, field.name)
            for field in attrs.fields(ContactPayload)
            if getattr(self, field.name) is not None
        }


def _require_phone(model: ContactPayload, what: str) -> None:
    if model.phone is None:
        raise RequestValidationError("phone", f"{what} requires a phone number (§2.4)")


@attrs.frozen(kw_only=True)
class CreateContact(ContactPayload):
    """A validated ``POST /v1/contact`` request (also one item of a batch create); ``phone``
    is required."""

    def __attrs_post_init__(self) -> None:
        _require_phone(self, "creating a v1 contact")


@attrs.frozen(kw_only=True)
class UpdateContact(ContactPayload):
    """A validated ``PUT /v1/contact/{id}?overwrite=`` request: the full new contact.

    The API treats the body as a replacement (fields left out are wiped) and requires
    ``phone``. ``overwrite=False`` merges ``custom`` into the stored map, ``True`` replaces
    the map. Build one with :func:`merge_update` to carry the current values over.
    """

    contact_id: int = attrs.field(validator=check.positive_int)
    overwrite: bool = attrs.field(default=False, validator=check.boolean)

    def __attrs_post_init__(self) -> None:
        _require_phone(self, "PUT /v1/contact/{id}")


def _lookup_id(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value  # type: ignore[return-value]


@attrs.frozen(kw_only=True)
class ContactLookup:
    """A contact named by ``phone`` or ``id`` (``get_by``, ``status``, ``set_status``).

    When both are given the phone wins, as the API documents for ``POST /v1/contact/get``;
    only the phone is sent then.
    """

    phone: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    id: int | None = attrs.field(
        default=None,
        converter=_lookup_id,
        validator=attrs.validators.optional(check.positive_int),
    )

    def __attrs_post_init__(self) -> None:
        if self.phone is None and self.id is None:
            raise RequestValidationError(None, "give the contact's phone or id")

    def body(self, *, id_as_string: bool) -> dict[str, Any]:
        """The wire form: ``{"phone": ...}`` or ``{"id": ...}``."""
        if self.phone is not None:
            return {"phone": self.phone}
        return {"id": str(self.id) if id_as_string else self.id}


def _status(value: object) -> object:
    try:
        return ContactStatus(value)  # type: ignore[arg-type]
    except ValueError:
        return value  # refused by the validator, with the allowed values


def _status_value(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, ContactStatus):
        allowed = ", ".join(repr(s.value) for s in ContactStatus)
        raise RequestValidationError(
            attribute.name, f"must be one of {allowed}, got {check.show(value)}"
        )


@attrs.frozen(kw_only=True)
class SetContactStatus:
    """A validated ``POST /v1/contact/set_status`` request."""

    contact: ContactLookup
    status: ContactStatus = attrs.field(converter=_status, validator=_status_value)


@attrs.frozen(kw_only=True)
class ContactsQuery:
    """A validated ``POST /v1/contacts`` body: ``before`` is the ``date`` cursor (contacts
    updated before it), ``limit`` the page size (the server's default is 30)."""

    before: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.aware_datetime)
    )
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )


# --- Wire mapping -----------------------------------------------------------------------------


def _tags_on_wire(body: dict[str, Any]) -> dict[str, Any]:
    if "tags" in body:
        body["tags"] = [{"tag_id": tag} for tag in body["tags"]]
    return body


def register_payload_hook(cls: type[ContactPayload], *, omit: tuple[str, ...] = ()) -> None:
    """Unstructure ``cls`` as the API's write payload: unset fields left out, tags as
    ``[{"tag_id": id}]``, and the ``omit`` fields (path or query values) never in the body."""
    overrides: dict[str, Any] = {name: override(omit=True) for name in omit}
    base = make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **overrides)
    converter.register_unstructure_hook(cls, lambda value: _tags_on_wire(base(value)))


register_payload_hook(ContactPayload)
register_payload_hook(CreateContact)
register_payload_hook(UpdateContact, omit=("contact_id", "overwrite"))
converter.register_unstructure_hook(
    ContactsQuery,
    make_dict_unstructure_fn(
        ContactsQuery, converter, _cattrs_omit_if_default=True, before=override(rename="date")
    ),
)


def _query_flag(value: bool) -> dict[str, str]:
    return {"overwrite": "true" if value else "false"}


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


# --- Paging -----------------------------------------------------------------------------------


def iter_all_contacts(
    requester: Requester,
    query: ContactsQuery,
    *,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Contact, None]:
    """Walk ``POST /v1/contacts`` newest ``updated`` first with the ``date`` cursor (§3).

    The cursor is the last (oldest) contact's ``updated``; contacts come once each and the
    walk always ends: it stops on an empty page, after ``max_pages``, or on a page that
    brings nothing new without moving the cursor (the rules of
    :func:`~heymarket_async.resources._paging.walk_by_timestamp`).

    Raises:
        RequestValidationError: ``max_pages`` is not a positive integer.
    """

    async def fetch(cursor: datetime | None) -> ResponseList[Contact]:
        request = build_list_contacts(attrs.evolve(query, before=cursor))
        response = await requester.request(request, timeout=timeout)
        return read_list(response, Contact, wrappers=("contacts",))

    return walk_by_timestamp(
        fetch, timestamp=lambda contact: contact.updated, start=query.before, max_pages=max_pages
    )


# --- Service ----------------------------------------------------------------------------------


class Contacts(Resource):
    """Contacts: the v1 endpoints here, the v2 (UUID, channel) endpoints under ``.v2``."""

    def __init__(self, requester: Requester) -> None:
        from .contacts_v2 import ContactsV2  # noqa: PLC0415 - contacts_v2 imports this module

        super().__init__(requester)
        self.v2: Final[ContactsV2] = ContactsV2(requester)

    async def create(
        self,
        *,
        phone: str,
        email: str | None = None,
        first: str | None = None,
        last: str | None = None,
        display_name: str | None = None,
        avatar: str | None = None,
        custom: Mapping[int | str, Any] | None = None,
        tags: Iterable[int | Mapping[str, Any]] | None = None,
        assignee_id: int | None = None,
        is_opted_out: bool | None = None,
        email_suppressions: Iterable[int] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactSaved:
        """Create a contact (``POST /v1/contact``).

        The arguments are those of :class:`ContactPayload`. A create that fails ambiguously
        (5xx, timeout, reset) is not resent: no dedupe exists for contacts, so check with
        :meth:`get_by` before trying again.

        Returns:
            The new contact's ``id``, ``rev`` and ``uuid``.

        Raises:
            RequestValidationError: invalid arguments (e.g. a title-keyed ``custom``);
                nothing was sent.
            APIError: the API refused it.
        """
        create = CreateContact(
            phone=phone,
            email=email,
            first=first,
            last=last,
            display_name=display_name,
            avatar=avatar,
            custom=custom,
            tags=tags,
            assignee_id=assignee_id,
            is_opted_out=is_opted_out,
            email_suppressions=email_suppressions,
        )
        response = await self._requester.request(build_create_contact(create), timeout=timeout)
        return read_model(response, ContactSaved, wrapper="contact")

    async def get(self, contact_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Contact:
        """One contact by its integer id (``GET /v1/contact/{id}``).

        Raises:
            NotFoundError: no such contact.
        """
        response = await self._requester.request(build_get_contact(contact_id), timeout=timeout)
        return read_model(response, Contact, wrapper="contact")

    async def get_by(
        self,
        *,
        phone: str | None = None,
        id: int | None = None,  # noqa: A002 - the API's field name
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Contact:
        """One contact by phone or id (``POST /v1/contact/get``); the phone wins if both
        are given.

        Raises:
            RequestValidationError: neither given, or invalid.
        """
        lookup = ContactLookup(phone=phone, id=id)
        response = await self._requester.request(build_get_contact_by(lookup), timeout=timeout)
        return read_model(response, Contact, wrapper="contact")

    async def update(
        self,
        contact_id: int,
        *,
        phone: str | None = None,
        email: str | None = None,
        first: str | None = None,
        last: str | None = None,
        display_name: str | None = None,
        avatar: str | None = None,
        custom: Mapping[int | str, Any] | None = None,
        tags: Iterable[int | Mapping[str, Any]] | None = None,
        assignee_id: int | None = None,
        is_opted_out: bool | None = None,
        email_suppressions: Iterable[int] | None = None,
        overwrite: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactSaved:
        """Change some fields of a contact and keep the rest (read-modify-write).

        ``PUT /v1/contact/{id}`` behaves like a full replacement: it requires ``phone`` and
        wipes fields it does not get (§2.4). So this first reads the contact
        (``GET /v1/contact/{id}``), then PUTs the given fields together with the current
        phone, email, names, avatar, custom fields, tags and assignee (see
        :func:`merge_update`). Arguments left as ``None`` are unchanged. It is not atomic:
        a change someone makes between the read and the write can be overwritten.
        ``is_opted_out`` is sent only when given, so a concurrent opt-out is never undone.
        To clear fields, use :meth:`replace`.

        Args:
            contact_id: the contact's integer id.
            custom: custom field id -> value; merged into the current values, or with
                ``overwrite=True`` replacing them all (``{}`` clears them).
            overwrite: the API's ``overwrite`` flag (replace the ``custom`` map).

        Raises:
            RequestValidationError: invalid arguments, nothing to change, or the contact
                has no phone (pass ``phone=``); nothing was sent.
            NotFoundError: no such contact.
        """
        changes = ContactPayload(
            phone=phone,
            email=email,
            first=first,
            last=last,
            display_name=display_name,
            avatar=avatar,
            custom=custom,
            tags=tags,
            assignee_id=assignee_id,
            is_opted_out=is_opted_out,
            email_suppressions=email_suppressions,
        )
        check.check_positive_int("contact_id", contact_id)
        check_update(changes, overwrite=overwrite)
        current = await self.get(contact_id, timeout=timeout)
        update = merge_update(contact_id, current, changes, overwrite=overwrite)
        response = await self._requester.request(build_update_contact(update), timeout=timeout)
        return read_contact_saved(response, contact_id)

    async def replace(
        self,
        contact_id: int,
        *,
        phone: str,
        email: str | None = None,
        first: str | None = None,
        last: str | None = None,
        display_name: str | None = None,
        avatar: str | None = None,
        custom: Mapping[int | str, Any] | None = None,
        tags: Iterable[int | Mapping[str, Any]] | None = None,
        assignee_id: int | None = None,
        is_opted_out: bool | None = None,
        email_suppressions: Iterable[int] | None = None,
        overwrite: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactSaved:
        """Replace a contact with exactly these fields (one ``PUT /v1/contact/{id}``).

        Fields left out are expected to be wiped by the API (§2.4); use :meth:`update` to
        change some fields and keep the others.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
            NotFoundError: no such contact.
        """
        update = UpdateContact(
            contact_id=contact_id,
            overwrite=overwrite,
            phone=phone,
            email=email,
            first=first,
            last=last,
            display_name=display_name,
            avatar=avatar,
            custom=custom,
            tags=tags,
            assignee_id=assignee_id,
            is_opted_out=is_opted_out,
            email_suppressions=email_suppressions,
        )
        response = await self._requester.request(build_update_contact(update), timeout=timeout)
        return read_contact_saved(response, contact_id)

    async def delete(self, contact_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Delete a contact permanently, with its history and custom data.

        Raises:
            NotFoundError: no such contact.
        """
        await self._requester.request(build_delete_contact(contact_id), timeout=timeout)

    def iter_all(
        self,
        *,
        before: datetime | None = None,
        limit: int | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Contact, None]:
        """Every contact, most recently updated first, fetched lazily page by page.

        Use as ``async for contact in hm.contacts.iter_all(): ...``. Listings may carry
        partial objects (§2.4, e.g. no full avatar): :meth:`get` one for every field.

        Args:
            before: start with contacts updated before this time (aware ``datetime``).
            limit: page size sent to the server (its default is 30).
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        query = ContactsQuery(before=before, limit=limit)
        return iter_all_contacts(self._requester, query, max_pages=max_pages, timeout=timeout)

    async def count(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """How many contacts the team has (``POST /v1/contacts/count``, a JSON string)."""
        response = await self._requester.request(build_count_contacts(), timeout=timeout)
        return read_count(response)

    async def status(
        self,
        *,
        phone: str | None = None,
        id: int | None = None,  # noqa: A002 - the API's field name
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> MessagingStatus:
        """Whether a contact opted out or is blocked (``POST /v1/contact/status``).

        Raises:
            RequestValidationError: neither ``phone`` nor ``id`` given, or invalid.
            NotFoundError: the API knows no such contact.
        """
        lookup = ContactLookup(phone=phone, id=id)
        response = await self._requester.request(build_contact_status(lookup), timeout=timeout)
        return read_model(response, MessagingStatus, wrapper="status")

    async def set_status(
        self,
        *,
        status: ContactStatus | str,
        phone: str | None = None,
        id: int | None = None,  # noqa: A002 - the API's field name
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """Block, unblock, subscribe or unsubscribe a contact (``POST /v1/contact/set_status``).

        Args:
            status: a :class:`ContactStatus` (or its value, e.g. ``"unsubscribed"``).

        Raises:
            RequestValidationError: an unknown status, or no contact named.
        """
        change = SetContactStatus(contact=ContactLookup(phone=phone, id=id), status=status)
        await self._requester.request(build_set_contact_status(change), timeout=timeout)

    async def batch_create(
        self,
        contacts: Iterable[CreateContact | Mapping[str, Any]],
        *,
        overwrite: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactBatchResult:
        """Create many contacts in one request (``POST /v1/batch/contacts``).

        Not resent after an ambiguous failure (no dedupe is documented).

        Args:
            contacts: :class:`CreateContact` items, or mappings of their fields.
            overwrite: update contacts whose phone exists (default: skip them).

        Returns:
            The report; ``result.failed`` lists the contacts the server refused.
        """
        items = batch_items(contacts)
        request = build_batch_create_contacts(items, overwrite=overwrite)
        response = await self._requester.request(request, timeout=timeout)
        return read_batch_result(response, len(items))

    async def list_fields(
        self, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResponseList[ContactField]:
        """The team's custom field definitions (``POST /v1/contact-fields``)."""
        response = await self._requester.request(build_list_contact_fields(), timeout=timeout)
        return read_contact_fields(response)

    async def create_fields(
        self, titles: Iterable[str], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResponseList[ContactField]:
        """Create custom fields by title (``POST /v1/contacts/fields``).

        Returns:
            One definition per title with its ``id`` (``duplicate`` set when it existed).
        """
        request = build_create_contact_fields(titles)
        response = await self._requester.request(request, timeout=timeout)
        return read_contact_fields(response)

    async def resolve_custom_fields(
        self, values: Mapping[str, Any], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> dict[str, Any]:
        """Translate ``{field title: value}`` into the ``{field id: value}`` the API needs.

        ``await hm.contacts.resolve_custom_fields({"Favorite color": "blue"})`` returns
        ``{"12": "blue"}``. Lists the fields once per call.

        Raises:
            RequestValidationError: a title is unknown or ambiguous (it is named).
        """
        if not isinstance(values, Mapping):
            raise RequestValidationError("values", "must be a mapping of field title to value")
        check.check_json_value("values", values)  # before any request: they will be sent
        fields = await self.list_fields(timeout=timeout)
        return map_custom_field_titles(values, fields)
