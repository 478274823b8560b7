from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import ApiRequest, ApiResponse, Survey
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources.surveys import (
    SurveysQuery,
    build_get_survey,
    build_list_surveys,
    read_surveys,
)


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_list_always_sends_the_page_number() -> None:
    """The first page is sent as page 1 explicitly; limit only when given; a read may repeat."""
    assert build_list_surveys(SurveysQuery()) == ApiRequest(
        method="POST", path="/v1/surveys", json={"page": 1}, replay_safe=True
    )
    assert build_list_surveys(SurveysQuery(page=3, limit=25)).json == {"page": 3, "limit": 25}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"page": 0}, "page"), ({"page": True}, "page"), ({"limit": 0}, "limit")],
)
def test_query_refuses_invalid_numbers(kwargs: dict[str, Any], field: str) -> None:
    """Pages count from 1 (§3), and the limit must be positive."""
    with pytest.raises(RequestValidationError) as info:
        SurveysQuery(**kwargs)
    assert info.value.field == field


def test_get_request() -> None:
    """Get addresses one survey by a positive id."""
    assert build_get_survey(8) == ApiRequest(method="GET", path="/v1/survey/8")
    with pytest.raises(RequestValidationError) as info:
        build_get_survey(0)
    assert info.value.field == "survey_id"


def test_surveys_are_read_from_a_bare_or_wrapped_array() -> None:
    """A bare array and a {"surveys": [...]} wrapper both give the surveys, fields leniently."""
    item = {"id": 8, "name": "NPS Q2", "type": "nps", "question": "How likely?", "other": 1}
    expected = Survey(id=8, name="NPS Q2", type="nps", question="How likely?")
    assert read_surveys(response([item])) == [expected]
    wrapped = read_surveys(response({"surveys": [{**item, "created": "2026-04-16T10:00:00Z"}]}))
    assert wrapped[0].created == datetime(2026, 4, 16, 10, tzinfo=UTC)
    assert wrapped.request_id == "req-1"
