"""The contact models shared by the v1 and v2 endpoints: what a contact answer reads into,
what a create or update carries (custom fields keyed by id, at most five tags), and how a
write model goes on the wire (contract §2.4).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._converter import converter
from ..errors import RequestValidationError
from ._base import (
    ResponseModel,
)

__all__ = [
    "Contact",
    "ContactBatchResult",
    "ContactFailure",
    "ContactField",
    "ContactLookup",
    "ContactNote",
    "ContactPayload",
    "ContactSaved",
    "ContactStatus",
    "ContactsQuery",
    "CreateContact",
    "MAX_TAGS",
    "MessagingStatus",
    "SetContactStatus",
    "UpdateContact",
    "register_payload_hook",
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
