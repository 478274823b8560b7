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

The models (:mod:`._contact_models`) and the request builders and answer readers
(:mod:`._contact_wire`) are shared with v2 and live below both services; every name listed
in ``__all__`` is importable from here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from ..errors import RequestValidationError
from ._base import (
    Requester,
    Resource,
    ResponseList,
    Timeout,
    read_list,
    read_model,
)
from ._contact_models import (
    MAX_TAGS,
    Contact,
    ContactBatchResult,
    ContactFailure,
    ContactField,
    ContactLookup,
    ContactNote,
    ContactPayload,
    ContactSaved,
    ContactsQuery,
    ContactStatus,
    CreateContact,
    MessagingStatus,
    SetContactStatus,
    UpdateContact,
)
from ._contact_wire import (
    batch_items,
    build_batch_create_contacts,
    build_contact_status,
    build_count_contacts,
    build_create_contact,
    build_create_contact_fields,
    build_delete_contact,
    build_get_contact,
    build_get_contact_by,
    build_list_contact_fields,
    build_list_contacts,
    build_set_contact_status,
    build_update_contact,
    check_update,
    map_custom_field_titles,
    merge_update,
    read_batch_result,
    read_contact_fields,
    read_contact_saved,
    read_failures,
)
from ._paging import read_count, walk_by_timestamp
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
