from __future__ import annotations

import pytest

from heymarket_async import HeymarketClient
from heymarket_async.errors import UnexpectedResponseError

from ..helpers import MockApi

INBOX = {
    "id": 42,
    "name": "Support",
    "phone": "15105553344",
    "phones": ["15105553344"],
    "members": [7, 8],
    "team": 3,
    "forward_number": None,
    "widget_settings": {"position": 1},
    "brandNewField": {"x": 1},
}


async def test_inboxes_from_bare_array(client: HeymarketClient, mock_api: MockApi) -> None:
    """A bare array of inboxes is read; unknown fields and nulls do not break parsing."""
    mock_api.add("GET", "/v1/inboxes", payload=[INBOX, {"id": 43}])
    inboxes = await client.inboxes.list()
    assert [i.id for i in inboxes] == [42, 43]
    first = inboxes[0]
    assert first.members == (7, 8)
    assert first.forward_number is None
    assert first.widget_settings == {"position": 1}
    assert inboxes.request_id == "req-test-1"


async def test_inboxes_from_wrapper_object(client: HeymarketClient, mock_api: MockApi) -> None:
    """The older {"inboxes": [...]} wrapper is unwrapped."""
    mock_api.add("GET", "/v1/inboxes", payload={"inboxes": [INBOX]})
    assert [i.name for i in await client.inboxes.list()] == ["Support"]


@pytest.mark.parametrize(
    ("invited", "expected"),
    [(True, True), (False, False), (["a@x.com"], ("a@x.com",)), (None, None)],
)
async def test_invited_as_bool_or_list(
    client: HeymarketClient, mock_api: MockApi, invited: object, expected: object
) -> None:
    """`invited` is accepted as a boolean or a list, as the two doc versions say."""
    mock_api.add("GET", "/v1/inboxes", payload=[{**INBOX, "invited": invited}])
    assert (await client.inboxes.list())[0].invited == expected


async def test_malformed_inbox_is_unexpected_response(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """An inbox without an id raises UnexpectedResponseError naming the path."""
    mock_api.add("GET", "/v1/inboxes", payload=[{"name": "no id"}], request_id="r-7")
    with pytest.raises(UnexpectedResponseError) as info:
        await client.inboxes.list()
    assert "$[0].id" in str(info.value) or "id" in str(info.value)
    assert info.value.request_id == "r-7"


async def test_inboxes_object_without_list_is_unexpected(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """An object answer that holds no list is reported, not misread."""
    mock_api.add("GET", "/v1/inboxes", payload={"unexpected": True})
    with pytest.raises(UnexpectedResponseError):
        await client.inboxes.list()


async def test_team_get(client: HeymarketClient, mock_api: MockApi) -> None:
    """GET /v1/team yields the team, members and list_size with the request id."""
    mock_api.add(
        "GET",
        "/v1/team",
        payload={
            "id": 3,
            "name": "Acme",
            "list_size": 10000,
            "members": [{"id": 7, "name": "Ann", "role": "admin", "email": "ann@x.com"}],
            "extra": "ignored",
        },
        request_id="team-req",
    )
    team = await client.team.get()
    assert team.list_size == 10000
    assert team.members[0].id == 7
    assert team.members[0].email == "ann@x.com"
    assert team.request_id == "team-req"


async def test_team_get_rejects_an_array(client: HeymarketClient, mock_api: MockApi) -> None:
    """A team answer that is not an object raises UnexpectedResponseError."""
    mock_api.add("GET", "/v1/team", payload=[1, 2])
    with pytest.raises(UnexpectedResponseError):
        await client.team.get()
