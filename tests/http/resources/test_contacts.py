from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from yarl import URL

from heymarket_async import (
    ContactChannelInput,
    ContactSaved,
    ContactStatus,
    CreateContact,
    CreateContactV2,
    HeymarketClient,
    UpdateContactV2,
)
from heymarket_async.errors import (
    NetworkError,
    NotFoundError,
    RequestValidationError,
    ServerError,
)

from ...helpers import MockApi

PHONE = "15105553344"
UUID = "6f1c2d3e-0a1b-4c5d-8e9f-001122334455"
STORED = {
    "id": 77,
    "phone": PHONE,
    "first": "Ann",
    "last": "Lee",
    "display_name": "Ann Lee",
    "email": "ann@example.com",
    "custom": {"12": "red", "13": "tall"},
    "tags": [{"tag_id": 3}],
    "assigned_user_id": 9,
    "is_opted_out": False,
    "updated": "2026-04-16T12:00:00Z",
}


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def order(mock_api: MockApi) -> list[tuple[str, str]]:
    """Each distinct (method, path?query) requested, in the order first requested."""
    return [
        (method, URL(url).path + (f"?{URL(url).query_string}" if URL(url).query_string else ""))
        for method, url in mock_api.mocked.requests
    ]


def contact(contact_id: int, updated: str) -> dict[str, Any]:
    return {"id": contact_id, "phone": f"1510555{contact_id:04d}", "updated": updated}


# --- v1 create / read ---------------------------------------------------------------------------


