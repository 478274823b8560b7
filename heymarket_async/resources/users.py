"""Team users: look up by phone or email, update names and roles.

Contract: heymarket-api.md §2.2 (``GET /v1/users/get`` with a JSON body on the GET,
``POST /v1/users/update``); both answer ``{"memberships": [TeamUser]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse
from ..errors import RequestValidationError
from ._base import Resource, ResponseList, Timeout, read_list

__all__ = [
    "TeamUser",
    "UpdateUsers",
    "UserLookup",
    "UserUpdate",
    "Users",
    "build_lookup_users",
    "build_update_users",
    "read_memberships",
]


# --- Request models -------------------------------------------------------------------------


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


@attrs.frozen(kw_only=True)
class UserLookup:
    """A validated ``GET /v1/users/get`` body: ``phones`` and/or ``emails`` to look up.

    Raises:
        RequestValidationError: both are empty, or an entry is invalid.
    """

    phones: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    emails: tuple[str, ...] = attrs.field(default=(), converter=check.str_tuple, validator=_emails)

    def __attrs_post_init__(self) -> None:
        if not (self.phones or self.emails):
            raise RequestValidationError(None, "give at least one phone or email to look up")


@attrs.frozen(kw_only=True)
class UserUpdate:
    """One user's changes for ``POST /v1/users/update``; unset fields are left as they are.

    Args:
        id: the user's membership id (``TeamUser.id``).
        first_name, last_name: new names.
        role_id: the new role (e.g. 1 admin, 4 member).

    Raises:
        RequestValidationError: no change, or a field is invalid.
    """

    id: int = attrs.field(validator=check.positive_int)
    first_name: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    last_name: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    role_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )

    def __attrs_post_init__(self) -> None:
        if self.first_name is None and self.last_name is None and self.role_id is None:
            raise RequestValidationError(
                None, f"user {self.id}: give at least one change: first_name, last_name, role_id"
            )


def _updates(value: Iterable[UserUpdate | Mapping[str, Any]]) -> tuple[UserUpdate, ...]:
    # Items may be mappings of the documented fields ({"id": 7, "role_id": 4}); a single
    # update (not a list) stays as it is, for the validator to refuse by name.
    return check.nested_tuple(UserUpdate, "users", value)


def _update_list(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise RequestValidationError(
            attribute.name, f"must be a list of UserUpdate, not a single {type(value).__name__}"
        )
    if not value:
        raise RequestValidationError(attribute.name, "give at least one UserUpdate")
    seen: set[int] = set()
    for index, item in enumerate(value):
        if not isinstance(item, UserUpdate):
            raise RequestValidationError(
                f"{attribute.name}[{index}]",
                f"must be a UserUpdate or a mapping of its fields, got {type(item).__name__}",
            )
        if item.id in seen:
            raise RequestValidationError(
                f"{attribute.name}[{index}]", f"user {item.id} appears more than once"
            )
        seen.add(item.id)


@attrs.frozen(kw_only=True)
class UpdateUsers:
    """A validated ``POST /v1/users/update`` body: one :class:`UserUpdate` per user."""

    users: tuple[UserUpdate, ...] = attrs.field(converter=_updates, validator=_update_list)


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TeamUser:
    """A team membership as ``/v1/users/*`` return it (§2.2).

    ``id`` is the membership id (what :class:`UserUpdate` takes); ``role_id`` is e.g. 1
    (admin) or 4 (member). The ``user_*`` times are the person's account, the others the
    membership's.
    """

    id: int
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    role_id: int | None = None
    team_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    user_created_at: datetime | None = None
    user_updated_at: datetime | None = None


check.read_leniently(TeamUser)


# --- Wire mapping -----------------------------------------------------------------------------

converter.register_unstructure_hook(
    UserLookup,
    make_dict_unstructure_fn(
        UserLookup,
        converter,
        _cattrs_omit_if_default=True,
        phones=override(rename="phone"),
        emails=override(rename="email"),
    ),
)


# --- Builders (pure) --------------------------------------------------------------------------


def build_lookup_users(lookup: UserLookup) -> ApiRequest:
    """``GET /v1/users/get`` with the lookup as a JSON body (§1.1: the API takes a body here)."""
    return ApiRequest(method="GET", path="/v1/users/get", json=unstructure(lookup))


def build_update_users(update: UpdateUsers) -> ApiRequest:
    """``POST /v1/users/update``.

    Replay-safe: it sets the given fields to absolute values, so a repeat has the effect
    of one call.
    """
    return ApiRequest(
        method="POST", path="/v1/users/update", json=unstructure(update), replay_safe=True
    )


# --- Reading answers (pure) -----------------------------------------------------------------


def read_memberships(response: ApiResponse) -> ResponseList[TeamUser]:
    """The users from ``{"memberships": [...]}`` (or a bare array); ``null`` means none."""
    data = response.data
    if response.readable and (
        data is None
        or (isinstance(data, dict) and "memberships" in data and data["memberships"] is None)
    ):
        response = attrs.evolve(response, data=[])
    return read_list(response, TeamUser, wrappers=("memberships",))


# --- Service ----------------------------------------------------------------------------------


class Users(Resource):
    """Team users (memberships)."""

    async def get(
        self,
        *,
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[TeamUser]:
        """The team users with any of these phone numbers or email addresses.

        Args:
            phones: E.164 digits without ``+``.
            emails: addresses.

        Returns:
            The matching users (empty when none match).

        Raises:
            RequestValidationError: nothing to look up, or an invalid entry; nothing was sent.
        """
        lookup = UserLookup(phones=phones, emails=emails)
        response = await self._requester.request(build_lookup_users(lookup), timeout=timeout)
        return read_memberships(response)

    async def update(
        self,
        *,
        users: Iterable[UserUpdate | Mapping[str, Any]],
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResponseList[TeamUser]:
        """Change users' names or roles.

        Args:
            users: one :class:`UserUpdate` per user, or a mapping of its fields (``{"id": 7,
                "role_id": 4}``, as in the API reference).

        Returns:
            The updated users, as the server reports them.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        update = UpdateUsers(users=users)
        response = await self._requester.request(build_update_users(update), timeout=timeout)
        return read_memberships(response)
