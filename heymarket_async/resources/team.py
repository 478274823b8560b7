"""Team: ``GET /v1/team`` (heymarket-api.md §2.2)."""

from __future__ import annotations

from typing import Any, Final

import attrs

from .._config import USE_CLIENT_DEFAULT
from .._converter import MAX_ID
from .._protocol import ApiRequest, ApiResponse, slot_setters
from ._base import (
    Resource,
    ResponseModel,
    Timeout,
    is_usable_id,
    optional_str,
    plain_object,
    read_model,
)

__all__ = ["Team", "TeamMember", "Teams", "build_get_team", "read_team"]


@attrs.frozen(kw_only=True)
class TeamMember:
    """A team member; ``id`` is usable as ``creator_id``."""

    id: int
    name: str | None = None
    role: str | None = None
    email: str | None = None


@attrs.frozen(kw_only=True)
class Team(ResponseModel):
    """Team metadata; ``list_size`` is the most contacts one list may hold."""

    id: int
    name: str | None = None
    list_size: int | None = None
    members: tuple[TeamMember, ...] = ()


# Requests are frozen values: this one, which never varies, is built once.
_GET_TEAM: Final = ApiRequest(method="GET", path="/v1/team", replay_safe=True)


def build_get_team() -> ApiRequest:
    """``GET /v1/team``."""
    return _GET_TEAM


class Teams(Resource):
    """The team the credentials belong to."""

    async def get(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Team:
        """The team, its members and its per-list size limit."""
        response = await self._requester.request(_GET_TEAM, timeout=timeout)
        return read_team(response)


def read_team(response: ApiResponse) -> Team:
    """The :class:`Team` in an answer (bare or under ``team``).

    Raises:
        UnexpectedResponseError: the answer cannot be read as a team.
    """
    data = plain_object(response, "team")
    if data is not None:
        team = _read_plain_team(data, response.request_id)
        if team is not None:
            return team
    return read_model(response, Team, wrapper="team")


_new: Final = object.__new__
_SET_MEMBER_ID, _SET_MEMBER_NAME, _SET_MEMBER_ROLE, _SET_MEMBER_EMAIL = slot_setters(
    TeamMember, "id", "name", "role", "email"
)
_SET_TEAM_ID, _SET_TEAM_NAME, _SET_TEAM_LIST_SIZE, _SET_TEAM_MEMBERS, _SET_TEAM_REQUEST_ID = (
    slot_setters(Team, "id", "name", "list_size", "members", "request_id")
)


def _read_plain_team(data: dict[str, Any], request_id: str | None) -> Team | None:
    """The common answer (plain values, members as a list of objects) read without cattrs;
    the result equals the full reader's. ``None`` for anything else, which the full reader
    then reads or refuses."""
    id_ = data.get("id")
    name = data.get("name")
    list_size = data.get("list_size")
    if not (
        is_usable_id(id_) and optional_str(name) and (list_size is None or type(list_size) is int)
    ):
        return None
    members: tuple[TeamMember, ...] = ()
    if "members" in data:
        listed = data["members"]
        if type(listed) is not list:
            return None
        read = []
        for item in listed:
            # Each member read inline (no call per member), or the full reader decides.
            if type(item) is not dict:
                return None
            member_id = item.get("id")
            member_name = item.get("name")
            role = item.get("role")
            email = item.get("email")
            if not (
                type(member_id) is int
                and 1 <= member_id <= MAX_ID
                and (member_name is None or type(member_name) is str)
                and (role is None or type(role) is str)
                and (email is None or type(email) is str)
            ):
                return None
            member = _new(TeamMember)  # TeamMember(id=member_id, ...) at half the cost
            _SET_MEMBER_ID(member, member_id)
            _SET_MEMBER_NAME(member, member_name)
            _SET_MEMBER_ROLE(member, role)
            _SET_MEMBER_EMAIL(member, email)
            read.append(member)
        members = tuple(read)
    team = _new(Team)  # Team(id=id_, ...) at half the cost
    _SET_TEAM_ID(team, id_)
    _SET_TEAM_NAME(team, name)
    _SET_TEAM_LIST_SIZE(team, list_size)
    _SET_TEAM_MEMBERS(team, members)
    _SET_TEAM_REQUEST_ID(team, request_id)
    return team
