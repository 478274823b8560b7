"""Contacts (v2): UUID ids and channels (phone, email, ...), reached as ``hm.contacts.v2``.

Contract: heymarket-api.md §2.4 (the ``/v2/contact`` and ``/v2/contacts`` rows, the
ContactChannel object) and §3 (``page``/``limit`` paging from page 0). The write payload is
the v1 one (:class:`~.contacts.ContactPayload`, same custom-field and tag rules) plus
``contact_channels``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs
from cattrs.gen import make_dict_unstructure_fn

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
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
from ._contact_models import (
    ContactBase,
    ContactFailure,
    ContactPayload,
    ContactSaved,
    register_payload_hook,
)
from ._contact_wire import (
    read_contact_saved,
    read_failures,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ContactChannel",
    "ContactChannelInput",
    "ContactUpsertResult",
    "ContactV2",
    "ContactsPageQuery",
    "ContactsV2",
    "CreateContactV2",
    "UpdateContactV2",
    "build_add_channel",
    "build_bulk_delete_contacts",
    "build_bulk_upsert_contacts",
    "build_create_contact_v2",
    "build_delete_channel",
    "build_delete_contact_v2",
    "build_get_channel",
    "build_get_contact_v2",
    "build_list_channels",
    "build_list_contacts_page",
    "build_search_contacts",
    "build_update_channel",
    "build_update_contact_v2",
    "channel_input",
    "iter_contacts_pages",
    "read_channels",
    "read_upsert_result",
]

DEFAULT_PAGE_SIZE: Final = 30  # the documented example of POST /v2/contacts/list (§2.4)
_CHANNEL_TYPE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ContactChannel:
    """One way to reach a contact (§2.4 ContactChannel); ``id``/``contact_id`` are ints in
    the generated schema and UUID strings in the prose, so both are accepted."""

    id: int | str | None = None
    contact_id: int | str | None = None
    team_id: int | None = None
    channel_type: str | None = None
    channel_id: str | None = None
    channel_handle: str | None = None
    info_channel: Any = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class ContactV2(ContactBase):
    """A contact as the v2 endpoints return it (the generated Contact schema plus channels).

    Attributes:
        id: the id the server sent (a UUID string, or the integer id).
        contact_channels: the contact's channels, when the answer includes them.
    """

    id: int | str
    contact_channels: tuple[ContactChannel, ...] = ()

    @property
    def contact_uuid(self) -> str | None:
        """The UUID the ``/v2/contact/{id}`` paths take: ``uuid``, else a string ``id``."""
        if self.uuid:
            return self.uuid
        return self.id if isinstance(self.id, str) else None


@attrs.frozen(kw_only=True)
class ContactUpsertResult(ResponseModel):
    """What ``POST /v2/contacts`` did: the saved ``contacts`` and the ``failed_contacts``."""

    contacts: tuple[ContactV2, ...] = ()
    failed_contacts: tuple[ContactFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no contact failed."""
        return not self.failed_contacts


check.read_leniently(ContactChannel)
check.read_leniently(ContactV2)


# --- Request models -------------------------------------------------------------------------


