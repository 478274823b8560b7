from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import (
    ApiRequest,
    ApiResponse,
    Contact,
    ContactChannelInput,
    ContactField,
    ContactPayload,
    ContactStatus,
    CreateContact,
    CreateContactV2,
    UpdateContact,
    UpdateContactV2,
)
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources._base import read_model
from heymarket_async.resources.contacts import (
    ContactLookup,
    ContactsQuery,
    MessagingStatus,
    SetContactStatus,
    build_batch_create_contacts,
    build_contact_status,
    build_count_contacts,
    build_create_contact,
    build_create_contact_fields,
    build_delete_contact,
    build_get_contact,
    build_get_contact_by,
    build_list_contact_fields,
    build_list_contacts,
    build_set_contact_status,
    build_update_contact,
    map_custom_field_titles,
    merge_update,
    read_batch_result,
    read_contact_fields,
)
from heymarket_async.resources.contacts_v2 import (
    ContactsPageQuery,
    build_add_channel,
    build_bulk_delete_contacts,
    build_bulk_upsert_contacts,
    build_create_contact_v2,
    build_delete_channel,
    build_delete_contact_v2,
    build_get_channel,
    build_get_contact_v2,
    build_list_channels,
    build_list_contacts_page,
    build_search_contacts,
    build_update_channel,
    build_update_contact_v2,
    read_channels,
    read_upsert_result,
)

PHONE = "15105553344"
UUID = "6f1c2d3e-0a1b-4c5d-8e9f-001122334455"


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def stored(**fields: Any) -> Contact:
    """A contact as GET /v1/contact/{id} would return it."""
    base: dict[str, Any] = {
        "id": 77,
        "phone": PHONE,
        "first": "Ann",
        "last": "Lee",
        "display_name": "Ann Lee",
        "email": "ann@example.com",
        "avatar": "https://cdn.example.com/a.png",
        "custom": {"12": "red", "13": "tall"},
        "tags": ({"tag_id": 3}, {"id": 4, "tag": "vip"}),
        "assigned_user_id": 9,
        "is_opted_out": False,
    }
    return Contact(**{**base, **fields})


# --- v1 write models and builders -------------------------------------------------------------


def test_create_builds_the_exact_request() -> None:
    """Create posts the payload with tags as [{tag_id}], int custom keys as strings, not
    replay-safe."""
    create = CreateContact(
        phone=PHONE,
        first="Ann",
        email="ann@example.com",
        custom={12: "blue", "13": 4},
        tags=[3, 4],
        assignee_id=-1,
    )
    assert build_create_contact(create) == ApiRequest(
        method="POST",
        path="/v1/contact",
        json={
            "phone": PHONE,
            "email": "ann@example.com",
            "first": "Ann",
            "custom": {"12": "blue", "13": 4},
            "tags": [{"tag_id": 3}, {"tag_id": 4}],
            "assignee_id": -1,
        },
        replay_safe=False,
    )


@pytest.mark.parametrize("key", ["Favorite color", "favorite_color", "12a", "", "0", 0, -3, True])
def test_custom_keys_must_be_field_ids(key: object) -> None:
    """A custom key that is not a field id (e.g. a title) is refused and the helper is named."""
    with pytest.raises(RequestValidationError) as caught:
        CreateContact(phone=PHONE, custom={key: "blue"})
    assert caught.value.field == "custom"
    assert "resolve_custom_fields" in caught.value.reason
    assert "silently drops" in caught.value.reason


def test_custom_values_must_be_json() -> None:
    """A custom value that JSON cannot carry is refused, naming the key."""
    with pytest.raises(RequestValidationError, match=r"custom\['12'\]"):
        CreateContact(phone=PHONE, custom={"12": object()})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": None}, "phone"),
        ({"phone": "+15105553344"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"tags": [1, 2, 3, 4, 5, 6]}, "tags"),
        ({"tags": [3, 3]}, "tags"),
        ({"tags": [0]}, "tags[0]"),
        ({"assignee_id": 0}, "assignee_id"),
        ({"assignee_id": -2}, "assignee_id"),
        ({"assignee_id": True}, "assignee_id"),
        ({"is_opted_out": "yes"}, "is_opted_out"),
        ({"first": 5}, "first"),
    ],
)
def test_invalid_create_is_refused(fields: dict[str, Any], field: str) -> None:
    """Each invalid field is refused with its name before anything is built."""
    with pytest.raises(RequestValidationError) as caught:
        CreateContact(**{"phone": PHONE, **fields})
    assert caught.value.field == field


