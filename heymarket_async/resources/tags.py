"""Contact tags: ``/v1/tag`` create, get, delete; ``/v1/tags`` paging.

Contract: heymarket-api.md §2.8 and §3 (the ``date`` cursor). Tags cannot be updated; a
contact holds at most five, assigned through the contact's ``tags``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
from ._base import Requester, Resource, ResponseList, ResponseModel, Timeout, read_list, read_model
from ._paging import DateCursor, walk_by_timestamp

__all__ = [
    "COLOR_RE",
    "CreateTag",
    "Tag",
    "TagCreated",
    "TagDeleted",
    "Tags",
    "build_create_tag",
    "build_delete_tag",
    "build_get_tag",
    "build_list_tags",
    "iter_all_tags",
    "read_tag_written",
]

W = TypeVar("W", bound=ResponseModel)

# §2.8 says only "hex"; the CSS forms #rgb and #rrggbb are what a hex colour means in practice.
COLOR_RE: Final = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")


def _color(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not (value.isascii() and COLOR_RE.fullmatch(value)):
        raise RequestValidationError(
            attribute.name,
            f"must be a hex colour such as '#1a73e8' or '#fa0', got {check.show(value)}",
        )


@attrs.frozen(kw_only=True)
class CreateTag:
    """A validated ``POST /v1/tag`` request (§2.8).

    Raises:
        RequestValidationError: ``tag`` is empty or ``color`` is not ``#rgb``/``#rrggbb``.
    """

    tag: str = attrs.field(validator=check.non_empty_text)
    color: str | None = attrs.field(default=None, validator=_color)


@attrs.frozen(kw_only=True)
class Tag(ResponseModel):
    """A tag as ``GET /v1/tag/{id}`` and ``POST /v1/tags`` return it; ``tag`` is its label."""

    id: int
    tag: str | None = None
    color: str | None = None
    team_id: int | None = None
    rev: int | None = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class TagCreated(ResponseModel):
    """A created tag; use ``id`` as ``tag_id`` in a contact's ``tags``."""

    id: int
    rev: int | None = None
    uuid: str | None = None


@attrs.frozen(kw_only=True)
class TagDeleted(ResponseModel):
    """A deleted tag (``id`` is the one in the request's path)."""

    id: int


for _model in (Tag, TagCreated, TagDeleted):
    check.read_leniently(_model)


def build_create_tag(create: CreateTag) -> ApiRequest:
    """``POST /v1/tag``.

    Not replay-safe: a tag has no ``local_id`` and §2.8 promises no dedupe, so a resend
    after an ambiguous failure could create the tag twice. The failure is reported instead.
    """
    return ApiRequest(method="POST", path="/v1/tag", json=unstructure(create), replay_safe=False)


def build_get_tag(tag_id: int) -> ApiRequest:
    """``GET /v1/tag/{id}``."""
    check.check_positive_int("tag_id", tag_id)
    return ApiRequest(method="GET", path=path("/v1/tag/{}", tag_id))


def build_delete_tag(tag_id: int) -> ApiRequest:
    """``DELETE /v1/tag/{id}``."""
    check.check_positive_int("tag_id", tag_id)
    return ApiRequest(method="DELETE", path=path("/v1/tag/{}", tag_id))


def build_list_tags(cursor: DateCursor) -> ApiRequest:
    """``POST /v1/tags``: ``{}`` for the newest 30, then ``{"date": ...}``; a read."""
    return ApiRequest(method="POST", path="/v1/tags", json=unstructure(cursor), replay_safe=True)


def read_tag_written(response: ApiResponse, into: type[W], **known: Any) -> W:
    """A create/delete answer read into ``into``; ``known`` fills what it leaves out.

    §2.8 documents ``{id, rev, uuid}`` for create and no delete answer, so a bare
    ``"ok"`` or an empty body is read as success with the id from the path.
    """
    data = response.data
    if isinstance(data, dict):
        inner = data.get("tag")
        data = inner if isinstance(inner, dict) else data
    else:
        data = {}
    return read_model(attrs.evolve(response, data={**known, **data}), into)


def iter_all_tags(
    requester: Requester,
    *,
    before: datetime | None = None,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Tag, None]:
    """Walk ``POST /v1/tags`` with the ``date`` cursor, newest ``updated`` first.

    The rules of :func:`~heymarket_async.resources._paging.walk_by_timestamp` apply: each
    tag once, and the walk always ends.

    Raises:
        RequestValidationError: ``before`` or ``max_pages`` is invalid.
    """
    first = DateCursor(before=before)

    async def fetch(cursor: datetime | None) -> ResponseList[Tag]:
        request = build_list_tags(DateCursor(before=cursor))
        response = await requester.request(request, timeout=timeout)
        return read_list(response, Tag, wrappers=("tags",))

    return walk_by_timestamp(
        fetch, timestamp=lambda tag: tag.updated, start=first.before, max_pages=max_pages
    )


class Tags(Resource):
    """Tags for contacts."""

    async def create(
        self, *, tag: str, color: str | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> TagCreated:
        """Create a tag.

        Not resent after an ambiguous failure (5xx, timeout, reset): a resend could create
        the tag twice.

        Args:
            tag: the label.
            color: ``#rrggbb`` or ``#rgb``.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        create = CreateTag(tag=tag, color=color)
        response = await self._requester.request(build_create_tag(create), timeout=timeout)
        return read_tag_written(response, TagCreated)

    async def get(self, tag_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Tag:
        """One tag."""
        response = await self._requester.request(build_get_tag(tag_id), timeout=timeout)
        return read_model(response, Tag, wrapper="tag")

    async def delete(self, tag_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> TagDeleted:
        """Delete a tag."""
        response = await self._requester.request(build_delete_tag(tag_id), timeout=timeout)
        return read_tag_written(response, TagDeleted, id=tag_id)

    def iter_all(
        self,
        *,
        before: datetime | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Tag, None]:
        """Every tag, most recently updated first, fetched lazily 30 at a time.

        Args:
            before: start below this time (aware ``datetime``); default: the newest.
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        return iter_all_tags(self._requester, before=before, max_pages=max_pages, timeout=timeout)
