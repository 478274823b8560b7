from __future__ import annotations

import re
from typing import Any

import pytest

from heymarket_async import (
    ApiRequest,
    ApiResponse,
    CreateList,
    DeleteList,
    ListDeleted,
    ListUpdated,
    UpdateList,
)
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources.lists import (
    build_create_list,
    build_delete_list,
    build_update_list,
    read_list_deleted,
    read_list_updated,
)


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_create_builds_the_exact_request() -> None:
    """Create posts only the given fields with the local_id and is replay-safe (§2.5 dedupe)."""
    create = CreateList(
        title="April",
        local_id="april-list",
        phones=["15105553344", "14155550100"],
        emails=("a@example.com",),
        contacts=[5],
        type="contacts",
    )
    assert build_create_list(create) == ApiRequest(
        method="POST",
        path="/v2/lists",
        json={
            "title": "April",
            "local_id": "april-list",
            "type": "contacts",
            "contacts": [5],
            "phones": ["15105553344", "14155550100"],
            "emails": ["a@example.com"],
        },
        idempotency_key="april-list",
        replay_safe=True,
    )


def test_create_generates_the_required_local_id_once() -> None:
    """Without a local_id the API's required field is generated once and always sent."""
    create = CreateList(title="April", phones=["15105553344"])
    request = build_create_list(create)
    assert re.fullmatch(r"hm-[0-9a-f]{32}", create.local_id)
    assert request.json == {
        "title": "April",
        "local_id": create.local_id,
        "phones": ["15105553344"],
    }
    assert build_create_list(create).json == request.json


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "April"}, None),
        ({"title": "", "phones": ["15105553344"]}, "title"),
        ({"title": "A", "phones": ["15105553344", "+14155550100"]}, "phones[1]"),
        ({"title": "A", "phones": "15105553344"}, "phones"),
        ({"title": "A", "emails": ["nope"]}, "emails[0]"),
        ({"title": "A", "contacts": [0]}, "contacts[0]"),
        ({"title": "A", "phones": ["15105553344"], "type": "phones"}, "type"),
        ({"title": "A", "phones": ["15105553344"], "local_id": ""}, "local_id"),
    ],
)
def test_invalid_create_names_the_field(fields: dict[str, Any], field: str | None) -> None:
    """Each create rule violation raises RequestValidationError naming the field."""
    with pytest.raises(RequestValidationError) as info:
        CreateList(**fields)
    assert info.value.field == field


def test_update_puts_changes_to_the_list_path() -> None:
    """Update is a PUT to /v2/lists/{id} whose body holds only the changes, not the id."""
    update = UpdateList(
        list_id=501,
        title="April v2",
        add_phones=["15105553344"],
        remove_phones=["14155550100"],
        add_emails=["a@example.com"],
    )
    assert build_update_list(update) == ApiRequest(
        method="PUT",
        path="/v2/lists/501",
        json={
            "title": "April v2",
            "add_phones": ["15105553344"],
            "remove_phones": ["14155550100"],
            "add_emails": ["a@example.com"],
        },
        replay_safe=True,
    )


def test_update_contacts_replacement_may_be_empty() -> None:
    """contacts=[] is sent (it empties the membership); contacts=None is left out."""
    assert build_update_list(UpdateList(list_id=5, contacts=[])).json == {"contacts": []}
    assert build_update_list(UpdateList(list_id=5, contacts=[1, 2])).json == {"contacts": [1, 2]}


@pytest.mark.parametrize(
    ("fields", "field", "match"),
    [
        ({}, None, "at least one change"),
        (
            {"add_phones": ["15105553344"], "remove_phones": ["15105553344"]},
            "remove_phones",
            "both",
        ),
        ({"add_contacts": [3], "remove_contacts": [3]}, "remove_contacts", "both"),
        (
            {"add_emails": ["a@example.com"], "remove_emails": ["a@example.com"]},
            "remove_emails",
            "both",
        ),
        ({"contacts": [1], "add_contacts": [2]}, "contacts", "replaces"),
        ({"add_phones": ["+15105553344"]}, "add_phones[0]", "normalize_phone"),
        ({"list_id": 0, "title": "x"}, "list_id", "positive"),
    ],
)
def test_invalid_update_names_the_field(
    fields: dict[str, Any], field: str | None, match: str
) -> None:
    """Each update rule violation raises RequestValidationError naming the field."""
    with pytest.raises(RequestValidationError, match=match) as info:
        UpdateList(**{"list_id": 5, **fields})
    assert info.value.field == field


def test_delete_has_a_body_only_with_contact_ids() -> None:
    """Delete sends no body unless contacts are to be detached first."""
    assert build_delete_list(DeleteList(list_id=501)) == ApiRequest(
        method="DELETE", path="/v2/lists/501"
    )
    with_ids = build_delete_list(DeleteList(list_id=501, contact_ids=[1, 2]))
    assert with_ids.json == {"contact_ids": [1, 2]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"deleted": True, "id": 501}, ListDeleted(id=501, deleted=True)),
        ({"deleted": False, "id": 501}, ListDeleted(id=501, deleted=False)),
        ("ok", ListDeleted(id=501, deleted=True)),
        (None, ListDeleted(id=501, deleted=True)),
    ],
)
def test_delete_answer_is_read_leniently(data: Any, expected: ListDeleted) -> None:
    """The documented {deleted, id} is read; a bare acknowledgement means deleted."""
    assert read_list_deleted(response(data), DeleteList(list_id=501)) == expected


def test_update_answer_is_read_leniently() -> None:
    """{id, rev} is read; an "ok" answer still names the list we updated."""
    update = UpdateList(list_id=501, title="x")
    assert read_list_updated(response({"id": 501, "rev": 4}), update) == ListUpdated(id=501, rev=4)
    assert read_list_updated(response("ok"), update) == ListUpdated(id=501)
