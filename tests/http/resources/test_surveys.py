from __future__ import annotations

import json
from typing import Any

import pytest

from heymarket_async import HeymarketClient, Survey
from heymarket_async.errors import RequestValidationError

from ...helpers import MockApi

LIST = "/v1/surveys"


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def surveys(*ids: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"S{i}", "type": "nps"} for i in ids]


def pages_asked(mock_api: MockApi) -> list[Any]:
    return [sent_json(c) for c in mock_api.calls("POST", LIST)]


async def test_get_reads_one_survey(client: HeymarketClient, mock_api: MockApi) -> None:
    """Get reads the Survey object and its request id."""
    mock_api.add("GET", "/v1/survey/8", payload={"id": 8, "question": "How likely?", "x": 1})
    survey = await client.surveys.get(8)
    assert survey == Survey(id=8, question="How likely?")
    assert survey.request_id == "req-test-1"


async def test_list_asks_for_one_page(client: HeymarketClient, mock_api: MockApi) -> None:
    """List posts page and limit and returns that page with its request id."""
    mock_api.add("POST", LIST, payload={"surveys": surveys(4, 5)})
    page = await client.surveys.list(page=2, limit=3)
    assert [s.id for s in page] == [4, 5]
    assert page.request_id == "req-test-1"
    assert pages_asked(mock_api) == [{"page": 2, "limit": 3}]


async def test_iter_all_stops_on_a_short_page(client: HeymarketClient, mock_api: MockApi) -> None:
    """A page shorter than the ones before it is the last: no request for an empty page."""
    mock_api.add("POST", LIST, payload=surveys(1, 2, 3))
    mock_api.add("POST", LIST, payload=surveys(4, 5, 6))
    mock_api.add("POST", LIST, payload=surveys(7))
    assert [s.id async for s in client.surveys.iter_all(limit=3)] == [1, 2, 3, 4, 5, 6, 7]
    assert pages_asked(mock_api) == [
        {"page": 1, "limit": 3},
        {"page": 2, "limit": 3},
        {"page": 3, "limit": 3},
    ]


async def test_iter_all_stops_on_an_empty_page(client: HeymarketClient, mock_api: MockApi) -> None:
    """When the last page is full, the empty page after it ends the walk."""
    mock_api.add("POST", LIST, payload=surveys(1, 2))
    mock_api.add("POST", LIST, payload=[])
    assert [s.id async for s in client.surveys.iter_all()] == [1, 2]
    assert pages_asked(mock_api) == [{"page": 1}, {"page": 2}]


async def test_iter_all_does_not_trust_the_limit_as_page_size(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A server that caps the limit (2 of 10 asked) is still walked to the end."""
    mock_api.add("POST", LIST, payload=surveys(1, 2))
    mock_api.add("POST", LIST, payload=surveys(3, 4))
    mock_api.add("POST", LIST, payload=surveys(5))
    assert [s.id async for s in client.surveys.iter_all(limit=10)] == [1, 2, 3, 4, 5]
    assert len(mock_api.calls("POST", LIST)) == 3


async def test_iter_all_never_loops_on_a_server_that_ignores_the_page(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A server that always answers page 1 yields each survey once and costs two requests."""
    mock_api.add("POST", LIST, payload=surveys(1, 2), repeat=True)
    assert [s.id async for s in client.surveys.iter_all()] == [1, 2]
    assert len(mock_api.calls("POST", LIST)) == 2


async def test_iter_all_drops_repeats_across_pages(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A survey shifted onto the next page by an insert is yielded once."""
    mock_api.add("POST", LIST, payload=surveys(1, 2))
    mock_api.add("POST", LIST, payload=surveys(2, 3))
    mock_api.add("POST", LIST, payload=[])
    assert [s.id async for s in client.surveys.iter_all()] == [1, 2, 3]


async def test_iter_all_honours_max_pages(client: HeymarketClient, mock_api: MockApi) -> None:
    """max_pages bounds the walk."""
    mock_api.add("POST", LIST, payload=surveys(1, 2), repeat=True)
    mock_api.add("POST", LIST, payload=surveys(3, 4))
    assert [s.id async for s in client.surveys.iter_all(max_pages=1)] == [1, 2]
    assert len(mock_api.calls("POST", LIST)) == 1


async def test_invalid_survey_calls_send_nothing(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Page 0, a zero limit, max_pages 0 and a bad id are refused before any request."""
    with pytest.raises(RequestValidationError) as info:
        await client.surveys.list(page=0)
    assert info.value.field == "page"
    with pytest.raises(RequestValidationError) as info:
        client.surveys.iter_all(limit=0)
    assert info.value.field == "limit"
    with pytest.raises(RequestValidationError) as info:
        client.surveys.iter_all(max_pages=0)
    assert info.value.field == "max_pages"
    with pytest.raises(RequestValidationError):
        await client.surveys.get(0)
    assert mock_api.mocked.requests == {}