def test_get_and_delete_quote_the_id() -> None:
    """GET and DELETE put the integer id in the path and refuse a non-id."""
    assert build_get_contact(77) == ApiRequest(method="GET", path="/v1/contact/77")
    assert build_delete_contact(77) == ApiRequest(method="DELETE", path="/v1/contact/77")
    with pytest.raises(RequestValidationError, match="contact_id"):
        build_get_contact(0)


def test_get_by_sends_the_id_as_a_string_and_lets_the_phone_win() -> None:
    """POST /v1/contact/get carries the id as a string, or only the phone when both are given."""
    by_id = build_get_contact_by(ContactLookup(id=77))
    assert by_id == ApiRequest(
        method="POST", path="/v1/contact/get", json={"id": "77"}, replay_safe=True
    )
    both = build_get_contact_by(ContactLookup(id=77, phone=PHONE))
    assert both.json == {"phone": PHONE}
    with pytest.raises(RequestValidationError, match="phone or id"):
        ContactLookup()


def test_status_and_set_status_send_the_id_as_an_int() -> None:
    """Status reads and set_status (idempotent) are replay-safe POSTs with an integer id."""
    assert build_contact_status(ContactLookup(id="77")) == ApiRequest(
        method="POST", path="/v1/contact/status", json={"id": 77}, replay_safe=True
    )
    change = SetContactStatus(contact=ContactLookup(phone=PHONE), status="unsubscribed")
    assert change.status is ContactStatus.UNSUBSCRIBED
    assert build_set_contact_status(change) == ApiRequest(
        method="POST",
        path="/v1/contact/set_status",
        json={"phone": PHONE, "status": "unsubscribed"},
        replay_safe=True,
    )


def test_unknown_status_lists_the_allowed_values() -> None:
    """A status outside the five documented values is refused with the allowed ones."""
    with pytest.raises(RequestValidationError, match="'active', 'blocked'"):
        SetContactStatus(contact=ContactLookup(id=1), status="paused")


def test_update_puts_the_body_with_overwrite_in_the_query() -> None:
    """PUT /v1/contact/{id} carries overwrite as a query flag and neither it nor the id in the
    body."""
    update = UpdateContact(contact_id=77, overwrite=True, phone=PHONE, custom={})
    assert build_update_contact(update) == ApiRequest(
        method="PUT",
        path="/v1/contact/77",
        query={"overwrite": "true"},
        json={"phone": PHONE, "custom": {}},
    )
    assert build_update_contact(update).replay_safe
    with pytest.raises(RequestValidationError, match="requires a phone"):
        UpdateContact(contact_id=77, first="Ann")


def test_listing_body_renames_the_cursor_to_date() -> None:
    """POST /v1/contacts sends the cursor as RFC 3339 `date` and the page size as `limit`."""
    before = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)
    assert build_list_contacts(ContactsQuery(before=before, limit=50)) == ApiRequest(
        method="POST",
        path="/v1/contacts",
        json={"date": "2026-04-16T12:00:00+00:00", "limit": 50},
        replay_safe=True,
    )
    assert build_list_contacts(ContactsQuery()).json == {}
    assert build_count_contacts() == ApiRequest(
        method="POST", path="/v1/contacts/count", json={}, replay_safe=True
    )


def test_batch_create_is_an_array_with_overwrite_in_the_query() -> None:
    """The batch body is a JSON array of payloads; the request is not replay-safe."""
    request = build_batch_create_contacts(
        [CreateContact(phone=PHONE, first="Ann"), CreateContact(phone="14155550100")]
    )
    assert request == ApiRequest(
        method="POST",
        path="/v1/batch/contacts",
        query={"overwrite": "false"},
        json=[{"phone": PHONE, "first": "Ann"}, {"phone": "14155550100"}],
        replay_safe=False,
    )
    with pytest.raises(RequestValidationError, match="at least one"):
        build_batch_create_contacts([])
    with pytest.raises(RequestValidationError, match=r"contacts\[0\]"):
        build_batch_create_contacts([PHONE])  # type: ignore[list-item]
    with pytest.raises(RequestValidationError, match=r"contacts\[0\]\.phone"):
        build_batch_create_contacts([{"phone": "+1 510"}])


