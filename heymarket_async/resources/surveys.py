"""Surveys: ``GET /v1/survey/{id}`` and ``POST /v1/surveys`` (numbered pages).

Contract: heymarket-api.md §2.9 and §3 (``page`` counts from 1). Send a survey with
``hm.messages.send(survey_id=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ._base import Requester, Resource, ResponseList, ResponseModel, Timeout, read_list, read_model
from ._paging import walk_by_page_number

__all__ = [
    "Survey",
    "Surveys",
    "SurveysQuery",
    "build_get_survey",
    "build_list_surveys",
    "iter_all_surveys",
    "read_surveys",
]


@attrs.frozen(kw_only=True)
class SurveysQuery:
    """A validated ``POST /v1/surveys`` body: ``page`` (from 1) and an optional ``limit``."""

    page: int = attrs.field(default=1, validator=check.positive_int)
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )


@attrs.frozen(kw_only=True)
class Survey(ResponseModel):
    """A survey; ``type`` is e.g. ``"nps"`` or ``"csat"``, ``question`` its opening question."""

    id: int
    name: str | None = None
    type: str | None = None
    question: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


check.read_leniently(Survey)

# The page is always sent, so the request says which page it asked for even for page 1.
converter.register_unstructure_hook(
    SurveysQuery,
    make_dict_unstructure_fn(
        SurveysQuery, converter, _cattrs_omit_if_default=True, page=override(omit_if_default=False)
    ),
)


def build_get_survey(survey_id: int) -> ApiRequest:
    """``GET /v1/survey/{id}``."""
    check.check_positive_int("survey_id", survey_id)
    return ApiRequest(method="GET", path=path("/v1/survey/{}", survey_id))


def build_list_surveys(query: SurveysQuery) -> ApiRequest:
    """``POST /v1/surveys``: a read, so it is safe to repeat."""
    return ApiRequest(method="POST", path="/v1/surveys", json=unstructure(query), replay_safe=True)


def read_surveys(response: ApiResponse) -> ResponseList[Survey]:
    """The surveys of one page, from a bare array or a ``{"surveys": [...]}`` wrapper."""
    return read_list(response, Survey, wrappers=("surveys",))


def iter_all_surveys(
    requester: Requester,
    *,
    limit: int | None = None,
    max_pages: int | None = None,
    timeout: Timeout = USE_CLIENT_DEFAULT,
) -> AsyncGenerator[Survey, None]:
    """Walk ``POST /v1/surveys`` from page 1.

    The rules of :func:`~heymarket_async.resources._paging.walk_by_page_number` apply: each
    survey once; the walk ends on an empty page, a page with nothing new, or a page shorter
    than an earlier one.

    Raises:
        RequestValidationError: ``limit`` or ``max_pages`` is invalid.
    """
    SurveysQuery(limit=limit)  # validates before any request

    async def fetch(page: int) -> ResponseList[Survey]:
        request = build_list_surveys(SurveysQuery(page=page, limit=limit))
        return read_surveys(await requester.request(request, timeout=timeout))

    return walk_by_page_number(fetch, max_pages=max_pages)


class Surveys(Resource):
    """NPS, CSAT and other surveys."""

    async def get(self, survey_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Survey:
        """One survey."""
        response = await self._requester.request(build_get_survey(survey_id), timeout=timeout)
        return read_model(response, Survey, wrapper="survey")

    async def list(
        self, *, page: int = 1, limit: int | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResponseList[Survey]:
        """One page of surveys.

        Args:
            page: the page number, from 1.
            limit: page size (the server's default and maximum are undocumented).

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        request = build_list_surveys(SurveysQuery(page=page, limit=limit))
        return read_surveys(await self._requester.request(request, timeout=timeout))

    def iter_all(
        self,
        *,
        limit: int | None = None,
        max_pages: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[Survey, None]:
        """Every survey, page by page from page 1, fetched lazily.

        Args:
            limit: page size sent to the server.
            max_pages: stop after this many pages.

        Raises:
            RequestValidationError: invalid arguments (raised here, before any request).
        """
        return iter_all_surveys(self._requester, limit=limit, max_pages=max_pages, timeout=timeout)
