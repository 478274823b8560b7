from __future__ import annotations

from heymarket_async import HeymarketClient

from ..helpers import MockApi


async def test_inboxes_list_reads_a_bare_array(client: HeymarketClient, mock_api: MockApi) -> None:
    """GET /v1/inboxes returns Inbox models with the request id."""
    mock_api.add("GET", "/v1/inboxes", payload=[{"id": 1, "name": "Main", "members": [7]}])
    inboxes = await client.inboxes.list()
    assert [i.id for i in inboxes] == [1]
    assert inboxes[0].members == (7,)
    assert inboxes.request_id == "req-test-1"
