from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from heymarket_async import HeymarketClient, Tag
from heymarket_async.errors import RequestValidationError, ServerError

from ...helpers import MockApi

LIST = "/v1/tags"
T0 = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def at(minutes: int) -> datetime:
    return T0 - timedelta(minutes=minutes)


def tag(id_: int, updated: datetime, label: str = "vip") -> dict[str, Any]:
    return {"id": id_, "tag": label, "updated": updated.isoformat()}


async def test_create_sends_label_and_colour(client: HeymarketClient, mock_api: MockApi) -> None:
    """Create posts `tag` and `color` and reads {id, rev, uuid}."""
    mock_api.add("POST", "/v1/tag", payload={"id": 12, "rev": 1, "uuid": "u-12"})
    created = await client.tags.create(tag="vip", color="#1a73e8")
    [call] = mock_api.calls("POST", "/v1/tag")
    assert sent_json(call) == {"tag": "vip", "color": "#1a73e8"}
    assert (created.id, created.uuid, created.request_id) == (12, "u-12", "req-test-1")


async def test_create_is_not_resent_after_a_server_error(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A tag has no dedupe key, so a create that may have landed is not repeated."""
    mock_api.add("POST", "/v1/tag", status=500)
    with pytest.raises(ServerError):
        await client.tags.create(tag="vip")
    assert len(mock_api.calls("POST", "/v1/tag")) == 1


async def test_invalid_colour_sends_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """A colour that is not #rgb or #rrggbb is refused before any request."""
    with pytest.raises(RequestValidationError) as info:
        await client.tags.create(tag="vip", color="blue")
    assert info.value.field == "color"
    assert mock_api.mocked.requests == {}


async def test_get_and_delete(client: HeymarketClient, mock_api: MockApi) -> None:
    """Get reads a Tag whose `tag` is its label; delete reads a bare "ok" as success."""
    mock_api.add("GET", "/v1/tag/12", payload={"id": 12, "tag": "vip", "color": "#fa0"})
    mock_api.add("DELETE", "/v1/tag/12", payload="ok")
    assert await client.tags.get(12) == Tag(id=12, tag="vip", color="#fa0")
    assert (await client.tags.delete(12)).id == 12


async def test_iter_all_pages_by_the_date_cursor(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The walk follows the last `updated`, drops the boundary repeat and ends on []."""
    mock_api.add("POST", LIST, payload=[tag(5, at(0)), tag(4, at(1))])
    mock_api.add("POST", LIST, payload=[tag(4, at(1)), tag(3, at(2), "new")])
    mock_api.add("POST", LIST, payload=[])
    found = [t async for t in client.tags.iter_all()]
    assert [(t.id, t.tag) for t in found] == [(5, "vip"), (4, "vip"), (3, "new")]
    dates = [sent_json(c).get("date") for c in mock_api.calls("POST", LIST)]
    assert dates == [None, at(1).isoformat(), at(2).isoformat()]


async def test_iter_all_ends_when_tags_carry_no_timestamp(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Without `updated` there is nothing to page by: the page is yielded and the walk ends."""
    mock_api.add("POST", LIST, payload=[{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}], repeat=True)
    assert [t.id async for t in client.tags.iter_all()] == [1, 2]
    assert len(mock_api.calls("POST", LIST)) == 1


async def test_iter_all_honours_max_pages(client: HeymarketClient, mock_api: MockApi) -> None:
    """max_pages bounds the walk even while every page brings something new."""
    mock_api.add("POST", LIST, payload=[tag(5, at(0))])
    mock_api.add("POST", LIST, payload=[tag(4, at(1))])
    assert [t.id async for t in client.tags.iter_all(max_pages=2)] == [5, 4]
    assert len(mock_api.calls("POST", LIST)) == 2
