from __future__ import annotations

import json

import pytest

from heymarket_async import HeymarketClient, TeamUser, UserUpdate
from heymarket_async.errors import RequestValidationError

from ...helpers import MockApi

GET = "/v1/users/get"
UPDATE = "/v1/users/update"
PHONE = "15105553344"
ANN = {"id": 3, "name": "Ann Lee", "phone": PHONE, "email": "ann@example.com", "role_id": 4}


async def test_get_sends_a_json_body_on_the_get(client: HeymarketClient, mock_api: MockApi) -> None:
    """The lookup is a GET with the exact JSON body and Content-Type, read from memberships."""
    mock_api.add("GET", GET, payload={"memberships": [ANN]})
    users = await client.users.get(phones=[PHONE], emails=["ann@example.com"])
    [(method, url, call)] = list(mock_api.all_calls())
    assert (method, url.path, url.query_string) == ("GET", GET, "")
    assert call.kwargs["data"] == b'{"phone":["15105553344"],"email":["ann@example.com"]}'
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert users == [
        TeamUser(id=3, name="Ann Lee", phone=PHONE, email="ann@example.com", role_id=4)
    ]
    assert users.request_id == "req-test-1"


async def test_get_with_no_match_is_empty(client: HeymarketClient, mock_api: MockApi) -> None:
    """`{"memberships": null}` is read as no users rather than an error."""
    mock_api.add("GET", GET, payload={"memberships": None})
    assert await client.users.get(emails=["nobody@example.com"]) == []
    [call] = mock_api.calls("GET", GET)
    assert json.loads(call.kwargs["data"]) == {"email": ["nobody@example.com"]}


async def test_update_sends_each_users_changes(client: HeymarketClient, mock_api: MockApi) -> None:
    """Update posts one object per user with only the changed fields and reads memberships."""
    mock_api.add("POST", UPDATE, payload={"memberships": [{**ANN, "role_id": 1}]})
    users = await client.users.update(users=[UserUpdate(id=3, role_id=1, last_name="Lee")])
    [call] = mock_api.calls("POST", UPDATE)
    assert json.loads(call.kwargs["data"]) == {
        "users": [{"id": 3, "last_name": "Lee", "role_id": 1}]
    }
    assert users[0].role_id == 1


async def test_update_is_retried_after_a_server_error(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Setting fields to given values is safe to repeat, so a 502 is retried."""
    mock_api.add("POST", UPDATE, status=502)
    mock_api.add("POST", UPDATE, payload={"memberships": [ANN]})
    users = await client.users.update(users=[UserUpdate(id=3, first_name="Ann")])
    assert [u.id for u in users] == [3]
    assert len(mock_api.calls("POST", UPDATE)) == 2


async def test_invalid_user_calls_send_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """An empty lookup, a bad address and an empty update are refused before any request."""
    with pytest.raises(RequestValidationError, match="at least one phone or email"):
        await client.users.get()
    with pytest.raises(RequestValidationError) as info:
        await client.users.get(emails=["ann@"])
    assert info.value.field == "emails[0]"
    with pytest.raises(RequestValidationError) as info:
        await client.users.update(users=[])
    assert info.value.field == "users"
    assert mock_api.mocked.requests == {}
