"""``hm.contacts`` (v1 and v2) end to end through HeymarketClient against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from heymarket_async import (
    ContactChannelInput,
    ContactStatus,
    CreateContact,
    CreateContactV2,
    HeymarketClient,
    RetryPolicy,
    UpdateContactV2,
)
from heymarket_async.errors import NetworkError, NotFoundError, RequestValidationError
from heymarket_async.sandbox import Fault, Sandbox

PHONE = "15105553344"
OTHER = "14155550100"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        yield sb


@pytest.fixture
async def hm(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with HeymarketClient(
        **sandbox.client_kwargs(),
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=4, deadline=20.0),
    ) as client:
        yield client


async def test_create_read_list_count_delete(hm: HeymarketClient) -> None:
    """A created contact is found by id, by phone, by id-as-string, in the walk and the count,
    and is gone after delete."""
    before = await hm.contacts.count()
    saved = await hm.contacts.create(phone=PHONE, first="Ann", last="Lee")
    got = await hm.contacts.get(int(saved.id))
    assert (got.phone, got.first, got.last) == (PHONE, "Ann", "Lee")
    assert (await hm.contacts.get_by(phone=PHONE)).id == got.id
    assert (await hm.contacts.get_by(id=got.id)).phone == PHONE
    walked = [c.id async for c in hm.contacts.iter_all(limit=2)]
    assert got.id in walked
    assert len(walked) == len(set(walked)) == before + 1
    assert await hm.contacts.count() == before + 1
    await hm.contacts.delete(got.id)
    with pytest.raises(NotFoundError):
        await hm.contacts.get(got.id)
    assert await hm.contacts.count() == before


async def test_custom_fields_by_title_go_through_the_helper(hm: HeymarketClient) -> None:
    """Titles are refused in `custom`; resolved to ids they are stored and read back."""
    [field] = await hm.contacts.create_fields(["Favorite color"])
    with pytest.raises(RequestValidationError, match="resolve_custom_fields"):
        await hm.contacts.create(phone=PHONE, custom={"Favorite color": "blue"})
    custom = await hm.contacts.resolve_custom_fields({"Favorite color": "blue"})
    assert custom == {str(field.id): "blue"}
    saved = await hm.contacts.create(phone=PHONE, custom=custom)
    assert (await hm.contacts.get(int(saved.id))).custom == {str(field.id): "blue"}
    with pytest.raises(RequestValidationError, match="'Shoe size'"):
        await hm.contacts.resolve_custom_fields({"Shoe size": "9"})


async def test_update_keeps_what_it_does_not_change(hm: HeymarketClient) -> None:
    """Against a full-replacement PUT, update() keeps every other field, while replace()
    deliberately wipes them."""
    color, size = await hm.contacts.create_fields(["Color", "Size"])
    tag = await hm.tags.create(tag="vip")
    saved = await hm.contacts.create(
        phone=PHONE,
        first="Ann",
        last="Lee",
        email="ann@example.com",
        custom={color.id: "red", size.id: "M"},
        tags=[tag.id],
        assignee_id=7,
    )
    contact_id = int(saved.id)
    await hm.contacts.update(contact_id, last="Ng", custom={size.id: "L"})
    after = await hm.contacts.get(contact_id)
    assert (after.first, after.last, after.display_name) == ("Ann", "Ng", "Ann Ng")
    assert (after.email, after.phone, after.assigned_user_id) == ("ann@example.com", PHONE, 7)
    assert after.custom == {str(color.id): "red", str(size.id): "L"}
    assert [t["tag_id"] for t in after.tags] == [tag.id]

    await hm.contacts.replace(contact_id, phone=PHONE, first="Ann")
    wiped = await hm.contacts.get(contact_id)
    assert (wiped.first, wiped.last, wiped.email, wiped.tags) == ("Ann", "", None, ())


async def test_update_with_overwrite_replaces_custom(hm: HeymarketClient) -> None:
    """overwrite=True replaces the whole custom map with the one given."""
    color, size = await hm.contacts.create_fields(["Color", "Size"])
    saved = await hm.contacts.create(phone=PHONE, custom={color.id: "red", size.id: "M"})
    await hm.contacts.update(int(saved.id), custom={size.id: "S"}, overwrite=True)
    assert (await hm.contacts.get(int(saved.id))).custom == {str(size.id): "S"}


async def test_status_follows_set_status_and_opt_outs(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """status() reports an opt-out by the contact, and set_status blocks and re-subscribes."""
    saved = await hm.contacts.create(phone=PHONE)
    assert (await hm.contacts.status(id=int(saved.id))).can_message
    sandbox.opt_out(PHONE)
    status = await hm.contacts.status(phone=PHONE)
    assert (status.unsubscribed, status.unsubscribed_contact, status.is_opted_out) == (
        True,
        True,
        True,
    )
    await hm.contacts.set_status(phone=PHONE, status=ContactStatus.SUBSCRIBED)
    await hm.contacts.set_status(phone=PHONE, status="blocked")
    status = await hm.contacts.status(phone=PHONE)
    assert (status.is_opted_out, status.blocked, status.can_message) == (False, True, False)
    with pytest.raises(NotFoundError):
        await hm.contacts.status(id=999_999_999)


async def test_batch_create_reports_the_failed_contact(hm: HeymarketClient) -> None:
    """A batch item the server refuses is listed with its reason; the rest are created."""
    await hm.contacts.create(phone=PHONE, email="ann@example.com")
    result = await hm.contacts.batch_create(
        [
            CreateContact(phone=OTHER, first="Bob"),
            CreateContact(phone="14155550101", email="ann@example.com"),
        ]
    )
    [failure] = result.failed
    assert failure.phone == "14155550101"
    assert failure.reason is not None
    assert "ann@example.com" in failure.reason
    assert (await hm.contacts.get_by(phone=OTHER)).first == "Bob"


async def test_a_create_that_may_have_landed_is_not_resent(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """The server commits, then drops the connection: the error surfaces and exactly one
    contact exists."""
    before = await hm.contacts.count()
    sandbox.faults.next(Fault.commit_then_drop(), route="POST /v1/contact")
    with pytest.raises(NetworkError):
        await hm.contacts.create(phone=PHONE)
    assert sandbox.stats.requests("POST /v1/contact") == 1
    assert await hm.contacts.count() == before + 1
    assert (await hm.contacts.get_by(phone=PHONE)).phone == PHONE


async def test_v2_contact_with_channels(hm: HeymarketClient) -> None:
    """A v2 contact is created with a channel, found by search, updated, given and relieved of
    channels, and deleted."""
    saved = await hm.contacts.v2.create(
        contact_channels=[ContactChannelInput.phone(PHONE)], first="Ann"
    )
    uuid = str(saved.uuid)
    got = await hm.contacts.v2.get(uuid)
    assert got.contact_uuid == uuid
    assert [c.contact_uuid for c in await hm.contacts.v2.search(phones=[PHONE])] == [uuid]
    updated = await hm.contacts.v2.update(uuid, first="Anna")
    assert updated.first == "Anna"
    added = await hm.contacts.v2.add_channel(uuid, ContactChannelInput.email("ann@example.com"))
    assert {c.channel_type for c in added} == {"phone", "email"}
    email = await hm.contacts.v2.get_channel(uuid, "email")
    assert email.channel_id == "ann@example.com"
    await hm.contacts.v2.update_channel(uuid, ContactChannelInput.email("anna@example.com"))
    assert (await hm.contacts.v2.get_channel(uuid, "email")).channel_id == "anna@example.com"
    await hm.contacts.v2.delete_channel(uuid, "email")
    assert [c.channel_type for c in await hm.contacts.v2.list_channels(uuid)] == ["phone"]
    await hm.contacts.v2.delete(uuid)
    with pytest.raises(NotFoundError):
        await hm.contacts.v2.get(uuid)


async def test_v2_bulk_upsert_list_and_bulk_delete(hm: HeymarketClient) -> None:
    """Bulk upsert creates and updates, the paged walk sees every contact once, and bulk
    delete removes them."""
    first = await hm.contacts.v2.create(contact_channels=[ContactChannelInput.phone(PHONE)])
    uuid = str(first.uuid)
    result = await hm.contacts.v2.bulk_upsert(
        [
            UpdateContactV2(contact_id=uuid, first="Ann"),
            CreateContactV2(contact_channels=[ContactChannelInput.phone(OTHER)], first="Bob"),
            CreateContactV2(contact_channels=[ContactChannelInput.phone(PHONE)], first="Dup"),
        ]
    )
    assert sorted(c.first or "" for c in result.contacts) == ["Ann", "Bob"]
    [failure] = result.failed_contacts
    assert failure.reason is not None
    walked = [c async for c in hm.contacts.v2.iter_all(limit=2)]
    ids = [c.id for c in walked]
    assert len(ids) == len(set(ids))
    ours = [c.contact_uuid for c in walked if c.phone in {PHONE, OTHER}]
    assert len(ours) == 2
    await hm.contacts.v2.bulk_delete([u for u in ours if u is not None])
    assert await hm.contacts.v2.search(phones=[PHONE, OTHER]) == []
