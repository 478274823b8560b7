from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import ApiRequest, ApiResponse, CreateTag, Tag, TagCreated, TagDeleted
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources._base import read_model
from heymarket_async.resources._paging import DateCursor
from heymarket_async.resources.tags import (
    build_create_tag,
    build_delete_tag,
    build_get_tag,
    build_list_tags,
    read_tag_written,
)


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_create_builds_the_exact_request() -> None:
    """Create posts the label and colour and is not replay-safe (no local_id, no dedupe)."""
    assert build_create_tag(CreateTag(tag="vip", color="#1A73e8")) == ApiRequest(
        method="POST", path="/v1/tag", json={"tag": "vip", "color": "#1A73e8"}, replay_safe=False
    )
    assert build_create_tag(CreateTag(tag="vip")).json == {"tag": "vip"}


@pytest.mark.parametrize("color", ["#fa0", "#FFAA00", "#1a73e8"])
def test_hex_colours_are_accepted(color: str) -> None:
    """Both CSS hex forms, in either case, are valid colours."""
    assert CreateTag(tag="vip", color=color).color == color


@pytest.mark.parametrize(
    "color", ["red", "1a73e8", "#12345", "#1234567", "#ggg", "#\uff11\uff12\uff13", 0xFFF]
)
def test_invalid_colours_are_refused(color: Any) -> None:
    """Names, a missing '#', wrong lengths, non-hex and non-ASCII digits and ints are refused."""
    with pytest.raises(RequestValidationError) as info:
        CreateTag(tag="vip", color=color)
    assert info.value.field == "color"


def test_an_empty_label_is_refused() -> None:
    """A tag needs a label with some non-space character."""
    with pytest.raises(RequestValidationError) as info:
        CreateTag(tag="  ")
    assert info.value.field == "tag"


def test_get_delete_and_list_requests() -> None:
    """Get and delete address one tag; the listing posts `{}` first, then the `date` cursor."""
    assert build_get_tag(12) == ApiRequest(method="GET", path="/v1/tag/12")
    assert build_delete_tag(12) == ApiRequest(method="DELETE", path="/v1/tag/12")
    assert build_list_tags(DateCursor()) == ApiRequest(
        method="POST", path="/v1/tags", json={}, replay_safe=True
    )
    cursor = DateCursor(before=datetime(2026, 4, 16, 12, tzinfo=UTC))
    assert build_list_tags(cursor).json == {"date": "2026-04-16T12:00:00+00:00"}
    with pytest.raises(RequestValidationError) as info:
        build_delete_tag(0)
    assert info.value.field == "tag_id"


def test_tag_reading_is_not_confused_by_its_tag_field() -> None:
    """The `tag` label is not mistaken for a {"tag": {...}} wrapper, but a real wrapper is."""
    data = {"id": 12, "tag": "vip", "color": "#fa0", "team_id": 5, "rev": None, "x": 1}
    assert read_model(response(data), Tag, wrapper="tag") == Tag(
        id=12, tag="vip", color="#fa0", team_id=5
    )
    wrapped = read_model(response({"tag": {"id": 12, "tag": "vip"}}), Tag, wrapper="tag")
    assert wrapped == Tag(id=12, tag="vip")


def test_written_answers() -> None:
    """Create reads {id, rev, uuid}; delete reads "ok" or nothing as success for the path id."""
    created = read_tag_written(response({"id": 12, "rev": 1, "uuid": "u"}), TagCreated)
    assert created == TagCreated(id=12, rev=1, uuid="u")
    assert read_tag_written(response("ok"), TagDeleted, id=12) == TagDeleted(id=12)
    assert read_tag_written(response(None), TagDeleted, id=12).request_id == "req-1"
    with pytest.raises(UnexpectedResponseError):
        read_tag_written(response("ok"), TagCreated)
