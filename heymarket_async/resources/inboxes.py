"""Inboxes: ``GET /v1/inboxes`` (heymarket-api.md §2.2)."""

from __future__ import annotations

from typing import Any

import attrs

from .._config import USE_CLIENT_DEFAULT
from .._converter import converter
from .._protocol import ApiRequest
from ._base import Resource, ResponseList, ResponseModel, Timeout, read_list

__all__ = ["Inbox", "Inboxes", "build_list_inboxes"]


@attrs.frozen(kw_only=True)
class Inbox(ResponseModel):
    """A sending inbox; use ``id`` as ``inbox_id`` and a ``members`` entry as ``creator_id``.

    ``invited`` is a list of invitations in the API reference and a boolean in older docs;
    it is kept as sent.
    """

    id: int
    name: str | None = None
    phone: str | None = None
    phones: tuple[str, ...] = ()
    members: tuple[int, ...] = ()
    invited: tuple[str, ...] | bool | None = None
    team: int | None = None
    allowed_domains: tuple[str, ...] = ()
    auto_assignable: bool | None = None
    forward_number: str | None = None
    widget_code: str | None = None
    widget_settings: dict[str, Any] | None = None
    rev: int | None = None
    op: str | None = None


def _structure_invited(value: object, _type: object) -> tuple[str, ...] | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    raise ValueError(f"invited must be a list or a boolean, got {type(value).__name__}")


converter.register_structure_hook(tuple[str, ...] | bool | None, _structure_invited)


def build_list_inboxes() -> ApiRequest:
    """``GET /v1/inboxes``."""
    return ApiRequest(method="GET", path="/v1/inboxes")


class Inboxes(Resource):
    """The team's inboxes."""

    async def list(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> ResponseList[Inbox]:
        """Every inbox the credentials can see (a bare array or an ``inboxes`` wrapper)."""
        response = await self._requester.request(build_list_inboxes(), timeout=timeout)
        return read_list(response, Inbox, wrappers=("inboxes",))
