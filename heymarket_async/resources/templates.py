"""Message templates: ``/v1/template`` create, get, update, delete; ``/v1/templates`` paging.

Contract: heymarket-api.md §2.7 and §3 (the ``date`` cursor). Requests name a template
``title``; the Template object names it ``name`` (an answer carrying ``title`` is read too).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
from ._base import Requester, Resource, ResponseList, ResponseModel, Timeout, read_list, read_model
from ._paging import DateCursor, walk_by_timestamp
from .schedules import GalleryEntry, gallery_entries

__all__ = [
    "CreateTemplate",
    "GalleryContent",
    "Template",
    "TemplateContent",
    "TemplateCreated",
    "TemplateDeleted",
    "TemplateUpdated",
    "Templates",
    "UpdateTemplate",
    "build_create_template",
    "build_delete_template",
    "build_get_template",
    "build_list_templates",
    "build_update_template",
    "iter_all_templates",
    "read_template_written",
]

W = TypeVar("W", bound=ResponseModel)


# --- Request models -------------------------------------------------------------------------


def _gallery_entries(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise RequestValidationError(
            attribute.name, f"must be a list of GalleryEntry, got {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, GalleryEntry):
            raise RequestValidationError(
                f"{attribute.name}[{index}]", f"must be a GalleryEntry, got {type(item).__name__}"
            )


@attrs.frozen(kw_only=True)
class GalleryContent:
    """A template's content: ``text`` (merge tokens such as ``{{first_name}}`` allowed),
    ``gallery`` images, or both.

    Raises:
        RequestValidationError: both are empty, or a field is invalid.
    """

    text: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    gallery: tuple[GalleryEntry, ...] = attrs.field(
        default=(), converter=gallery_entries, validator=_gallery_entries
    )

    def __attrs_post_init__(self) -> None:
        if self.text is None and not self.gallery:
            raise RequestValidationError("content", "give some content: text, gallery or both")


def _content(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, GalleryContent):
        raise RequestValidationError(
            attribute.name,
            f"must be a GalleryContent or a mapping of its fields, got {type(value).__name__}",
        )


def _gallery_content(value: GalleryContent | Mapping[str, Any]) -> GalleryContent:
    # The API reference shows content as JSON ({"text": ..., "gallery": [...]}).
    return check.nested(GalleryContent, "content", value)


def _optional_bool(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check.boolean(_inst, attribute, value)


@attrs.frozen(kw_only=True)
class CreateTemplate:
    """A validated ``POST /v1/template`` request (§2.7).

    A ``local_id`` is generated when omitted, so the template can be recognised later (the
    Template object carries it). §4 promises no dedupe by it for templates, so this request
    is never resent after an ambiguous failure.

    Raises:
        RequestValidationError: a field is invalid.
    """

    title: str = attrs.field(validator=check.non_empty_text)
    content: GalleryContent = attrs.field(converter=_gallery_content, validator=_content)
    local_id: str = attrs.field(factory=check.new_local_id, validator=check.local_id)
    archived: bool | None = attrs.field(default=None, validator=_optional_bool)


@attrs.frozen(kw_only=True)
class UpdateTemplate:
    """A validated ``PUT /v1/template/{id}`` request: the whole body, as for create (§2.7).

    Raises:
        RequestValidationError: a field is invalid.
    """

    template_id: int = attrs.field(validator=check.positive_int)
    title: str = attrs.field(validator=check.non_empty_text)
    content: GalleryContent = attrs.field(converter=_gallery_content, validator=_content)
    local_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.local_id)
    )
    archived: bool | None = attrs.field(default=None, validator=_optional_bool)


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TemplateContent:
    """A stored template's content as the API sends it; ``gallery`` entries are kept as sent."""

    text: str | None = None
    gallery: tuple[dict[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class Template(ResponseModel):
    """A template as ``GET /v1/template/{id}`` and ``POST /v1/templates`` return it (§2.7).

    Every field but ``id`` is optional. ``name`` is the title given on create (the API
    names it ``name`` here and ``title`` in requests); ``shared`` says whether the whole
    team sees it; archived and private templates are usually hidden from pickers.
    """

    id: int
    name: str | None = None
    local_id: str | None = None
    content: TemplateContent | None = None
    team_id: int | None = None
    creator_id: int | None = None
    shared: bool | None = None
    archived: bool | None = None
    rev: int | None = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class TemplateCreated(ResponseModel):
    """A created template; ``local_id`` is the one the request carried."""

    id: int
    rev: int | None = None
    uuid: str | None = None
    local_id: str | None = None


@attrs.frozen(kw_only=True)
class TemplateUpdated(ResponseModel):
    """An updated template and its new revision."""

    id: int
    rev: int | None = None


@attrs.frozen(kw_only=True)
class TemplateDeleted(ResponseModel):
    """A deleted template (``id`` is the one in the request's path)."""

    id: int


def _template_from_any_shape(data: dict[str, Any]) -> dict[str, Any]:
    # §2.7: the object says `name`, requests say `title`; a server echoing `title` still
    # names the template. Content stored as a bare string is read as its text.
    if "name" not in data and isinstance(data.get("title"), str):
        data = {**data, "name": data["title"]}
    if isinstance(data.get("content"), str):
        data = {**data, "content": {"text": data["content"]}}
    return data


# Nested models first: a hook is generated with the hooks its fields have at that moment.
check.read_leniently(TemplateContent)
check.read_leniently(Template, prepare=_template_from_any_shape)
for _model in (TemplateCreated, TemplateUpdated, TemplateDeleted):
    check.read_leniently(_model)


# --- Wire mapping -----------------------------------------------------------------------------

# A caller-given local_id must be sent even though its default is a factory.
converter.register_unstructure_hook(
    CreateTemplate,
    make_dict_unstructure_fn(
        CreateTemplate,
        converter,
        _cattrs_omit_if_default=True,
        local_id=override(omit_if_default=False),
    ),
)
# The template id goes in the path, not the body.
converter.register_unstructure_hook(
    UpdateTemplate,
    make_dict_unstructure_fn(
        UpdateTemplate, converter, _cattrs_omit_if_default=True, template_id=override(omit=True)
    ),
)


# --- Builders (pure) --------------------------------------------------------------------------


def build_create_template(create: CreateTemplate) -> ApiRequest:
    """``POST /v1/template``.

    Not replay-safe: §4 lists ``local_id`` on templates but promises no dedupe by it, so a
    resend after an ambiguous failure could create a second template. The failure is
    reported instead; the template, if it was created, carries ``create.local_id``.
    """
    return ApiRequest(
        method="POST",
        path="/v1/template",
        json=unstructure(create),
        idempotency_key=create.local_id,
        replay_safe=False,
    )


def build_get_template(template_id: int) -> ApiRequest:
    """``GET /v1/template/{id}``."""
    check.check_positive_int("template_id", template_id)
    return ApiRequest(method="GET", path=path("/v1/template/{}", template_id))


def build_update_template(update: UpdateTemplate) -> ApiRequest:
    """``PUT /v1/template/{id}``: a full replacement, so repeating it is harmless."""
    return ApiRequest(
        method="PUT",
        path=path("/v1/template/{}", update.template_id),
        json=unstructure(update),
        idempotency_key=update.local_id,
    )


def build_delete_template(template_id: int) -> ApiRequest:
    """``DELETE /v1/template/{id}``."""
    check.check_positive_int("template_id", template_id)
    return ApiRequest(method="DELETE", path=path("/v1/template/{}", template_id))


def build_list_templates(cursor: DateCursor) -> ApiRequest:
    """``POST /v1/templates``: ``{}`` for the newest 30, then ``{"date": ...}``; a read."""
    return ApiRequest(
        method="POST", path="/v1/templates", json=unstructure(cursor), replay_safe=True
    )


# --- Reading answers (pure) -----------------------------------------------------------------


def read_template_written(response: ApiResponse, into: type[W], **known: Any) -> W:
    """A create/update/delete answer read into ``into``; ``known`` fills what it leaves out.

    §2.7 documents ``{id, rev, uuid}`` and ``{id, rev}``; the delete answer is not shown,
    so a bare ``"ok"`` or an empty body is read as success with the id from the path.
    """
    data = response.data
    if isinstance(data, dict):
        inner = data.get("template")
        data = inner if isinstance(inner, dict) else data
    else:
        data = {}
    return read_model(attrs.evolve(response, data={**known, **data}), into)


def iter_all_templates(
    requester: Requester,
    *,
    before: datetime | None = None,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Template, None]:
    """Walk ``POST /v1/templates`` with the ``date`` cursor, newest ``updated`` first.

    The rules of :func:`~heymarket_async.resources._paging.walk_by_timestamp` apply: each
    template once, and the walk always ends.

    Raises:
        RequestValidationError: ``before`` or ``max_pages`` is invalid.
    """
    first = DateCursor(before=before)

    async def fetch(cursor: datetime | None) -> ResponseList[Template]:
        request = build_list_templates(DateCursor(before=cursor))
        response = await requester.request(request, timeout=timeout)
        return read_list(response, Template, wrappers=("templates",))

    return walk_by_timestamp(
        fetch, timestamp=lambda template: template.updated, start=first.before, max_pages=max_pages
    )


# --- Service ----------------------------------------------------------------------------------


class Templates(Resource):
    """Saved message templates (send one with ``hm.messages.send(template_id=...)``)."""

    async def create(
        self,
        *,
        title: str,
        content: GalleryContent | Mapping[str, Any],
        local_id: str | None = None,
        archived: bool | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> TemplateCreated:
        """Create a template.

        Not resent after an ambiguous failure (5xx, timeout, reset): the API promises no
        dedupe for templates, so a resend could create a duplicate. The template, if it was
        created, carries the ``local_id`` (look for it with :meth:`iter_all`).

        Args:
            title: the template's name.
            content: its text and/or gallery images: a :class:`GalleryContent`, or a
                mapping of its fields as in the API reference (``{"text": ...}``).
            local_id: your identifier; generated when omitted.
            archived: create it archived.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        extra: dict[str, Any] = {} if local_id is None else {"local_id": local_id}
        create = CreateTemplate(title=title, content=content, archived=archived, **extra)
        response = await self._requester.request(build_create_template(create), timeout=timeout)
        return read_template_written(response, TemplateCreated, local_id=create.local_id)

    async def get(self, template_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Template:
        """One template."""
        response = await self._requester.request(build_get_template(template_id), timeout=timeout)
        return read_model(response, Template, wrapper="template")

    async def update(
        self,
        template_id: int,
        *,
        title: str,
        content: GalleryContent | Mapping[str, Any],
        local_id: str | None = None,
        archived: bool | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> TemplateUpdated:
        """Replace a template's title and content (the whole body, as for :meth:`create`).

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        update = UpdateTemplate(
            template_id=template_id,
            title=title,
            content=content,
            local_id=local_id,
            archived=archived,
        )
        response = await self._requester.request(build_update_template(update), timeout=timeout)
        return read_template_written(response, TemplateUpdated, id=template_id)

    async def delete(
        self, template_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> TemplateDeleted:
        """Delete a template."""
        request = build_delete_template(template_id)
        response = await self._requester.request(request, timeout=timeout)
        return read_template_written(response, TemplateDeleted, id=template_id)

    def iter_all(
        self,
        *,
        before: datetime | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Template, None]:
        """Every template, most recently updated first, fetched lazily 30 at a time.

        Args:
            before: start below this time (aware ``datetime``); default: the newest.
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        return iter_all_templates(
            self._requester, before=before, max_pages=max_pages, timeout=timeout
        )
