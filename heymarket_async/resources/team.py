"""Team: ``GET /v1/team`` (heymarket-api.md §2.2)."""

from __future__ import annotations

import attrs

from .._config import USE_CLIENT_DEFAULT
from .._protocol import ApiRequest
from ._base import Resource, ResponseModel, Timeout, read_model

__all__ = ["Team", "TeamMember", "Teams", "build_get_team"]


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


def build_get_team() -> ApiRequest:
    """``GET /v1/team``."""
    return ApiRequest(method="GET", path="/v1/team")


class Teams(Resource):
    """The team the credentials belong to."""

    async def get(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Team:
        """The team, its members and its per-list size limit."""
        response = await self._requester.request(build_get_team(), timeout=timeout)
        return read_model(response, Team, wrapper="team")