def test_custom_field_builders() -> None:
    """Listing posts {}; creating posts [{title}] and refuses empty or repeated titles."""
    assert build_list_contact_fields() == ApiRequest(
        method="POST", path="/v1/contact-fields", json={}, replay_safe=True
    )
    assert build_create_contact_fields(["Favorite color", "Size"]) == ApiRequest(
        method="POST",
        path="/v1/contacts/fields",
        json=[{"title": "Favorite color"}, {"title": "Size"}],
        replay_safe=False,
    )
    for bad in (["Size", "Size"], [" "], [], "Size"):
        with pytest.raises(RequestValidationError):
            build_create_contact_fields(bad)


# --- Read-modify-write --------------------------------------------------------------------------


def test_merge_update_resends_every_field_the_caller_did_not_change() -> None:
    """The PUT carries the current phone, names, email, avatar, custom, tags and assignee."""
    update = merge_update(77, stored(), ContactPayload(first="Anna"))
    assert build_update_contact(update).json == {
        "phone": PHONE,
        "email": "ann@example.com",
        "first": "Anna",
        "last": "Lee",
        "display_name": "Anna Lee",
        "avatar": "https://cdn.example.com/a.png",
        "custom": {"12": "red", "13": "tall"},
        "tags": [{"tag_id": 3}, {"tag_id": 4}],
        "assignee_id": 9,
    }
    assert build_update_contact(update).query == {"overwrite": "false"}


def test_a_derived_display_name_follows_a_rename() -> None:
    """A display name equal to "first last" is recomputed on a rename; a custom one is kept."""
    renamed = merge_update(77, stored(), ContactPayload(last="Ng"))
    assert renamed.display_name == "Ann Ng"
    custom = merge_update(77, stored(display_name="Dr. Lee"), ContactPayload(first="Anna"))
    assert custom.display_name == "Dr. Lee"
    untouched = merge_update(77, stored(), ContactPayload(email="new@example.com"))
    assert untouched.display_name == "Ann Lee"
    chosen = merge_update(77, stored(), ContactPayload(first="Anna", display_name="A."))
    assert chosen.display_name == "A."


def test_merge_update_never_resends_the_opt_out_flag() -> None:
    """is_opted_out is sent only when the caller sets it, so a concurrent opt-out survives."""
    update = merge_update(77, stored(is_opted_out=False), ContactPayload(last="Ng"))
    assert "is_opted_out" not in build_update_contact(update).json
    chosen = merge_update(77, stored(), ContactPayload(is_opted_out=True))
    assert build_update_contact(chosen).json["is_opted_out"] is True


def test_merge_update_merges_custom_unless_overwrite() -> None:
    """overwrite=False merges the given custom entries; overwrite=True sends only them."""
    merged = merge_update(77, stored(), ContactPayload(custom={12: "blue"}))
    assert build_update_contact(merged).json["custom"] == {"12": "blue", "13": "tall"}
    replaced = merge_update(77, stored(), ContactPayload(custom={"14": "x"}), overwrite=True)
    assert build_update_contact(replaced).json["custom"] == {"14": "x"}
    assert build_update_contact(replaced).query == {"overwrite": "true"}


def test_merge_update_drops_title_keys_the_server_returned() -> None:
    """Only id keys of the stored custom map are resent (others cannot be written)."""
    update = merge_update(77, stored(custom={"12": "red", "Legacy": "x"}), ContactPayload(last="X"))
    assert build_update_contact(update).json["custom"] == {"12": "red"}


@pytest.mark.parametrize(
    ("changes", "overwrite", "message"),
    [
        (ContactPayload(), False, "at least one field"),
        (ContactPayload(first="A"), True, "give custom="),
    ],
)
def test_merge_update_refuses_pointless_or_ambiguous_updates(
    changes: ContactPayload, overwrite: bool, message: str
) -> None:
    """No change at all, or overwrite=True without a custom map, is refused."""
    with pytest.raises(RequestValidationError, match=message):
        merge_update(77, stored(), changes, overwrite=overwrite)


