from __future__ import annotations

import json
from typing import Any

import pytest

from heymarket_async import HeymarketClient, ListCreated, ListDeleted, ListUpdated
from heymarket_async.errors import RequestValidationError

from ...helpers import MockApi

LISTS = "/v2/lists"


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


async def test_create_list_wire_body_and_answer(client: HeymarketClient, mock_api: MockApi) -> None:
    """Create posts title, local_id and phones and returns {id, rev, uuid}."""
    mock_api.add("POST", LISTS, payload={"id": 501, "rev": 1, "uuid": "april-list"})
    created = await client.lists.create(
        title="April", local_id="april-list", phones=["15105553344", "14155550100"]
    )
    [call] = mock_api.calls("POST", LISTS)
    assert sent_json(call) == {
        "title": "April",
        "local_id": "april-list",
        "phones": ["15105553344", "14155550100"],
    }
    assert created == ListCreated(id=501, rev=1, uuid="april-list")
    assert created.request_id == "req-test-1"


async def test_create_list_is_resent_with_the_same_local_id(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A 503 on create is retried with the same generated local_id (the API dedupes lists)."""
    mock_api.add("POST", LISTS, status=503)
    mock_api.add("POST", LISTS, payload={"id": 502, "rev": 1, "uuid": "u"})
    created = await client.lists.create(title="May", emails=["a@example.com"])
    first, second = mock_api.calls("POST", LISTS)
    assert sent_json(first) == sent_json(second)
    assert len(sent_json(first)["local_id"]) == 35
    assert created.id == 502


async def test_update_list_puts_changes(client: HeymarketClient, mock_api: MockApi) -> None:
    """Update PUTs only the changes to /v2/lists/{id} and reads {id, rev}."""
    mock_api.add("PUT", f"{LISTS}/501", payload={"id": 501, "rev": 2})
    updated = await client.lists.update(
        501, add_phones=["15105553344"], remove_phones=["14155550100"]
    )
    [call] = mock_api.calls("PUT", f"{LISTS}/501")
    assert sent_json(call) == {"add_phones": ["15105553344"], "remove_phones": ["14155550100"]}
    assert updated == ListUpdated(id=501, rev=2)


@pytest.mark.parametrize(
    ("payload", "body", "expected"),
    [
        ({"deleted": True, "id": 501}, None, ListDeleted(id=501, deleted=True)),
        ("ok", None, ListDeleted(id=501, deleted=True)),
    ],
)
async def test_delete_list(
    client: HeymarketClient,
    mock_api: MockApi,
    payload: Any,
    body: Any,
    expected: ListDeleted,
) -> None:
    """Delete without contact ids sends no body and reads {deleted, id} or a bare "ok"."""
    mock_api.add("DELETE", f"{LISTS}/501", payload=payload)
    assert await client.lists.delete(501) == expected
    [call] = mock_api.calls("DELETE", f"{LISTS}/501")
    assert call.kwargs["data"] is body


async def test_delete_list_detaches_contacts(client: HeymarketClient, mock_api: MockApi) -> None:
    """contact_ids go in the DELETE body."""
    mock_api.add("DELETE", f"{LISTS}/501", payload={"deleted": True, "id": 501})
    await client.lists.delete(501, contact_ids=[1, 2])
    [call] = mock_api.calls("DELETE", f"{LISTS}/501")
    assert sent_json(call) == {"contact_ids": [1, 2]}


async def test_invalid_list_requests_send_nothing(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Validation errors are raised before anything is sent."""
    with pytest.raises(RequestValidationError, match="both add_phones and remove_phones"):
        await client.lists.update(501, add_phones=["15105553344"], remove_phones=["15105553344"])
    with pytest.raises(RequestValidationError, match="recipient"):
        await client.lists.create(title="Empty")
    assert mock_api.mocked.requests == {}
