from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from heymarket_async import GalleryContent, GalleryEntry, HeymarketClient, TemplateContent
from heymarket_async._validation import is_generated_local_id
from heymarket_async.errors import NetworkError, RequestValidationError, ServerError

from ...helpers import MockApi

CREATE = "/v1/template"
LIST = "/v1/templates"
IMAGE = "https://cdn.example.com/a.png"
T0 = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def at(minutes: int) -> datetime:
    return T0 - timedelta(minutes=minutes)


def template(id_: int, updated: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "updated": updated.isoformat(), **extra}


async def test_create_sends_title_and_content_and_reads_the_ids(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Create posts the exact body and returns id, rev, uuid and our local_id."""
    mock_api.add("POST", CREATE, payload={"id": 31, "rev": 1, "uuid": "tpl-1"})
    content = GalleryContent(text="Hi {{first_name}}", gallery=[GalleryEntry(url=IMAGE)])
    created = await client.templates.create(title="Welcome", content=content, local_id="tpl-1")
    [call] = mock_api.calls("POST", CREATE)
    assert sent_json(call) == {
        "title": "Welcome",
        "content": {"text": "Hi {{first_name}}", "gallery": [{"url": IMAGE}]},
        "local_id": "tpl-1",
    }
    assert (created.id, created.rev, created.uuid) == (31, 1, "tpl-1")
    assert (created.local_id, created.request_id) == ("tpl-1", "req-test-1")


async def test_create_generates_the_local_id_it_reports(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Without a local_id the one generated for the request is the one returned."""
    mock_api.add("POST", CREATE, payload={"id": 32})
    created = await client.templates.create(
        title="Bye", content=GalleryContent(text="Bye"), archived=True
    )
    body = sent_json(mock_api.calls("POST", CREATE)[0])
    assert is_generated_local_id(body["local_id"])
    assert created.local_id == body["local_id"]
    assert body["archived"] is True


@pytest.mark.parametrize(
    "failure", [{"status": 502}, {"exception": aiohttp.ServerDisconnectedError()}]
)
async def test_create_is_not_resent_after_an_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi, failure: dict[str, Any]
) -> None:
    """Without promised dedupe a create that may have landed is reported, not repeated."""
    mock_api.add("POST", CREATE, **failure)
    with pytest.raises((ServerError, NetworkError)):
        await client.templates.create(title="Welcome", content=GalleryContent(text="Hi"))
    assert len(mock_api.calls("POST", CREATE)) == 1


async def test_get_reads_name_or_title(client: HeymarketClient, mock_api: MockApi) -> None:
    """Get reads the Template, naming it from `name`, or from `title` when that is all it has."""
    mock_api.add(
        "GET", "/v1/template/31", payload={"id": 31, "name": "Welcome", "content": {"text": "Hi"}}
    )
    mock_api.add("GET", "/v1/template/32", payload={"template": {"id": 32, "title": "Bye"}})
    first = await client.templates.get(31)
    second = await client.templates.get(32)
    assert (first.name, first.content) == ("Welcome", TemplateContent(text="Hi"))
    assert (second.name, second.request_id) == ("Bye", "req-test-1")


async def test_update_puts_the_whole_body(client: HeymarketClient, mock_api: MockApi) -> None:
    """Update PUTs title and content to the template's path and reads {id, rev}."""
    mock_api.add("PUT", "/v1/template/31", payload={"id": 31, "rev": 2})
    updated = await client.templates.update(
        31, title="Welcome 2", content=GalleryContent(text="Hello")
    )
    [call] = mock_api.calls("PUT", "/v1/template/31")
    assert sent_json(call) == {"title": "Welcome 2", "content": {"text": "Hello"}}
    assert (updated.id, updated.rev) == (31, 2)


async def test_update_is_retried_after_a_server_error(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A PUT replaces the whole template, so repeating it after a 503 is safe."""
    mock_api.add("PUT", "/v1/template/31", status=503)
    mock_api.add("PUT", "/v1/template/31", payload="ok")
    updated = await client.templates.update(31, title="T", content=GalleryContent(text="x"))
    assert updated.id == 31
    assert len(mock_api.calls("PUT", "/v1/template/31")) == 2


@pytest.mark.parametrize("answer", [{"body": ""}, {"payload": "ok"}, {"payload": {"ok": True}}])
async def test_delete_accepts_any_acknowledgement(
    client: HeymarketClient, mock_api: MockApi, answer: dict[str, Any]
) -> None:
    """The undocumented delete answer (empty, "ok" or an object) reads as the deleted id."""
    mock_api.add("DELETE", "/v1/template/31", **answer)
    deleted = await client.templates.delete(31)
    assert deleted.id == 31


async def test_iter_all_pages_by_the_date_cursor(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The walk sends `{}`, then the last `updated` as `date`, drops repeats and ends on []."""
    mock_api.add("POST", LIST, payload=[template(3, at(0)), template(2, at(5))])
    mock_api.add("POST", LIST, payload={"templates": [template(2, at(5)), template(1, at(9))]})
    mock_api.add("POST", LIST, payload=[])
    names = [t.id async for t in client.templates.iter_all()]
    assert names == [3, 2, 1]
    assert [sent_json(c) for c in mock_api.calls("POST", LIST)] == [
        {},
        {"date": at(5).isoformat()},
        {"date": at(9).isoformat()},
    ]


async def test_iter_all_stops_when_the_cursor_stalls(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A page that only repeats what was seen at the same cursor ends the walk."""
    mock_api.add("POST", LIST, payload=[template(3, at(0)), template(2, at(5))])
    mock_api.add("POST", LIST, payload=[template(2, at(5))], repeat=True)
    assert [t.id async for t in client.templates.iter_all(before=T0)] == [3, 2]
    bodies = [sent_json(c) for c in mock_api.calls("POST", LIST)]
    assert bodies == [{"date": T0.isoformat()}, {"date": at(5).isoformat()}]


async def test_invalid_template_calls_send_nothing(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Missing content, bad ids and a naive cursor are refused before any request."""
    with pytest.raises(RequestValidationError):
        await client.templates.create(title="T", content=GalleryContent())
    with pytest.raises(RequestValidationError) as info:
        await client.templates.create(title="", content=GalleryContent(text="x"))
    assert info.value.field == "title"
    with pytest.raises(RequestValidationError):
        await client.templates.delete(0)
    with pytest.raises(RequestValidationError):
        client.templates.iter_all(before=datetime(2026, 4, 16))
    assert mock_api.mocked.requests == {}