def test_merge_update_needs_a_phone() -> None:
    """A contact without a phone cannot be PUT through v1 unless a phone is given."""
    with pytest.raises(RequestValidationError, match="has no phone number"):
        merge_update(77, stored(phone=None), ContactPayload(first="A"))
    update = merge_update(77, stored(phone=None), ContactPayload(phone="14155550100"))
    assert update.phone == "14155550100"


def test_merge_update_refuses_to_guess_unreadable_tags() -> None:
    """Tags it cannot turn back into ids stop the update (instead of wiping them)."""
    with pytest.raises(RequestValidationError, match="pass tags= explicitly"):
        merge_update(77, stored(tags=("vip",)), ContactPayload(first="A"))
    update = merge_update(77, stored(tags=("vip",)), ContactPayload(first="A", tags=[5]))
    assert update.tags == (5,)


def test_merge_update_explains_a_current_value_it_cannot_resend() -> None:
    """A stored value that fails validation names the field to pass explicitly."""
    with pytest.raises(RequestValidationError, match="pass email= explicitly"):
        merge_update(77, stored(email="broken@"), ContactPayload(first="A"))


# --- Custom field titles ----------------------------------------------------------------------


FIELDS = [
    ContactField(id=12, title="Favorite color"),
    ContactField(id=13, title="Size"),
    ContactField(id=14, title=None),
]


def test_titles_map_to_field_ids() -> None:
    """Exact titles become their ids as strings, values unchanged."""
    assert map_custom_field_titles({"Favorite color": "blue", "Size": 4}, FIELDS) == {
        "12": "blue",
        "13": 4,
    }


def test_unknown_title_is_named() -> None:
    """An unknown title (here a case mismatch) raises and names it, listing known titles."""
    with pytest.raises(RequestValidationError) as caught:
        map_custom_field_titles({"favorite color": "blue", "Size": 4}, FIELDS)
    assert caught.value.field == "custom"
    assert "'favorite color'" in caught.value.reason
    assert "'Favorite color'" in caught.value.reason


def test_ambiguous_title_is_refused() -> None:
    """A title shared by two fields is refused rather than picked."""
    fields = [*FIELDS, ContactField(id=15, title="Size")]
    with pytest.raises(RequestValidationError, match="several fields"):
        map_custom_field_titles({"Size": 4}, fields)


# --- Reading answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        [{"id": 12, "title": "Favorite color"}],
        {"fields": [{"id": "12", "name": "Favorite color"}]},
        {"12": "Favorite color"},
    ],
)
def test_field_listing_shapes(data: Any) -> None:
    """An array, a wrapped array with `name`, or an id -> title map read the same."""
    assert list(read_contact_fields(response(data))) == [
        ContactField(id=12, title="Favorite color")
    ]


def test_batch_ok_means_no_failures() -> None:
    """A bare "ok" is a batch with nothing failed."""
    result = read_batch_result(response("ok"), 3)
    assert (result.ok, result.submitted, result.failed) == (True, 3, ())


def test_batch_failures_are_listed_and_saved_contacts_are_not() -> None:
    """Items without an id are failures (with the server's reason); items with an id are
    saved contacts."""
    result = read_batch_result(
        response([{"phone": PHONE, "error": "exists"}, {"id": 5, "phone": "14155550100"}]), 2
    )
    assert not result.ok
    [failure] = result.failed
    assert (failure.phone, failure.reason, failure.contact) == (PHONE, "exists", {"phone": PHONE})
    assert [c.id for c in result.saved] == [5]


def test_batch_answer_of_another_shape_is_unexpected() -> None:
    """A number where "ok" or an array belongs raises UnexpectedResponseError."""
    with pytest.raises(UnexpectedResponseError):
        read_batch_result(response(5), 1)


