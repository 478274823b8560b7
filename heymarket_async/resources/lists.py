"""Lists: ``POST /v2/lists``, ``PUT /v2/lists/{id}``, ``DELETE /v2/lists/{id}``.

Contract: heymarket-api.md §2.5 (seed S2) and §4 (``local_id``). No endpoint reads or lists
lists, so the service has no ``get``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
from ._base import Resource, ResponseModel, Timeout, read_model

__all__ = [
    "CreateList",
    "DeleteList",
    "ListCreated",
    "ListDeleted",
    "ListUpdated",
    "Lists",
    "UpdateList",
    "build_create_list",
    "build_delete_list",
    "build_update_list",
    "read_list_deleted",
    "read_list_updated",
]

ListType = Literal["contacts"]
_LIST_TYPES: Final = ("contacts",)


def _emails(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise RequestValidationError(
            attribute.name, f"must be a list, not a single {type(value).__name__}"
        )
    for index, item in enumerate(value):
        name = f"{attribute.name}[{index}]"
        if not isinstance(item, str):
            raise RequestValidationError(name, f"must be a string, got {type(item).__name__}")
        check.email_address(name, item)


def _list_type(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in _LIST_TYPES:
        raise RequestValidationError(
            attribute.name,
            f"must be 'contacts' or left out (a phone list), got {check.show(value)}",
        )


@attrs.frozen(kw_only=True)
class CreateList:
    """A validated ``POST /v2/lists`` request.

    Give at least one recipient source: ``contacts`` (contact ids), ``phones`` (E.164
    digits without ``+``) or ``emails``. The API requires a ``local_id`` and uses it to
    avoid duplicate lists; without one it is generated here, once, which protects this
    call's retries. Pass a key you store (e.g. ``"april-2026-list-1"``) to be safe across
    runs too.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    title: str = attrs.field(validator=check.non_empty_text)
    # §2.5 / §4: required by the API; one per logical list, reused by every retry.
    local_id: str = attrs.field(factory=check.new_local_id, validator=check.local_id)
    type: ListType | None = attrs.field(default=None, validator=_list_type)
    contacts: tuple[int, ...] = attrs.field(
        default=(), converter=check.int_tuple, validator=check.positive_int_tuple
    )
    phones: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    emails: tuple[str, ...] = attrs.field(default=(), converter=check.str_tuple, validator=_emails)

    def __attrs_post_init__(self) -> None:
        if not (self.contacts or self.phones or self.emails):
            raise RequestValidationError(
                None, "give at least one recipient source: contacts, phones or emails"
            )


def _check_no_overlap(name: str, added: tuple[Any, ...], removed: tuple[Any, ...]) -> None:
    both = sorted(set(added) & set(removed), key=str)
    if both:
        raise RequestValidationError(
            f"remove_{name}", f"{both[0]!r} is in both add_{name} and remove_{name}"
        )