def check_contact_uuid(name: str, value: object) -> None:
    """Raise unless ``value`` is a v2 contact id: a UUID string (§2.4: "by UUID"), not a v1
    integer id. The format check also keeps anything that could rewrite a URL path out."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise RequestValidationError(
            name,
            "v2 takes the contact's UUID, not the v1 integer id; use hm.contacts.get() "
            "for integer ids",
        )
    check.check_uuid(name, value)


def _contact_uuid(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_contact_uuid(attribute.name, value)


def check_channel_type(name: str, value: object) -> str:
    """``value`` if it is a channel type (``phone``, ``email``, ``facebook``...), else raise."""
    if not isinstance(value, str) or not _CHANNEL_TYPE_RE.fullmatch(value):
        raise RequestValidationError(
            name, f"must be a channel type such as 'phone' or 'email', got {check.show(value)}"
        )
    return value


def _channel_type(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_channel_type(attribute.name, value)


def check_channel_value(name: str, channel_type: str, value: object) -> None:
    """Raise unless ``value`` suits ``channel_type`` (phones E.164 without ``+``, emails
    valid; other types need a non-empty string)."""
    if not isinstance(value, str) or not value.strip():
        raise RequestValidationError(name, f"must be a non-empty string, got {value!r:.80}")
    check.check_text(name, value)
    if channel_type == "phone":
        check.check_phone(name, value)
    elif channel_type == "email":
        check.email_address(name, value)


@attrs.frozen(kw_only=True)
class ContactChannelInput:
    """A channel to put on a contact: ``channel_type`` (``phone``, ``email``, ``facebook``...)
    and its ``channel_id`` (the number, address or handle id).

    Raises:
        RequestValidationError: the type is malformed or the value does not suit it.
    """

    channel_type: str = attrs.field(validator=_channel_type)
    channel_id: str = attrs.field()
    channel_handle: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    info_channel: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.boolean)
    )

    @channel_id.validator
    def _check_value(self, attribute: attrs.Attribute[Any], value: object) -> None:
        check_channel_value(attribute.name, self.channel_type, value)

    @classmethod
    def phone(cls, number: str) -> ContactChannelInput:
        """A phone channel (E.164 digits without ``+``)."""
        return cls(channel_type="phone", channel_id=number)

    @classmethod
    def email(cls, address: str) -> ContactChannelInput:
        """An email channel."""
        return cls(channel_type="email", channel_id=address)


def channel_input(value: ContactChannelInput | Mapping[str, Any]) -> ContactChannelInput:
    """A channel given as a :class:`ContactChannelInput` or as a mapping of its fields
    (``{"channel_type": "phone", "channel_id": "15105553344"}``, as in the API reference).

    Raises:
        RequestValidationError: an unknown key, an invalid field, or another type.
    """
    channel = check.nested(ContactChannelInput, "channel", value)
    if not isinstance(channel, ContactChannelInput):
        raise RequestValidationError(
            "channel",
            f"must be a ContactChannelInput or a mapping of its fields, got {type(value).__name__}",
        )
    return channel


def _channel_tuple(
    value: Iterable[ContactChannelInput | Mapping[str, Any]] | None,
) -> Any:
    return check.nested_tuple(ContactChannelInput, "contact_channels", value)


def _channels(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, tuple):
        raise RequestValidationError(
            attribute.name, f"must be a list of ContactChannelInput, got {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, ContactChannelInput):
            raise RequestValidationError(
                f"{attribute.name}[{index}]",
                f"must be a ContactChannelInput, got {type(item).__name__}",
            )


@attrs.frozen(kw_only=True)
class CreateContactV2(ContactPayload):
    """A validated ``POST /v2/contact`` request (also a create item of a bulk upsert): the
    v1 payload plus at least one channel."""

    contact_channels: tuple[ContactChannelInput, ...] = attrs.field(
        converter=_channel_tuple, validator=_channels
    )

    def __attrs_post_init__(self) -> None:
        if not self.contact_channels:
            raise RequestValidationError(
                "contact_channels", "a v2 contact needs at least one channel (§2.4)"
            )


@attrs.frozen(kw_only=True)
class UpdateContactV2(ContactPayload):
    """A validated ``PUT /v2/contact/{id}`` request (also an update item of a bulk upsert,
    where ``contact_id`` goes in the body). Only the given fields are sent."""

    contact_id: str = attrs.field(validator=_contact_uuid)
    contact_channels: tuple[ContactChannelInput, ...] | None = attrs.field(
        default=None, converter=_channel_tuple, validator=_channels
    )

    def __attrs_post_init__(self) -> None:
        if not self.given() and self.contact_channels is None:
            raise RequestValidationError(None, "give at least one field to change")


@attrs.frozen(kw_only=True)
class ContactsPageQuery:
    """A validated ``POST /v2/contacts/list`` body: ``page`` counts from 0 (§3)."""

    limit: int = attrs.field(default=DEFAULT_PAGE_SIZE, validator=check.positive_int)
    page: int = attrs.field(default=0)
    ascending: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.boolean)
    )

    @page.validator
    def _check_page(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RequestValidationError(
                attribute.name, f"must be 0 or more, got {check.show(value)}"
            )


register_payload_hook(CreateContactV2)
register_payload_hook(UpdateContactV2, omit=("contact_id",))
converter.register_unstructure_hook(
    ContactChannelInput,
    make_dict_unstructure_fn(ContactChannelInput, converter, _cattrs_omit_if_default=True),
)


def _page_body(query: ContactsPageQuery) -> dict[str, Any]:
    body: dict[str, Any] = {"limit": query.limit, "page": query.page}
    if query.ascending is not None:
        body["ascending"] = query.ascending
    return body


# --- Builders (pure) --------------------------------------------------------------------------


def build_create_contact_v2(create: CreateContactV2) -> ApiRequest:
    """``POST /v2/contact``; not replay-safe (no dedupe is documented for contacts)."""
    return ApiRequest(
        method="POST", path="/v2/contact", json=unstructure(create), replay_safe=False
    )


def build_get_contact_v2(contact_id: str) -> ApiRequest:
    """``GET /v2/contact/{contactID}``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(method="GET", path=path("/v2/contact/{}", contact_id))