@pytest.mark.parametrize(
    ("flags", "opted_out", "can_message"),
    [
        ({"unsubscribed": False, "blocked": False}, False, True),
        ({"unsubscribed": "true", "blocked": "false"}, True, False),
        ({"unsubscribed": 0, "blocked": 1}, False, False),
        ({"unsubscribed": False, "unsubscribed_contact": True}, True, False),
    ],
)
def test_status_flags_read_strictly(
    flags: dict[str, Any], opted_out: bool, can_message: bool
) -> None:
    """Status flags read "false" as False (not truthy), and any opt-out flag counts."""
    status = read_model(response({"id": 1, "phone": PHONE, **flags}), MessagingStatus)
    assert (status.is_opted_out, status.can_message) == (opted_out, can_message)


# --- v2 ---------------------------------------------------------------------------------------


def test_v2_create_needs_a_channel_and_validates_its_value() -> None:
    """A v2 create carries its channels and refuses none, a bad phone or a bad email."""
    create = CreateContactV2(contact_channels=[ContactChannelInput.phone(PHONE)], first="Ann")
    assert build_create_contact_v2(create) == ApiRequest(
        method="POST",
        path="/v2/contact",
        json={
            "first": "Ann",
            "contact_channels": [{"channel_type": "phone", "channel_id": PHONE}],
        },
        replay_safe=False,
    )
    with pytest.raises(RequestValidationError, match="at least one channel"):
        CreateContactV2(contact_channels=[])
    with pytest.raises(RequestValidationError, match=r"E\.164"):
        ContactChannelInput.phone("555-3344")
    with pytest.raises(RequestValidationError, match="email"):
        ContactChannelInput.email("nope")
    with pytest.raises(RequestValidationError, match="channel type"):
        ContactChannelInput(channel_type="Phone Number", channel_id="x")


def test_v2_update_puts_only_given_fields_and_takes_a_uuid() -> None:
    """PUT /v2/contact/{uuid} sends the given fields; a v1 integer id is refused."""
    update = UpdateContactV2(contact_id=UUID, last="Ng", custom={"12": "blue"})
    assert build_update_contact_v2(update) == ApiRequest(
        method="PUT",
        path=f"/v2/contact/{UUID}",
        json={"last": "Ng", "custom": {"12": "blue"}},
    )
    with pytest.raises(RequestValidationError, match="not the v1 integer id"):
        UpdateContactV2(contact_id=77, last="Ng")  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError, match="resolve_custom_fields"):
        UpdateContactV2(contact_id=UUID, custom={"Size": 4})


def test_v2_reads_and_deletes_take_only_a_uuid() -> None:
    """Path ids must be UUIDs (§2.4), so an odd id cannot change the path."""
    assert build_get_contact_v2(UUID) == ApiRequest(method="GET", path=f"/v2/contact/{UUID}")
    for odd in ("a/b", "..", ".", "", f"{UUID}/..", f"{UUID}?x=1"):
        with pytest.raises(RequestValidationError, match="must be a UUID"):
            build_get_contact_v2(odd)
    assert build_delete_contact_v2(UUID) == ApiRequest(method="DELETE", path=f"/v2/contact/{UUID}")


def test_v2_bulk_upsert_puts_contact_id_in_the_body_of_updates() -> None:
    """Update items carry contact_id, create items do not; the POST is not replay-safe."""
    request = build_bulk_upsert_contacts(
        [
            UpdateContactV2(contact_id=UUID, first="B"),
            CreateContactV2(contact_channels=[ContactChannelInput.email("a@example.com")]),
        ]
    )
    assert request == ApiRequest(
        method="POST",
        path="/v2/contacts",
        json={
            "contacts": [
                {"contact_id": UUID, "first": "B"},
                {"contact_channels": [{"channel_type": "email", "channel_id": "a@example.com"}]},
            ]
        },
        replay_safe=False,
    )
    with pytest.raises(RequestValidationError, match="at least one"):
        build_bulk_upsert_contacts([])


def test_v2_bulk_delete_is_a_delete_with_a_json_body() -> None:
    """DELETE /v2/contacts carries one `id` channel entry with each UUID once."""
    other = "00000000-0000-4000-8000-000000000002"
    request = build_bulk_delete_contacts([UUID, other, UUID])
    assert request == ApiRequest(
        method="DELETE",
        path="/v2/contacts",
        json={"contact_channels": [{"channel_type": "id", "channel_ids": [UUID, other]}]},
    )
    assert request.body_bytes() is not None
    assert request.replay_safe
    with pytest.raises(RequestValidationError, match=r"contact_ids\[0\]"):
        build_bulk_delete_contacts([5])  # type: ignore[list-item]


