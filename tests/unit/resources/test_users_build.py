from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import ApiRequest, ApiResponse, TeamUser, UserUpdate
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources.users import (
    UpdateUsers,
    UserLookup,
    build_lookup_users,
    build_update_users,
    read_memberships,
)

PHONE = "15105553344"


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_lookup_is_a_get_that_carries_a_json_body() -> None:
    """The lookup is a GET whose JSON body holds `phone` and `email` arrays (§2.2)."""
    request = build_lookup_users(UserLookup(phones=[PHONE], emails=["ann@example.com"]))
    assert request == ApiRequest(
        method="GET",
        path="/v1/users/get",
        json={"phone": [PHONE], "email": ["ann@example.com"]},
        replay_safe=True,
    )
    assert request.body_bytes() == b'{"phone":["15105553344"],"email":["ann@example.com"]}'


def test_lookup_sends_only_what_is_given() -> None:
    """Phones alone send only `phone`; emails alone only `email`."""
    assert build_lookup_users(UserLookup(phones=(PHONE,))).json == {"phone": [PHONE]}
    assert build_lookup_users(UserLookup(emails=("a@b.co",))).json == {"email": ["a@b.co"]}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, None),
        ({"phones": PHONE}, "phones"),
        ({"phones": ["+15105553344"]}, "phones[0]"),
        ({"emails": ["not-an-email"]}, "emails[0]"),
        ({"emails": [None]}, "emails[0]"),
        ({"emails": "a@b.co"}, "emails"),
    ],
)
def test_lookup_refuses_invalid_input(kwargs: dict[str, Any], field: str | None) -> None:
    """An empty lookup, a bare string, a number with '+' and a malformed address are refused."""
    with pytest.raises(RequestValidationError) as info:
        UserLookup(**kwargs)
    assert info.value.field == field


def test_update_sends_only_the_changed_fields() -> None:
    """Each user sends its id and the fields it changes; setting values may be repeated."""
    update = UpdateUsers(
        users=[UserUpdate(id=3, first_name="Ann", last_name="Lee"), UserUpdate(id=4, role_id=1)]
    )
    assert build_update_users(update) == ApiRequest(
        method="POST",
        path="/v1/users/update",
        json={
            "users": [
                {"id": 3, "first_name": "Ann", "last_name": "Lee"},
                {"id": 4, "role_id": 1},
            ]
        },
        replay_safe=True,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": 3}, "at least one change"),
        ({"id": 0, "role_id": 1}, "positive integer"),
        ({"id": 3, "role_id": 0}, "positive integer"),
        ({"id": 3, "first_name": ""}, "must not be empty"),
    ],
)
def test_user_update_refuses_invalid_changes(kwargs: dict[str, Any], message: str) -> None:
    """A change-less update, bad ids and empty names are refused."""
    with pytest.raises(RequestValidationError, match=message):
        UserUpdate(**kwargs)


@pytest.mark.parametrize(
    ("users", "field", "message"),
    [
        ([], "users", "at least one"),
        (UserUpdate(id=3, role_id=1), "users", "not a single UserUpdate"),
        ([{"id": 3, "role": 1}], "users[0]", "unknown field 'role'"),
        ([3], "users[0]", "must be a UserUpdate"),
        ([UserUpdate(id=3, role_id=1), UserUpdate(id=3, first_name="A")], "users[1]", "twice|more"),
    ],
)
def test_update_users_refuses_invalid_lists(users: Any, field: str, message: str) -> None:
    """The user list must be non-empty, hold UserUpdate values and name each user once."""
    with pytest.raises(RequestValidationError, match=message) as info:
        UpdateUsers(users=users)
    assert info.value.field == field


def test_memberships_are_read_leniently() -> None:
    """The wrapper is unwrapped, null fields act as absent and the request id is kept."""
    data = {
        "memberships": [
            {
                "id": 3,
                "phone": PHONE,
                "name": "Ann Lee",
                "email": "ann@example.com",
                "role_id": 4,
                "team_id": 5,
                "created_at": "2026-01-02T03:04:05Z",
                "updated_at": None,
                "user_created_at": "2025-12-01T00:00:00.123456Z",
                "new_field": True,
            }
        ]
    }
    users = read_memberships(response(data))
    assert users == [
        TeamUser(
            id=3,
            phone=PHONE,
            name="Ann Lee",
            email="ann@example.com",
            role_id=4,
            team_id=5,
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            user_created_at=datetime(2025, 12, 1, 0, 0, 0, 123456, tzinfo=UTC),
        )
    ]
    assert users.request_id == "req-1"


@pytest.mark.parametrize("data", [{"memberships": None}, {"memberships": []}, [], None])
def test_no_memberships_reads_as_an_empty_list(data: Any) -> None:
    """A null or empty `memberships`, an empty array and an empty body all mean no users."""
    assert read_memberships(response(data)) == []


def test_unreadable_memberships_are_unexpected() -> None:
    """A `memberships` value that is not an array raises UnexpectedResponseError."""
    with pytest.raises(UnexpectedResponseError):
        read_memberships(response({"memberships": "none"}))