def build_update_contact_v2(update: UpdateContactV2) -> ApiRequest:
    """``PUT /v2/contact/{contactID}`` (repeating it is harmless)."""
    return ApiRequest(
        method="PUT", path=path("/v2/contact/{}", update.contact_id), json=unstructure(update)
    )


def build_delete_contact_v2(contact_id: str) -> ApiRequest:
    """``DELETE /v2/contact/{contactID}``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(method="DELETE", path=path("/v2/contact/{}", contact_id))


def _bulk_model(item: object, index: int) -> object:
    # A mapping copied from the API reference: a `contact_id` makes it an update (§2.4).
    if not isinstance(item, Mapping):
        return item
    cls = UpdateContactV2 if "contact_id" in item else CreateContactV2
    return check.nested(cls, f"contacts[{index}]", item)


def _bulk_item(item: object, index: int) -> dict[str, Any]:
    item = _bulk_model(item, index)
    if isinstance(item, UpdateContactV2):
        return {"contact_id": item.contact_id, **unstructure(item)}
    if isinstance(item, CreateContactV2):
        return dict(unstructure(item))
    raise RequestValidationError(
        f"contacts[{index}]",
        f"must be a CreateContactV2, an UpdateContactV2 or a mapping of their fields, got "
        f"{type(item).__name__}",
    )


def build_bulk_upsert_contacts(
    contacts: Iterable[CreateContactV2 | UpdateContactV2 | Mapping[str, Any]],
) -> ApiRequest:
    """``POST /v2/contacts`` ``{"contacts": [...]}``: items with a ``contact_id`` update, the
    others create. Items may be models or mappings of their fields (a mapping with
    ``contact_id`` is an update). Not replay-safe (creates, no documented dedupe).

    Raises:
        RequestValidationError: no contacts, or an invalid item.
    """
    given = check.as_tuple("contacts", contacts)
    items = [_bulk_item(item, index) for index, item in enumerate(given)]
    if not items:
        raise RequestValidationError("contacts", "give at least one contact")
    return ApiRequest(
        method="POST", path="/v2/contacts", json={"contacts": items}, replay_safe=False
    )


def _unique_tuple(name: str, values: Iterable[str]) -> tuple[str, ...]:
    items = check.as_tuple(name, values)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise RequestValidationError(
                f"{name}[{index}]", f"must be a string, got {type(item).__name__}"
            )
    # Order kept, repeats dropped: the server needs each value once.
    return tuple(dict.fromkeys(items))


def build_bulk_delete_contacts(contact_ids: Iterable[str]) -> ApiRequest:
    """``DELETE /v2/contacts`` with the JSON body
    ``{"contact_channels": [{"channel_type": "id", "channel_ids": [...]}]}`` (§2.4).

    Raises:
        RequestValidationError: no ids, or an id that is not a UUID string.
    """
    ids = _unique_tuple("contact_ids", contact_ids)
    if not ids:
        raise RequestValidationError("contact_ids", "give at least one contact UUID")
    for index, contact_id in enumerate(ids):
        check_contact_uuid(f"contact_ids[{index}]", contact_id)
    body = {"contact_channels": [{"channel_type": "id", "channel_ids": list(ids)}]}
    return ApiRequest(method="DELETE", path="/v2/contacts", json=body)


def build_search_contacts(*, phones: Iterable[str] = (), emails: Iterable[str] = ()) -> ApiRequest:
    """``POST /v2/contacts/search``, one ``contact_channels`` entry per channel type; a read
    (replay-safe).

    Raises:
        RequestValidationError: nothing to search for, or an invalid phone or email.
    """
    entries = []
    for channel_type, name, values in (("phone", "phones", phones), ("email", "emails", emails)):
        unique = _unique_tuple(name, values)
        for index, value in enumerate(unique):
            check_channel_value(f"{name}[{index}]", channel_type, value)
        if unique:
            entries.append({"channel_type": channel_type, "channel_ids": list(unique)})
    if not entries:
        raise RequestValidationError(None, "give at least one phone or email to search for")
    return ApiRequest(
        method="POST",
        path="/v2/contacts/search",
        json={"contact_channels": entries},
        replay_safe=True,
    )


def build_list_contacts_page(query: ContactsPageQuery) -> ApiRequest:
    """``POST /v2/contacts/list``: one page, a read (replay-safe)."""
    return ApiRequest(
        method="POST", path="/v2/contacts/list", json=_page_body(query), replay_safe=True
    )


def build_add_channel(
    contact_id: str, channel: ContactChannelInput | Mapping[str, Any]
) -> ApiRequest:
    """``POST /v2/contact/{contactID}/channel``; not replay-safe (it adds)."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(
        method="POST",
        path=path("/v2/contact/{}/channel", contact_id),
        json=unstructure(channel_input(channel)),
        replay_safe=False,
    )