def test_v2_search_groups_values_by_channel_type() -> None:
    """Search sends one entry per type given, validated, and refuses an empty search."""
    assert build_search_contacts(phones=[PHONE], emails=["a@example.com"]) == ApiRequest(
        method="POST",
        path="/v2/contacts/search",
        json={
            "contact_channels": [
                {"channel_type": "phone", "channel_ids": [PHONE]},
                {"channel_type": "email", "channel_ids": ["a@example.com"]},
            ]
        },
        replay_safe=True,
    )
    assert build_search_contacts(emails=["a@example.com"]).json == {
        "contact_channels": [{"channel_type": "email", "channel_ids": ["a@example.com"]}]
    }
    with pytest.raises(RequestValidationError, match="at least one"):
        build_search_contacts()
    with pytest.raises(RequestValidationError, match=r"phones\[0\]"):
        build_search_contacts(phones=["+15105553344"])


def test_v2_page_body_counts_pages_from_zero() -> None:
    """The list body has limit and page (from 0) and refuses a negative page."""
    assert build_list_contacts_page(ContactsPageQuery()) == ApiRequest(
        method="POST", path="/v2/contacts/list", json={"limit": 30, "page": 0}, replay_safe=True
    )
    query = ContactsPageQuery(limit=5, page=2, ascending=True)
    assert build_list_contacts_page(query).json == {"limit": 5, "page": 2, "ascending": True}
    with pytest.raises(RequestValidationError, match="page"):
        ContactsPageQuery(page=-1)


def test_v2_channel_builders() -> None:
    """Channel endpoints: add is a non-replay-safe POST, the rest use the type in the path."""
    channel = ContactChannelInput.email("a@example.com")
    body = {"channel_type": "email", "channel_id": "a@example.com"}
    base = f"/v2/contact/{UUID}"
    assert build_add_channel(UUID, channel) == ApiRequest(
        method="POST", path=f"{base}/channel", json=body, replay_safe=False
    )
    assert build_update_channel(UUID, channel) == ApiRequest(
        method="PUT", path=f"{base}/channel", json=body
    )
    assert build_list_channels(UUID) == ApiRequest(method="GET", path=f"{base}/channels")
    assert build_get_channel(UUID, "email") == ApiRequest(
        method="GET", path=f"{base}/channel/email"
    )
    assert build_delete_channel(UUID, "phone") == ApiRequest(
        method="DELETE", path=f"{base}/channel/phone"
    )
    with pytest.raises(RequestValidationError, match="channel_type"):
        build_get_channel(UUID, "../x")


@pytest.mark.parametrize(
    ("data", "types"),
    [
        ([{"channel_type": "phone", "channel_id": PHONE}], ["phone"]),
        ({"channel_type": "email", "channel_id": "a@example.com"}, ["email"]),
        ("ok", []),
    ],
)
def test_v2_channel_answers(data: Any, types: list[str]) -> None:
    """Channel answers to a write read from an array, one object, or an acknowledgement."""
    assert [c.channel_type for c in read_channels(response(data), acknowledged=True)] == types


@pytest.mark.parametrize("data", ["ok", None, 5])
def test_v2_channel_listing_never_reads_an_odd_answer_as_no_channels(data: Any) -> None:
    """A channel listing answered "ok", nothing or a number raises instead of listing none."""
    with pytest.raises(UnexpectedResponseError, match="ContactChannel"):
        read_channels(response(data))


def test_v2_upsert_result_lists_failures_with_reasons() -> None:
    """failed_contacts items are read as the nested contact plus the server's reason."""
    result = read_upsert_result(
        response(
            {
                "contacts": [{"id": UUID, "first": "Ann"}],
                "failed_contacts": [{"contact": {"phone": "123"}, "error": "invalid phone"}],
            }
        )
    )
    assert [c.contact_uuid for c in result.contacts] == [UUID]
    [failure] = result.failed_contacts
    assert (failure.phone, failure.reason) == ("123", "invalid phone")
    assert not result.ok