@attrs.frozen(kw_only=True)
class UpdateList:
    """A validated ``PUT /v2/lists/{id}`` request.

    ``contacts`` replaces the whole contact membership (an empty list empties it); the
    ``add_*``/``remove_*`` fields change it incrementally. At least one change is needed,
    and nothing may be both added and removed.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    list_id: int = attrs.field(validator=check.positive_int)
    title: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    contacts: tuple[int, ...] | None = attrs.field(
        default=None,
        converter=check.optional_int_tuple,
        validator=attrs.validators.optional(check.positive_int_tuple),
    )
    add_contacts: tuple[int, ...] = attrs.field(
        default=(), converter=check.int_tuple, validator=check.positive_int_tuple
    )
    remove_contacts: tuple[int, ...] = attrs.field(
        default=(), converter=check.int_tuple, validator=check.positive_int_tuple
    )
    add_phones: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    remove_phones: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    add_emails: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=_emails
    )
    remove_emails: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=_emails
    )

    def __attrs_post_init__(self) -> None:
        changes = (
            self.add_contacts,
            self.remove_contacts,
            self.add_phones,
            self.remove_phones,
            self.add_emails,
            self.remove_emails,
        )
        if self.title is None and self.contacts is None and not any(changes):
            raise RequestValidationError(
                None,
                "give at least one change: title, contacts, or an add_*/remove_* field",
            )
        if self.contacts is not None and (self.add_contacts or self.remove_contacts):
            raise RequestValidationError(
                "contacts",
                "replaces the whole membership; do not combine it with add_contacts or "
                "remove_contacts",
            )
        _check_no_overlap("contacts", self.add_contacts, self.remove_contacts)
        _check_no_overlap("phones", self.add_phones, self.remove_phones)
        _check_no_overlap("emails", self.add_emails, self.remove_emails)


@attrs.frozen(kw_only=True)
class DeleteList:
    """A validated ``DELETE /v2/lists/{id}`` request; ``contact_ids`` are detached first."""

    list_id: int = attrs.field(validator=check.positive_int)
    contact_ids: tuple[int, ...] | None = attrs.field(
        default=None,
        converter=check.optional_int_tuple,
        validator=attrs.validators.optional(check.positive_int_tuple),
    )


@attrs.frozen(kw_only=True)
class ListCreated(ResponseModel):
    """A created list; ``id`` is what ``list_id`` takes when sending a broadcast."""

    id: int
    rev: int | None = None
    uuid: str | None = None


@attrs.frozen(kw_only=True)
class ListUpdated(ResponseModel):
    """An updated list and its new revision."""

    id: int
    rev: int | None = None


@attrs.frozen(kw_only=True)
class ListDeleted(ResponseModel):
    """A deleted list (its contacts survive)."""

    id: int
    deleted: bool = True


for _model in (ListCreated, ListUpdated, ListDeleted):
    check.read_leniently(_model)

# A caller-given local_id must be sent even though its default is a factory.
converter.register_unstructure_hook(
    CreateList,
    make_dict_unstructure_fn(
        CreateList,
        converter,
        _cattrs_omit_if_default=True,
        local_id=override(omit_if_default=False),
    ),
)
# The list id goes in the path, not the body.
converter.register_unstructure_hook(
    UpdateList,
    make_dict_unstructure_fn(
        UpdateList, converter, _cattrs_omit_if_default=True, list_id=override(omit=True)
    ),
)
converter.register_unstructure_hook(
    DeleteList,
    make_dict_unstructure_fn(
        DeleteList, converter, _cattrs_omit_if_default=True, list_id=override(omit=True)
    ),
)


def build_create_list(create: CreateList) -> ApiRequest:
    """``POST /v2/lists``: replay-safe, since §2.5 says ``local_id`` prevents duplicates."""
    return ApiRequest(
        method="POST",
        path="/v2/lists",
        json=unstructure(create),
        idempotency_key=create.local_id,
        replay_safe=True,
    )


def build_update_list(update: UpdateList) -> ApiRequest:
    """``PUT /v2/lists/{id}``."""
    return ApiRequest(
        method="PUT", path=path("/v2/lists/{}", update.list_id), json=unstructure(update)
    )


def build_delete_list(delete: DeleteList) -> ApiRequest:
    """``DELETE /v2/lists/{id}``, with a body only when ``contact_ids`` is given."""
    body = unstructure(delete)
    return ApiRequest(method="DELETE", path=path("/v2/lists/{}", delete.list_id), json=body or None)


def _with_known_id(response: ApiResponse, list_id: int) -> ApiResponse:
    # The answers are documented as objects; a bare "ok" or an empty body still means a 2xx,
    # and the list id is the one in our path.
    data = response.data if isinstance(response.data, dict) else {}
    return attrs.evolve(response, data={"id": list_id, **data})


def read_list_updated(response: ApiResponse, update: UpdateList) -> ListUpdated:
    """A :class:`ListUpdated` from ``{id, rev}`` (or a bare acknowledgement)."""
    return read_model(_with_known_id(response, update.list_id), ListUpdated)


def read_list_deleted(response: ApiResponse, delete: DeleteList) -> ListDeleted:
    """A :class:`ListDeleted` from ``{deleted, id}`` (or a bare acknowledgement)."""
    return read_model(_with_known_id(response, delete.list_id), ListDeleted)


class Lists(Resource):
    """Broadcast lists (v2)."""

    async def create(
        self,
        *,
        title: str,
        local_id: str | None = None,
        contacts: Iterable[int] = (),
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        type: ListType | None = None,  # noqa: A002 - the API's field name
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ListCreated:
        """Create a list.

        Args:
            title: the list's name.
            local_id: your key for this list; the API uses it to avoid duplicates.
                Generated when omitted (then only this call's retries are covered).
            contacts: existing contact ids.
            phones: numbers, E.164 digits without ``+``; unknown ones become contacts.
            emails: email addresses.
            type: ``"contacts"`` for an omnichannel contact list; omit for a phone list.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        extra: dict[str, Any] = {} if local_id is None else {"local_id": local_id}
        create = CreateList(
            title=title, contacts=contacts, phones=phones, emails=emails, type=type, **extra
        )
        response = await self._requester.request(build_create_list(create), timeout=timeout)
        return read_model(response, ListCreated, wrapper="list")

    async def update(
        self,
        list_id: int,
        *,
        title: str | None = None,
        contacts: Iterable[int] | None = None,
        add_contacts: Iterable[int] = (),
        remove_contacts: Iterable[int] = (),
        add_phones: Iterable[str] = (),
        remove_phones: Iterable[str] = (),
        add_emails: Iterable[str] = (),
        remove_emails: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ListUpdated:
        """Rename a list or change its members.

        Args:
            list_id: the list.
            title: a new name.
            contacts: the complete new contact membership (replaces it).
            add_contacts, remove_contacts: contact ids to add or remove.
            add_phones, remove_phones: numbers to add or remove.
            add_emails, remove_emails: addresses to add or remove.

        Raises:
            RequestValidationError: no change, or a member both added and removed.
        """
        update = UpdateList(
            list_id=list_id,
            title=title,
            contacts=contacts,
            add_contacts=add_contacts,
            remove_contacts=remove_contacts,
            add_phones=add_phones,
            remove_phones=remove_phones,
            add_emails=add_emails,
            remove_emails=remove_emails,
        )
        response = await self._requester.request(build_update_list(update), timeout=timeout)
        return read_list_updated(response, update)

    async def delete(
        self,
        list_id: int,
        *,
        contact_ids: Iterable[int] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ListDeleted:
        """Delete a list permanently (its contacts survive).

        Args:
            list_id: the list.
            contact_ids: contacts to detach before deleting.
        """
        delete = DeleteList(list_id=list_id, contact_ids=contact_ids)
        response = await self._requester.request(build_delete_list(delete), timeout=timeout)
        return read_list_deleted(response, delete)