def build_update_channel(
    contact_id: str, channel: ContactChannelInput | Mapping[str, Any]
) -> ApiRequest:
    """``PUT /v2/contact/{contactID}/channel``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(
        method="PUT",
        path=path("/v2/contact/{}/channel", contact_id),
        json=unstructure(channel_input(channel)),
    )


def build_list_channels(contact_id: str) -> ApiRequest:
    """``GET /v2/contact/{contactID}/channels``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(method="GET", path=path("/v2/contact/{}/channels", contact_id))


def build_get_channel(contact_id: str, channel_type: str) -> ApiRequest:
    """``GET /v2/contact/{contactID}/channel/{channelType}``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(
        method="GET",
        path=path(
            "/v2/contact/{}/channel/{}",
            contact_id,
            check_channel_type("channel_type", channel_type),
        ),
    )


def build_delete_channel(contact_id: str, channel_type: str) -> ApiRequest:
    """``DELETE /v2/contact/{contactID}/channel/{channelType}``."""
    check_contact_uuid("contact_id", contact_id)
    return ApiRequest(
        method="DELETE",
        path=path(
            "/v2/contact/{}/channel/{}",
            contact_id,
            check_channel_type("channel_type", channel_type),
        ),
    )


# --- Reading answers (pure) -------------------------------------------------------------------


_CHANNEL_KEYS: Final = frozenset({"id", "channel_type", "channel_id"})


def read_channels(
    response: ApiResponse, *, acknowledged: bool = False
) -> ResponseList[ContactChannel]:
    """Channels from an array (documented) or a single object.

    With ``acknowledged`` (the answer to a write), a bare ``ok`` or an empty body reads as
    no channels: the answer is undocumented for update (§2.4).

    Raises:
        UnexpectedResponseError: anything else (never read as "no channels").
    """
    data = unwrap(response.data, "contact_channels", "channels", "channel")
    if isinstance(data, dict) and response.readable and _CHANNEL_KEYS & data.keys():
        data = [data]
    elif acknowledged and not response.truncated and (data is None or is_acknowledgement(data)):
        data = []
    else:
        wrappers = ("contact_channels", "channels", "channel")
        return read_list(response, ContactChannel, wrappers=wrappers)
    return read_list(attrs.evolve(response, data=data, readable=True), ContactChannel)


def read_upsert_result(response: ApiResponse) -> ContactUpsertResult:
    """A :class:`ContactUpsertResult` from ``{contacts, failed_contacts}``, or ``ok``."""
    if response.truncated or not (
        isinstance(response.data, dict)
        or response.data is None
        or is_acknowledgement(response.data)
    ):
        raise unreadable(response, "an object with contacts and failed_contacts")
    data = response.data if isinstance(response.data, dict) else {}
    contacts = read_list(
        attrs.evolve(response, data=data.get("contacts") or [], readable=True), ContactV2
    )
    failed = read_failures(
        data.get("failed_contacts"),
        nested="contact",
        status=response.status,
        request_id=response.request_id,
    )
    return ContactUpsertResult(
        contacts=tuple(contacts), failed_contacts=failed, request_id=response.request_id
    )


# --- Paging -----------------------------------------------------------------------------------


def iter_contacts_pages(
    requester: Requester,
    query: ContactsPageQuery,
    *,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[ContactV2, None]:
    """Walk ``POST /v2/contacts/list`` from ``query.page`` (pages count from 0).

    Stops on an empty page; on a short page (fewer than ``query.limit``: keep ``limit`` at
    or below the server's page cap, which is undocumented; the default 30 is the documented
    example); after ``max_pages``; or on a page that brings nothing beyond the previous page
    (a server that ignores ``page`` cannot make it loop). A contact repeated from the
    previous page (offsets shift when contacts are added during the walk) is yielded once;
    memory stays at one page.

    Raises:
        RequestValidationError: ``max_pages`` is not a positive integer.
    """
    if max_pages is not None:
        check.check_positive_int("max_pages", max_pages)
    return _walk_pages(requester, query, max_pages, timeout)


async def _walk_pages(
    requester: Requester, query: ContactsPageQuery, max_pages: int | None, timeout: Timeout
) -> AsyncGenerator[ContactV2, None]:
    previous: set[int | str] = set()
    pages = 0
    while max_pages is None or pages < max_pages:
        request = build_list_contacts_page(attrs.evolve(query, page=query.page + pages))
        response = await requester.request(request, timeout=timeout)
        page = read_list(response, ContactV2, wrappers=("contacts",))
        pages += 1
        ids = {contact.id for contact in page}
        fresh = [contact for contact in page if contact.id not in previous]
        for contact in fresh:
            yield contact
        if not fresh or len(page) < query.limit:
            return  # empty, no progress, or short: the last page
        previous = ids


# --- Service ----------------------------------------------------------------------------------


class ContactsV2(Resource):
    """The v2 contact endpoints: UUID ids and channels (reached as ``hm.contacts.v2``)."""

    async def create(
        self,
        *,
        contact_channels: Iterable[ContactChannelInput | Mapping[str, Any]],
        first: str | None = None,
        last: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        avatar: str | None = None,
        custom: Mapping[int | str, Any] | None = None,
        tags: Iterable[int | Mapping[str, Any]] | None = None,
        assignee_id: int | None = None,
        is_opted_out: bool | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactSaved:
        """Create a contact with at least one channel (``POST /v2/contact``).

        Not resent after an ambiguous failure (no dedupe exists for contacts): look the
        channel up with :meth:`search` before trying again.

        Raises:
            RequestValidationError: no channel, or another invalid argument.
        """
        create = CreateContactV2(
            contact_channels=contact_channels,
            first=first,
            last=last,
            display_name=display_name,
            email=email,
            phone=phone,
            avatar=avatar,
            custom=custom,
            tags=tags,
            assignee_id=assignee_id,
            is_opted_out=is_opted_out,
        )
        response = await self._requester.request(build_create_contact_v2(create), timeout=timeout)
        return read_model(response, ContactSaved, wrapper="contact")

    async def get(self, contact_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> ContactV2:
        """One contact by UUID (``GET /v2/contact/{contactID}``).

        Raises:
            NotFoundError: no such contact.
        """
        response = await self._requester.request(build_get_contact_v2(contact_id), timeout=timeout)
        return read_model(response, ContactV2, wrapper="contact")

    async def update(
        self,
        contact_id: str,
        *,
        first: str | None = None,
        last: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        avatar: str | None = None,
        custom: Mapping[int | str, Any] | None = None,
        tags: Iterable[int | Mapping[str, Any]] | None = None,
        assignee_id: int | None = None,
        is_opted_out: bool | None = None,
        contact_channels: Iterable[ContactChannelInput | Mapping[str, Any]] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactV2:
        """Update a contact by UUID (``PUT /v2/contact/{contactID}``), sending only the given
        fields. How the v2 PUT treats omitted fields is undocumented: check the contact it
        returns.

        Raises:
            RequestValidationError: nothing to change, or an invalid argument.
            NotFoundError: no such contact.
        """
        update = UpdateContactV2(
            contact_id=contact_id,
            first=first,
            last=last,
            display_name=display_name,
            email=email,
            phone=phone,
            avatar=avatar,
            custom=custom,
            tags=tags,
            assignee_id=assignee_id,
            is_opted_out=is_opted_out,
            contact_channels=contact_channels,
        )
        response = await self._requester.request(build_update_contact_v2(update), timeout=timeout)
        data = unwrap(response.data, "contact")
        if isinstance(data, dict) and "id" in data:
            return read_model(response, ContactV2, wrapper="contact")
        # An acknowledgement instead of the documented Contact: the id is ours.
        saved = read_contact_saved(response, contact_id)
        return ContactV2(id=saved.id, rev=saved.rev, uuid=saved.uuid or contact_id)

    async def delete(self, contact_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Delete a contact by UUID (``DELETE /v2/contact/{contactID}``)."""
        await self._requester.request(build_delete_contact_v2(contact_id), timeout=timeout)

    async def bulk_upsert(
        self,
        contacts: Iterable[CreateContactV2 | UpdateContactV2 | Mapping[str, Any]],
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ContactUpsertResult:
        """Create and update many contacts in one request (``POST /v2/contacts``).

        :class:`UpdateContactV2` items update (their ``contact_id`` goes in the body),
        :class:`CreateContactV2` items create. Not resent after an ambiguous failure.

        Returns:
            The saved ``contacts`` and the ``failed_contacts`` with the server's reasons.
        """
        request = build_bulk_upsert_contacts(contacts)
        response = await self._requester.request(request, timeout=timeout)
        return read_upsert_result(response)

    async def bulk_delete(
        self, contact_ids: Iterable[str], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Delete many contacts by UUID (``DELETE /v2/contacts`` with a JSON body)."""
        request = build_bulk_delete_contacts(contact_ids)
        await self._requester.request(request, timeout=timeout)

    async def search(
        self,
        *,
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[ContactV2]:
        """Contacts having any of these phones or emails (``POST /v2/contacts/search``).

        Raises:
            RequestValidationError: nothing to search for, or an invalid value.
        """
        request = build_search_contacts(phones=phones, emails=emails)
        response = await self._requester.request(request, timeout=timeout)
        return read_list(response, ContactV2, wrappers=("contacts",))

    def iter_all(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        ascending: bool | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[ContactV2, None]:
        """Every contact, page by page (``POST /v2/contacts/list``, pages from 0).

        Use as ``async for contact in hm.contacts.v2.iter_all(): ...``; the stop rules are
        those of :func:`iter_contacts_pages`.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        query = ContactsPageQuery(limit=limit, ascending=ascending)
        return iter_contacts_pages(self._requester, query, max_pages=max_pages, timeout=timeout)

    async def add_channel(
        self,
        contact_id: str,
        channel: ContactChannelInput | Mapping[str, Any],
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[ContactChannel]:
        """Add a channel to a contact (``POST /v2/contact/{contactID}/channel``).

        Returns:
            The contact's channels after the change.
        """
        request = build_add_channel(contact_id, channel)
        response = await self._requester.request(request, timeout=timeout)
        return read_channels(response, acknowledged=True)

    async def update_channel(
        self,
        contact_id: str,
        channel: ContactChannelInput | Mapping[str, Any],
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[ContactChannel]:
        """Change the contact's channel of ``channel.channel_type``
        (``PUT /v2/contact/{contactID}/channel``).

        Returns:
            The channels the server returned (empty when it only acknowledged).
        """
        request = build_update_channel(contact_id, channel)
        response = await self._requester.request(request, timeout=timeout)
        return read_channels(response, acknowledged=True)

    async def list_channels(
        self, contact_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResponseList[ContactChannel]:
        """A contact's channels (``GET /v2/contact/{contactID}/channels``)."""
        response = await self._requester.request(build_list_channels(contact_id), timeout=timeout)
        return read_channels(response)

    async def get_channel(
        self, contact_id: str, channel_type: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ContactChannel:
        """A contact's channel of one type (``GET /v2/contact/{contactID}/channel/{type}``).

        Raises:
            NotFoundError: the contact or the channel does not exist.
        """
        request = build_get_channel(contact_id, channel_type)
        response = await self._requester.request(request, timeout=timeout)
        return read_model(response, ContactChannel, wrapper="channel")

    async def delete_channel(
        self, contact_id: str, channel_type: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Remove a contact's channel of one type
        (``DELETE /v2/contact/{contactID}/channel/{type}``)."""
        request = build_delete_channel(contact_id, channel_type)
        await self._requester.request(request, timeout=timeout)