async def test_create_posts_the_payload_and_reads_id_rev_uuid(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Create posts the validated payload and returns {id, rev, uuid} with the request id."""
    mock_api.add("POST", "/v1/contact", payload={"id": 77, "rev": 1, "uuid": "c-77"})
    saved = await client.contacts.create(
        phone=PHONE, first="Ann", custom={12: "blue"}, tags=[3], assignee_id=9
    )
    [call] = mock_api.calls("POST", "/v1/contact")
    assert sent_json(call) == {
        "phone": PHONE,
        "first": "Ann",
        "custom": {"12": "blue"},
        "tags": [{"tag_id": 3}],
        "assignee_id": 9,
    }
    assert saved == ContactSaved(id=77, rev=1, uuid="c-77")
    assert saved.request_id == "req-test-1"


@pytest.mark.parametrize(
    "failure", [{"status": 503}, {"exception": aiohttp.ServerDisconnectedError()}]
)
async def test_create_is_not_resent_after_an_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi, failure: dict[str, Any]
) -> None:
    """A create that may have landed is reported, never repeated (no contact dedupe exists)."""
    mock_api.add("POST", "/v1/contact", **failure)
    mock_api.add("POST", "/v1/contact", payload={"id": 78})
    with pytest.raises((ServerError, NetworkError)):
        await client.contacts.create(phone=PHONE)
    assert len(mock_api.calls("POST", "/v1/contact")) == 1


async def test_title_keyed_custom_is_refused_before_the_wire(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A custom map keyed by title raises and points at resolve_custom_fields; nothing is sent."""
    with pytest.raises(RequestValidationError, match="resolve_custom_fields"):
        await client.contacts.create(phone=PHONE, custom={"Favorite color": "blue"})
    assert mock_api.mocked.requests == {}


async def test_resolve_custom_fields_then_create(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The helper lists the fields and turns titles into ids the create then sends."""
    mock_api.add(
        "POST",
        "/v1/contact-fields",
        payload=[{"id": 12, "title": "Favorite color"}, {"id": 13, "title": "Size"}],
    )
    mock_api.add("POST", "/v1/contact", payload={"id": 77})
    custom = await client.contacts.resolve_custom_fields({"Favorite color": "blue"})
    assert custom == {"12": "blue"}
    await client.contacts.create(phone=PHONE, custom=custom)
    [listing] = mock_api.calls("POST", "/v1/contact-fields")
    assert sent_json(listing) == {}
    assert sent_json(mock_api.calls("POST", "/v1/contact")[0])["custom"] == {"12": "blue"}


async def test_resolve_custom_fields_names_an_unknown_title(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """An unknown title raises RequestValidationError naming it (never a silent drop)."""
    mock_api.add("POST", "/v1/contact-fields", payload=[{"id": 12, "title": "Favorite color"}])
    with pytest.raises(RequestValidationError, match="'Shoe size'"):
        await client.contacts.resolve_custom_fields({"Favorite color": "blue", "Shoe size": 9})


async def test_create_fields_posts_titles_and_reads_ids(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Creating fields posts [{title}] and reads [{id, title, duplicate}]."""
    mock_api.add(
        "POST",
        "/v1/contacts/fields",
        payload=[{"id": 12, "title": "Size", "duplicate": False}],
    )
    [field] = await client.contacts.create_fields(["Size"])
    assert sent_json(mock_api.calls("POST", "/v1/contacts/fields")[0]) == [{"title": "Size"}]
    assert (field.id, field.title, field.duplicate) == (12, "Size", False)


async def test_get_and_get_by(client: HeymarketClient, mock_api: MockApi) -> None:
    """GET by id reads a Contact; get_by posts the id as a string, or only the phone."""
    mock_api.add("GET", "/v1/contact/77", payload=STORED)
    mock_api.add("POST", "/v1/contact/get", payload=STORED, repeat=True)
    got = await client.contacts.get(77)
    assert (got.id, got.first, got.custom) == (77, "Ann", {"12": "red", "13": "tall"})
    await client.contacts.get_by(id=77)
    await client.contacts.get_by(phone=PHONE, id=77)
    bodies = [sent_json(c) for c in mock_api.calls("POST", "/v1/contact/get")]
    assert bodies == [{"id": "77"}, {"phone": PHONE}]


# --- v1 update: read-modify-write ---------------------------------------------------------------


async def test_update_reads_then_puts_the_unchanged_fields(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """update() GETs the contact, then PUTs the change plus every field it did not change."""
    mock_api.add("GET", "/v1/contact/77", payload=STORED)
    mock_api.add("PUT", "/v1/contact/77?overwrite=false", payload={"id": 77, "rev": 2})
    saved = await client.contacts.update(77, last="Ng", custom={"12": "blue"})
    assert order(mock_api) == [
        ("GET", "/v1/contact/77"),
        ("PUT", "/v1/contact/77?overwrite=false"),
    ]
    [put] = mock_api.calls("PUT", "/v1/contact/77")
    assert sent_json(put) == {
        "phone": PHONE,
        "email": "ann@example.com",
        "first": "Ann",
        "last": "Ng",
        "display_name": "Ann Ng",
        "custom": {"12": "blue", "13": "tall"},
        "tags": [{"tag_id": 3}],
        "assignee_id": 9,
    }
    assert saved == ContactSaved(id=77, rev=2)


async def test_update_with_overwrite_replaces_the_custom_map(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """overwrite=True sends ?overwrite=true and only the given custom entries."""
    mock_api.add("GET", "/v1/contact/77", payload=STORED)
    mock_api.add("PUT", "/v1/contact/77?overwrite=true", payload="ok")
    saved = await client.contacts.update(77, custom={}, overwrite=True)
    assert sent_json(mock_api.calls("PUT", "/v1/contact/77")[0])["custom"] == {}
    assert saved.id == 77


async def test_update_of_a_missing_contact_puts_nothing(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A 404 on the read ends the update before any PUT."""
    mock_api.add("GET", "/v1/contact/77", status=404, payload={"message": "no contact"})
    with pytest.raises(NotFoundError):
        await client.contacts.update(77, first="Anna")
    assert mock_api.calls("PUT", "/v1/contact/77") == []


async def test_update_retries_the_put_without_reading_again(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A 503 on the PUT is repeated with the same body (a PUT is replay-safe); one GET."""
    mock_api.add("GET", "/v1/contact/77", payload=STORED)
    mock_api.add("PUT", "/v1/contact/77?overwrite=false", status=503)
    mock_api.add("PUT", "/v1/contact/77?overwrite=false", payload={"id": 77, "rev": 3})
    await client.contacts.update(77, first="Anna")
    first, second = mock_api.calls("PUT", "/v1/contact/77")
    assert sent_json(first) == sent_json(second)
    assert len(mock_api.calls("GET", "/v1/contact/77")) == 1


async def test_invalid_update_sends_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """Invalid changes are refused before the read, so no request is made at all."""
    with pytest.raises(RequestValidationError, match="at least one field"):
        await client.contacts.update(77)
    with pytest.raises(RequestValidationError, match="give custom="):
        await client.contacts.update(77, first="A", overwrite=True)
    with pytest.raises(RequestValidationError, match="resolve_custom_fields"):
        await client.contacts.update(77, custom={"Size": 4})
    assert mock_api.mocked.requests == {}


async def test_replace_puts_exactly_the_given_fields(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """replace() is one PUT with only what was given; no read happens."""
    mock_api.add("PUT", "/v1/contact/77?overwrite=false", payload={"id": 77, "rev": 4})
    await client.contacts.replace(77, phone=PHONE, first="Ann")
    assert order(mock_api) == [("PUT", "/v1/contact/77?overwrite=false")]
    assert sent_json(mock_api.calls("PUT", "/v1/contact/77")[0]) == {"phone": PHONE, "first": "Ann"}


async def test_delete(client: HeymarketClient, mock_api: MockApi) -> None:
    """Delete sends DELETE /v1/contact/{id} with no body."""
    mock_api.add("DELETE", "/v1/contact/77", payload="ok")
    assert await client.contacts.delete(77) is None
    [call] = mock_api.calls("DELETE", "/v1/contact/77")
    assert call.kwargs["data"] is None


# --- v1 paging, count, status -------------------------------------------------------------------


async def test_iter_all_pages_by_updated_and_deduplicates_ties(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The cursor is the last contact's `updated`; a repeat at the tie is dropped; an empty
    page ends the walk."""
    t3, t2, t1 = "2026-04-16T12:00:03Z", "2026-04-16T12:00:02Z", "2026-04-16T12:00:01Z"
    mock_api.add("POST", "/v1/contacts", payload=[contact(1, t3), contact(2, t2), contact(3, t2)])
    mock_api.add("POST", "/v1/contacts", payload=[contact(3, t2), contact(4, t1)])
    mock_api.add("POST", "/v1/contacts", payload=[])
    seen = [c.id async for c in client.contacts.iter_all(limit=3)]
    assert seen == [1, 2, 3, 4]
    bodies = [sent_json(c) for c in mock_api.calls("POST", "/v1/contacts")]
    assert bodies == [
        {"limit": 3},
        {"limit": 3, "date": "2026-04-16T12:00:02+00:00"},
        {"limit": 3, "date": "2026-04-16T12:00:01+00:00"},
    ]


async def test_iter_all_stops_when_the_server_ignores_the_cursor(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The same page twice brings nothing new and does not move the cursor: the walk ends."""
    page = [contact(1, "2026-04-16T12:00:03Z"), contact(2, "2026-04-16T12:00:02Z")]
    mock_api.add("POST", "/v1/contacts", payload=page, repeat=True)
    seen = [c.id async for c in client.contacts.iter_all()]
    assert seen == [1, 2]
    assert len(mock_api.calls("POST", "/v1/contacts")) == 2


async def test_count_reads_a_json_string(client: HeymarketClient, mock_api: MockApi) -> None:
    """The count arrives as a JSON string and is returned as an int."""
    mock_api.add("POST", "/v1/contacts/count", payload="1234")
    assert await client.contacts.count() == 1234
    assert sent_json(mock_api.calls("POST", "/v1/contacts/count")[0]) == {}


async def test_status_and_set_status(client: HeymarketClient, mock_api: MockApi) -> None:
    """status reads the flags; set_status posts the phone and the status value."""
    mock_api.add(
        "POST",
        "/v1/contact/status",
        payload={"id": 77, "phone": PHONE, "unsubscribed": True, "blocked": False},
    )
    mock_api.add("POST", "/v1/contact/set_status", payload="success")
    status = await client.contacts.status(phone=PHONE)
    assert (status.id, status.unsubscribed, status.is_opted_out, status.can_message) == (
        77,
        True,
        True,
        False,
    )
    await client.contacts.set_status(phone=PHONE, status=ContactStatus.SUBSCRIBED)
    assert sent_json(mock_api.calls("POST", "/v1/contact/status")[0]) == {"phone": PHONE}
    assert sent_json(mock_api.calls("POST", "/v1/contact/set_status")[0]) == {
        "phone": PHONE,
        "status": "subscribed",
    }


async def test_batch_create_reports_failures(client: HeymarketClient, mock_api: MockApi) -> None:
    """The batch posts an array with ?overwrite= and lists the contacts the server refused."""
    mock_api.add(
        "POST",
        "/v1/batch/contacts?overwrite=true",
        payload=[{"phone": "14155550100", "error": "invalid number"}],
    )
    result = await client.contacts.batch_create(
        [CreateContact(phone=PHONE), CreateContact(phone="14155550100")], overwrite=True
    )
    assert order(mock_api) == [("POST", "/v1/batch/contacts?overwrite=true")]
    assert sent_json(mock_api.calls("POST", "/v1/batch/contacts")[0]) == [
        {"phone": PHONE},
        {"phone": "14155550100"},
    ]
    assert (result.ok, result.submitted) == (False, 2)
    assert [(f.phone, f.reason) for f in result.failed] == [("14155550100", "invalid number")]


async def test_batch_create_ok(client: HeymarketClient, mock_api: MockApi) -> None:
    """A bare "ok" means every contact was saved."""
    mock_api.add("POST", "/v1/batch/contacts?overwrite=false", payload="ok")
    result = await client.contacts.batch_create([CreateContact(phone=PHONE)])
    assert result.ok
    assert result.request_id == "req-test-1"


# --- v2 -----------------------------------------------------------------------------------------


async def test_v2_create_get_update_delete(client: HeymarketClient, mock_api: MockApi) -> None:
    """The v2 CRUD calls use the UUID paths and the documented bodies."""
    mock_api.add("POST", "/v2/contact", payload={"id": 77, "rev": 1, "uuid": UUID})
    mock_api.add(
        "GET",
        f"/v2/contact/{UUID}",
        payload={
            "id": UUID,
            "first": "Ann",
            "contact_channels": [{"channel_type": "phone", "channel_id": PHONE}],
        },
    )
    mock_api.add("PUT", f"/v2/contact/{UUID}", payload={"id": UUID, "last": "Ng"})
    mock_api.add("DELETE", f"/v2/contact/{UUID}", payload="ok")
    created = await client.contacts.v2.create(
        contact_channels=[ContactChannelInput.phone(PHONE)], first="Ann"
    )
    assert created.uuid == UUID
    assert sent_json(mock_api.calls("POST", "/v2/contact")[0]) == {
        "first": "Ann",
        "contact_channels": [{"channel_type": "phone", "channel_id": PHONE}],
    }
    got = await client.contacts.v2.get(UUID)
    assert [c.channel_id for c in got.contact_channels] == [PHONE]
    updated = await client.contacts.v2.update(UUID, last="Ng")
    assert sent_json(mock_api.calls("PUT", f"/v2/contact/{UUID}")[0]) == {"last": "Ng"}
    assert updated.last == "Ng"
    await client.contacts.v2.delete(UUID)
    assert len(mock_api.calls("DELETE", f"/v2/contact/{UUID}")) == 1


async def test_v2_create_is_not_resent_after_a_503(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A v2 create that may have landed is not repeated."""
    mock_api.add("POST", "/v2/contact", status=503)
    with pytest.raises(ServerError):
        await client.contacts.v2.create(contact_channels=[ContactChannelInput.phone(PHONE)])
    assert len(mock_api.calls("POST", "/v2/contact")) == 1


async def test_v2_bulk_upsert_and_bulk_delete(client: HeymarketClient, mock_api: MockApi) -> None:
    """Bulk upsert reports per-item failures; bulk delete is a DELETE with a JSON body."""
    mock_api.add(
        "POST",
        "/v2/contacts",
        payload={
            "contacts": [{"id": UUID, "first": "B"}],
            "failed_contacts": [{"contact": {"phone": "123"}, "message": "bad phone"}],
        },
    )
    mock_api.add("DELETE", "/v2/contacts", payload="ok")
    result = await client.contacts.v2.bulk_upsert(
        [
            UpdateContactV2(contact_id=UUID, first="B"),
            CreateContactV2(contact_channels=[ContactChannelInput.email("a@example.com")]),
        ]
    )
    assert [c.contact_uuid for c in result.contacts] == [UUID]
    assert [(f.phone, f.reason) for f in result.failed_contacts] == [("123", "bad phone")]
    assert sent_json(mock_api.calls("POST", "/v2/contacts")[0])["contacts"][0] == {
        "contact_id": UUID,
        "first": "B",
    }
    await client.contacts.v2.bulk_delete([UUID])
    assert sent_json(mock_api.calls("DELETE", "/v2/contacts")[0]) == {
        "contact_channels": [{"channel_type": "id", "channel_ids": [UUID]}]
    }


async def test_v2_search(client: HeymarketClient, mock_api: MockApi) -> None:
    """Search posts the channel values and reads the matching contacts."""
    mock_api.add("POST", "/v2/contacts/search", payload=[{"id": UUID, "phone": PHONE}])
    found = await client.contacts.v2.search(phones=[PHONE])
    assert [c.phone for c in found] == [PHONE]
    assert sent_json(mock_api.calls("POST", "/v2/contacts/search")[0]) == {
        "contact_channels": [{"channel_type": "phone", "channel_ids": [PHONE]}]
    }


async def test_v2_iter_all_pages_from_zero_and_stops_on_a_short_page(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Pages 0, 1, 2 are requested; a repeat from the previous page is dropped; the short
    page ends the walk."""
    mock_api.add("POST", "/v2/contacts/list", payload=[{"id": "a"}, {"id": "b"}])
    mock_api.add("POST", "/v2/contacts/list", payload=[{"id": "b"}, {"id": "c"}])
    mock_api.add("POST", "/v2/contacts/list", payload=[{"id": "d"}])
    mock_api.add("POST", "/v2/contacts/list", payload=[{"id": "never"}])
    seen = [c.id async for c in client.contacts.v2.iter_all(limit=2)]
    assert seen == ["a", "b", "c", "d"]
    pages = [sent_json(c) for c in mock_api.calls("POST", "/v2/contacts/list")]
    assert pages == [{"limit": 2, "page": 0}, {"limit": 2, "page": 1}, {"limit": 2, "page": 2}]


async def test_v2_iter_all_stops_on_an_empty_page_or_a_server_ignoring_page(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A full page repeated verbatim brings nothing new, so the walk ends instead of looping."""
    mock_api.add("POST", "/v2/contacts/list", payload=[{"id": "a"}, {"id": "b"}], repeat=True)
    seen = [c.id async for c in client.contacts.v2.iter_all(limit=2)]
    assert seen == ["a", "b"]
    assert len(mock_api.calls("POST", "/v2/contacts/list")) == 2


async def test_v2_channels(client: HeymarketClient, mock_api: MockApi) -> None:
    """Channel add/update/list/get/delete hit the documented paths with {channel_type,
    channel_id}."""
    base = f"/v2/contact/{UUID}"
    channel = {"channel_type": "email", "channel_id": "a@example.com"}
    mock_api.add("POST", f"{base}/channel", payload=[channel])
    mock_api.add("PUT", f"{base}/channel", payload="ok")
    mock_api.add("GET", f"{base}/channels", payload=[channel])
    mock_api.add("GET", f"{base}/channel/email", payload=channel)
    mock_api.add("DELETE", f"{base}/channel/email", payload="ok")
    email = ContactChannelInput.email("a@example.com")
    added = await client.contacts.v2.add_channel(UUID, email)
    assert [c.channel_id for c in added] == ["a@example.com"]
    assert list(await client.contacts.v2.update_channel(UUID, email)) == []
    assert len(await client.contacts.v2.list_channels(UUID)) == 1
    assert (await client.contacts.v2.get_channel(UUID, "email")).channel_type == "email"
    await client.contacts.v2.delete_channel(UUID, "email")
    assert sent_json(mock_api.calls("POST", f"{base}/channel")[0]) == channel
    assert sent_json(mock_api.calls("PUT", f"{base}/channel")[0]) == channel
    assert len(mock_api.calls("DELETE", f"{base}/channel/email")) == 1
