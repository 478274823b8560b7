"""The sandbox's contact endpoints (v1, v2, channels, custom fields, status), driven raw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from heymarket_async.sandbox import Sandbox
from heymarket_async.sandbox._state import Timeline

NOW = 1_800_000_000.0
ADA = "15105550100"  # seeded: Ada Lovelace, email ada@sandbox.example, tag VIP, 2 custom fields
GRACE = "15105550102"  # seeded: Grace Hopper, tags VIP and Newsletter
NEW = "15105550777"
COMPANY, BIRTHDAY, PLAN = "201", "202", "203"  # seeded custom field ids
VIP, NEWSLETTER, WHOLESALE = 600_001, 600_002, 600_003  # seeded tag ids


@attrs.frozen
class Reply:
    status: int
    body: Any


class Api:
    """A raw HTTP client for the sandbox, authenticated with a fresh JWT."""

    def __init__(self, session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.session = session
        self.sandbox = sandbox

    async def call(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        async with self.session.request(
            method,
            self.sandbox.url + path,
            json=json,
            params=params,
            headers=self.sandbox.auth_headers(),
        ) as response:
            return Reply(response.status, await response.json())

    async def ok(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        reply = await self.call(method, path, json, params)
        assert reply.status == 200, reply
        return reply.body

    async def new_tags(self, count: int) -> list[int]:
        return [(await self.ok("POST", "/v1/tag", {"tag": f"t{n}"}))["id"] for n in range(count)]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, clock=Clock()) as sb:
        yield sb


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, sandbox)


def bad_data(reply: Reply, field: str) -> None:
    """Assert a 400 bad_data whose message names ``field``."""
    assert reply.status == 400, reply
    assert reply.body["error_code"] == "bad_data"
    assert reply.body["message"].startswith(f"{field}: "), reply.body


def not_found(reply: Reply) -> None:
    assert reply.status == 404, reply
    assert reply.body["error_code"] == "not_found"


def test_timeline_order_survives_updates_removals_and_compaction() -> None:
    """Touched ids move last with ever-later stamps; walks and counts stay exact throughout."""
    timeline = Timeline()
    for record_id in range(10):
        timeline.touch(record_id, 1_000)  # one clock reading: stamps still never tie
    for round_ in range(200):  # many touches of the same ids leave stale entries to compact
        timeline.touch(round_ % 3, 0)
    assert len(timeline._stamps) < 100
    timeline.remove(9)
    newest = list(timeline.walk())
    assert newest == [1, 0, 2, 8, 7, 6, 5, 4, 3]
    assert list(timeline.walk(after=-1)) == newest[::-1]
    assert len(timeline) == timeline.count() == 9
    stamp = timeline.touch(5, 0)
    assert list(timeline.walk(before=stamp)) == [1, 0, 2, 8, 7, 6, 4, 3]
    assert timeline.count(before=stamp) == 8
    cut = list(timeline.walk())[3]
    older = list(timeline.walk(before=timeline.touch(cut, 0)))
    assert (older[0], cut in older, len(older)) == (5, False, 8)
    assert timeline.count(after=stamp) == 1


# -- v1 --------------------------------------------------------------------------------------


async def test_create_get_and_delete_a_contact(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/contact answers {id, rev, uuid}; GET shows it; DELETE answers ok, then 404."""
    created = await api.ok(
        "POST",
        "/v1/contact",
        {
            "phone": NEW,
            "first": "Katherine",
            "last": "Johnson",
            "email": "kj@example.com",
            "custom": {COMPANY: "NASA"},
            "tags": [{"tag_id": VIP}],
            "assignee_id": 8,
        },
    )
    assert set(created) == {"id", "rev", "uuid"}
    assert created["rev"] == 1
    contact = await api.ok("GET", f"/v1/contact/{created['id']}")
    assert (contact["id"], contact["uuid"], contact["phone"]) == (
        created["id"],
        created["uuid"],
        NEW,
    )
    assert (contact["display_name"], contact["email"]) == ("Katherine Johnson", "kj@example.com")
    assert contact["custom"] == {COMPANY: "NASA"}
    assert contact["tags"] == [{"tag_id": VIP, "tag": "VIP", "color": "#d32f2f"}]
    assert (contact["assigned_user_id"], contact["is_opted_out"], contact["op"]) == (8, False, "i")
    assert contact["created"] == contact["updated"]
    assert await api.ok("DELETE", f"/v1/contact/{created['id']}") == "ok"
    not_found(await api.call("GET", f"/v1/contact/{created['id']}"))
    not_found(await api.call("DELETE", f"/v1/contact/{created['id']}"))
    not_found(await api.call("GET", "/v1/contact/abc"))
    assert NEW not in sandbox.state.contacts_by_phone


async def test_a_title_keyed_custom_field_is_dropped_silently(api: Api) -> None:
    """custom keyed by a field title (or an unknown id) is accepted with 200 and not stored."""
    created = await api.ok(
        "POST",
        "/v1/contact",
        {"phone": NEW, "custom": {"Company": "Acme", "999": "x", BIRTHDAY: "1906-12-09"}},
    )
    contact = await api.ok("GET", f"/v1/contact/{created['id']}")
    assert contact["custom"] == {BIRTHDAY: "1906-12-09"}
    await api.ok("PUT", f"/v1/contact/{created['id']}", {"phone": NEW, "custom": {"Plan": "x"}})
    contact = await api.ok("GET", f"/v1/contact/{created['id']}")
    assert contact["custom"] == {BIRTHDAY: "1906-12-09"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"phone": "+15105550777"}, "phone"),
        ({"phone": 15105550777}, "phone"),
        ({"phone": ADA}, "phone"),
        ({"phone": NEW, "email": "ada@sandbox.example"}, "email"),
        ({"phone": NEW, "email": "not-an-email"}, "email"),
        ({"phone": NEW, "first": 5}, "first"),
        ({"phone": NEW, "custom": ["a"]}, "custom"),
        ({"phone": NEW, "custom": {COMPANY: 5}}, "custom"),
        ({"phone": NEW, "tags": [VIP]}, "tags"),
        ({"phone": NEW, "tags": [{"tag_id": 5}]}, "tags"),
        ({"phone": NEW, "tags": {"tag_id": VIP}}, "tags"),
        ({"phone": NEW, "assignee_id": 99}, "assignee_id"),
        ({"phone": NEW, "is_opted_out": "yes"}, "is_opted_out"),
    ],
)
async def test_create_refuses_bad_fields(api: Api, body: dict[str, Any], field: str) -> None:
    """An invalid, missing or already-taken field is a 400 naming it, and nothing is created."""
    before = await api.ok("POST", "/v1/contacts/count")
    bad_data(await api.call("POST", "/v1/contact", body), field)
    assert await api.ok("POST", "/v1/contacts/count") == before


async def test_a_contact_holds_at_most_five_tags(api: Api) -> None:
    """Five tags fit; a sixth is a 400 on create and update (§2.8)."""
    tags = await api.new_tags(6)
    five = [{"tag_id": t} for t in tags[:5]]
    created = await api.ok("POST", "/v1/contact", {"phone": NEW, "tags": five})
    contact = await api.ok("GET", f"/v1/contact/{created['id']}")
    assert [t["tag_id"] for t in contact["tags"]] == tags[:5]
    six = [*five, {"tag_id": tags[5]}]
    bad_data(await api.call("POST", "/v1/contact", {"phone": "15105550778", "tags": six}), "tags")
    bad_data(
        await api.call("PUT", f"/v1/contact/{created['id']}", {"phone": NEW, "tags": six}), "tags"
    )
    duplicated = [*five, {"tag_id": tags[0]}]  # repeats collapse, so still five
    await api.ok("PUT", f"/v1/contact/{created['id']}", {"phone": NEW, "tags": duplicated})


async def test_put_replaces_omitted_fields_and_merges_custom(api: Api, sandbox: Sandbox) -> None:
    """PUT resets omitted fields; custom merges unless overwrite=true replaces it."""
    ada = sandbox.state.contacts_by_phone[ADA]
    path = f"/v1/contact/{ada.id}"
    answer = await api.ok(
        "PUT", path, {"phone": ADA, "first": "Augusta", "custom": {BIRTHDAY: "1815"}}
    )
    assert answer == {"id": ada.id, "rev": 2, "uuid": ada.uuid}
    contact = await api.ok("GET", path)
    assert (contact["first"], contact["last"], contact["display_name"]) == (
        "Augusta",
        "",
        "Augusta",
    )
    assert (contact["email"], contact["tags"], contact["assigned_user_id"]) == (None, [], None)
    assert contact["custom"] == {COMPANY: "Analytical Engines Ltd", PLAN: "gold", BIRTHDAY: "1815"}
    assert (contact["rev"], contact["op"]) == (2, "u")
    assert "ada@sandbox.example" not in sandbox.state.contacts_by_email

    await api.ok("PUT", path, {"phone": ADA, "custom": {PLAN: None}})
    assert (await api.ok("GET", path))["custom"] == {
        COMPANY: "Analytical Engines Ltd",
        BIRTHDAY: "1815",
    }
    await api.ok("PUT", path, {"phone": ADA, "custom": {PLAN: "silver"}}, {"overwrite": "true"})
    assert (await api.ok("GET", path))["custom"] == {PLAN: "silver"}
    await api.ok("PUT", path, {"phone": ADA}, {"overwrite": "true"})
    assert (await api.ok("GET", path))["custom"] == {}


async def test_put_validation_and_phone_changes(api: Api, sandbox: Sandbox) -> None:
    """PUT needs phone, refuses another contact's number and bad overwrite; may move the phone."""
    ada = sandbox.state.contacts_by_phone[ADA]
    path = f"/v1/contact/{ada.id}"
    bad_data(await api.call("PUT", path, {"first": "A"}), "phone")
    bad_data(await api.call("PUT", path, {"phone": GRACE}), "phone")
    bad_data(await api.call("PUT", path, {"phone": ADA}, {"overwrite": "maybe"}), "overwrite")
    not_found(await api.call("PUT", "/v1/contact/399999", {"phone": ADA}))
    assert ada.rev == 1
    await api.ok("PUT", path, {"phone": NEW, "first": "Ada"})
    assert ADA not in sandbox.state.contacts_by_phone
    assert sandbox.state.contacts_by_phone[NEW] is ada
    found = await api.ok("POST", "/v1/contact/get", {"phone": NEW})
    assert found["id"] == ada.id


async def test_a_contact_read_and_written_back_is_unchanged(api: Api, sandbox: Sandbox) -> None:
    """Read-modify-write keeps tags, custom, names and email (assignment uses assignee_id)."""
    grace = sandbox.state.contacts_by_phone[GRACE]
    path = f"/v1/contact/{grace.id}"
    await api.ok(
        "PUT",
        path,
        {"phone": GRACE, "first": "Grace", "last": "Hopper", "email": "gh@example.com",
         "custom": {COMPANY: "US Navy"}, "tags": [{"tag_id": VIP}, {"tag_id": WHOLESALE}]},
    )  # fmt: skip
    before = await api.ok("GET", path)
    await api.ok("PUT", path, {**before, "last": "Murray Hopper"})
    after = await api.ok("GET", path)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"last", "rev", "updated"}
    assert after["display_name"] == "Grace Hopper"  # it was sent back, so it is kept as sent
    await api.ok("PUT", path, {**after, "display_name": None})
    assert (await api.ok("GET", path))["display_name"] == "Grace Murray Hopper"


async def test_list_contacts_pages_by_date_without_repeats(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/contacts walks newest-updated first by date cursor, each contact once."""
    phones = [f"1510666{n:04d}" for n in range(70)]
    for phone in phones:
        await api.ok("POST", "/v1/contact", {"phone": phone})
    ada = sandbox.state.contacts_by_phone[ADA]
    await api.ok("PUT", f"/v1/contact/{ada.id}", {"phone": ADA, "first": "Ada"})
    seen: list[int] = []
    cursor: dict[str, str] = {}
    pages = []
    while page := await api.ok("POST", "/v1/contacts", cursor):
        pages.append(len(page))
        seen.extend(c["id"] for c in page)
        cursor = {"date": page[-1]["updated"]}
    assert pages == [30, 30, 15]
    assert len(seen) == len(set(seen)) == len(sandbox.state.contacts) == 75
    assert seen[0] == ada.id  # the update moved it to the front
    assert seen[1] == sandbox.state.contacts_by_phone[phones[-1]].id
    assert await api.ok("POST", "/v1/contacts/count") == "75"
    middle = (await api.ok("POST", "/v1/contacts", {"limit": 40}))[-1]["updated"]
    assert await api.ok("POST", "/v1/contacts/count", {"date": middle}) == "35"
    oldest = await api.ok("POST", "/v1/contacts", {"ascending": True, "limit": 3})
    assert [c["phone"] for c in oldest] == ["15105550101", GRACE, "15105550103"]
    assert len(await api.ok("POST", "/v1/contacts", {"limit": 500})) == 75
    bad_data(await api.call("POST", "/v1/contacts", {"limit": 0}), "limit")
    bad_data(await api.call("POST", "/v1/contacts", {"date": "yesterday"}), "date")
    bad_data(await api.call("POST", "/v1/contacts/count", {"date": "2027-01-01"}), "date")


async def test_contact_get_by_phone_or_string_id(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/contact/get finds by phone or by id as a string; phone wins when both."""
    ada, grace = sandbox.state.contacts_by_phone[ADA], sandbox.state.contacts_by_phone[GRACE]
    assert (await api.ok("POST", "/v1/contact/get", {"phone": ADA}))["id"] == ada.id
    assert (await api.ok("POST", "/v1/contact/get", {"id": str(grace.id)}))["id"] == grace.id
    both = await api.ok("POST", "/v1/contact/get", {"phone": ADA, "id": str(grace.id)})
    assert both["id"] == ada.id
    bad_data(await api.call("POST", "/v1/contact/get", {"id": grace.id}), "id")
    bad_data(await api.call("POST", "/v1/contact/get", {}), "phone")
    bad_data(await api.call("POST", "/v1/contact/get", {"phone": "+15105550100"}), "phone")
    not_found(await api.call("POST", "/v1/contact/get", {"phone": NEW}))
    not_found(await api.call("POST", "/v1/contact/get", {"id": "399999"}))


async def test_unsubscribed_status_blocks_sends(api: Api, sandbox: Sandbox) -> None:
    """set_status unsubscribed makes sends fail with unsubscribed_number; subscribed undoes it."""
    ada = sandbox.state.contacts_by_phone[ADA]
    send = {"inbox_id": 42, "phone_number": ADA, "text": "Hi"}
    await api.ok("POST", "/v1/message/send", send)
    body = {"id": ada.id, "status": "unsubscribed"}
    assert await api.ok("POST", "/v1/contact/set_status", body) == "success"
    status = await api.ok("POST", "/v1/contact/status", {"id": ada.id})
    assert status == {
        "id": ada.id,
        "phone": ADA,
        "unsubscribed": True,
        "blocked": False,
        "unsubscribed_admin": True,
        "unsubscribed_contact": False,
    }
    assert (await api.ok("GET", f"/v1/contact/{ada.id}"))["is_opted_out"] is True
    refused = await api.call("POST", "/v1/message/send", send)
    assert (refused.status, refused.body["error_code"]) == (400, "unsubscribed_number")
    assert len(sandbox.ledger) == 1
    await api.ok("POST", "/v1/contact/set_status", {"phone": ADA, "status": "subscribed"})
    await api.ok("POST", "/v1/message/send", send)
    assert len(sandbox.ledger) == 2


async def test_block_status_and_numbers_without_a_contact(api: Api, sandbox: Sandbox) -> None:
    """blocked/unblocked/active are recorded; a bare number has a status; bad input is refused."""
    await api.ok(
        "POST", "/v1/contact/set_status", {"phone": NEW, "status": ["blocked", "unsubscribed"]}
    )
    status = await api.ok("POST", "/v1/contact/status", {"phone": NEW})
    assert (status["id"], status["blocked"], status["unsubscribed"]) == (None, True, True)
    await api.ok("POST", "/v1/contact/set_status", {"phone": NEW, "status": "active"})
    status = await api.ok("POST", "/v1/contact/status", {"phone": NEW})
    assert (status["blocked"], status["unsubscribed"]) == (False, False)
    sandbox.opt_out(GRACE)  # the contact texted STOP
    status = await api.ok("POST", "/v1/contact/status", {"phone": GRACE})
    assert (status["unsubscribed_contact"], status["unsubscribed_admin"]) == (True, False)
    await api.ok("POST", "/v1/contact/set_status", {"phone": GRACE, "status": "blocked"})
    await api.ok("POST", "/v1/contact/set_status", {"phone": GRACE, "status": "unblocked"})
    assert GRACE not in sandbox.state.blocked
    bad_data(await api.call("POST", "/v1/contact/set_status", {"phone": NEW}), "status")
    bad_data(
        await api.call("POST", "/v1/contact/set_status", {"phone": NEW, "status": "gone"}), "status"
    )
    bad_data(await api.call("POST", "/v1/contact/status", {}), "phone")
    bad_data(await api.call("POST", "/v1/contact/status", {"id": "300001"}), "id")
    not_found(await api.call("POST", "/v1/contact/status", {"id": 399999}))
    not_found(await api.call("POST", "/v1/contact/set_status", {"id": 399999, "status": "active"}))
    email_only = sandbox.state.contact_for_email("x@example.com", 0)
    bad_data(await api.call("POST", "/v1/contact/status", {"id": email_only.id}), "id")


async def test_batch_create_reports_failures_and_skips_existing(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/batch/contacts answers ok or the failed items; existing phones need overwrite."""
    assert await api.ok("POST", "/v1/batch/contacts", [{"phone": NEW, "first": "Kay"}]) == "ok"
    items = [
        {"phone": "15105550778", "first": "New"},
        {"phone": "bad", "first": "Bad"},
        {"phone": ADA, "first": "Skipped"},
        {"first": "No phone"},
    ]
    failed = await api.ok("POST", "/v1/batch/contacts", items)
    assert [(f["first"], f["error"].split(":")[0]) for f in failed] == [
        ("Bad", "phone"),
        ("No phone", "phone"),
    ]
    assert sandbox.state.contacts_by_phone["15105550778"].first == "New"
    assert sandbox.state.contacts_by_phone[ADA].first == "Ada"
    replaced = [{"phone": NEW, "email": "ada@sandbox.example"}, {"phone": ADA, "first": "Replaced"}]
    failed = await api.ok("POST", "/v1/batch/contacts", replaced, {"overwrite": "true"})
    assert [f["phone"] for f in failed] == [NEW]  # the email belongs to Ada
    ada = sandbox.state.contacts_by_phone[ADA]
    assert (ada.first, ada.custom, ada.email) == ("Replaced", {}, None)
    bad_data(await api.call("POST", "/v1/batch/contacts", {"phone": NEW}), "body")
    bad_data(await api.call("POST", "/v1/batch/contacts", [NEW]), "body")


async def test_custom_field_definitions(api: Api, sandbox: Sandbox) -> None:
    """contact-fields lists {id, title}; contacts/fields creates, flagging duplicates."""
    fields = await api.ok("POST", "/v1/contact-fields", {})
    assert fields == [
        {"id": 201, "title": "Company"},
        {"id": 202, "title": "Birthday"},
        {"id": 203, "title": "Plan"},
    ]
    created = await api.ok(
        "POST", "/v1/contacts/fields", [{"title": "Shoe size"}, {"title": "company"}]
    )
    assert created == [
        {"id": 204, "title": "Shoe size", "duplicate": False},
        {"id": 201, "title": "Company", "duplicate": True},
    ]
    assert len(await api.ok("POST", "/v1/contact-fields")) == 4
    made = await api.ok("POST", "/v1/contact", {"phone": NEW, "custom": {"204": "42"}})
    assert sandbox.state.contacts[made["id"]].custom == {"204": "42"}
    bad_data(await api.call("POST", "/v1/contacts/fields", [{"title": " "}]), "title")
    bad_data(await api.call("POST", "/v1/contacts/fields", {"title": "x"}), "body")
    assert len(sandbox.state.custom_fields) == 4


async def test_deleting_a_contact_takes_it_off_lists(api: Api, sandbox: Sandbox) -> None:
    """A deleted contact leaves every list, so a later broadcast reaches only the others."""
    created = await api.ok(
        "POST", "/v2/lists", {"title": "L", "local_id": "l1", "phones": [ADA, GRACE]}
    )
    ada = sandbox.state.contacts_by_phone[ADA]
    await api.ok("DELETE", f"/v1/contact/{ada.id}")
    body = {"inbox_id": 42, "list_id": created["id"], "local_id": "b1", "text": "Hi"}
    await api.ok("POST", "/v1/message/send", body)
    assert sandbox.ledger_counts_by_recipient() == {GRACE: 1}


# -- v2 --------------------------------------------------------------------------------------


async def test_v2_create_get_update_delete(api: Api, sandbox: Sandbox) -> None:
    """v2 contacts are named by UUID; PUT answers the contact and keeps unnamed channels."""
    created = await api.ok(
        "POST",
        "/v2/contact",
        {
            "first": "Hedy",
            "contact_channels": [
                {"channel_type": "phone", "channel_id": NEW},
                {"channel_type": "facebook", "channel_id": "hedy.l", "channel_handle": "Hedy"},
            ],
        },
    )
    assert set(created) == {"id", "rev", "uuid"}
    assert created["id"] == created["uuid"]
    path = f"/v2/contact/{created['id']}"
    contact = await api.ok("GET", path)
    assert (contact["id"], contact["phone"], contact["first"]) == (created["id"], NEW, "Hedy")
    v1_id = sandbox.state.contacts_by_phone[NEW].id
    assert (await api.ok("GET", f"/v1/contact/{v1_id}"))["uuid"] == created["uuid"]
    assert (await api.ok("GET", path.upper().replace("/V2/CONTACT/", "/v2/contact/")))[
        "phone"
    ] == NEW

    updated = await api.ok(
        "PUT", path, {"first": "Hedy", "last": "Lamarr", "email": "h@example.com"}
    )
    assert (updated["id"], updated["display_name"], updated["rev"]) == (
        created["id"],
        "Hedy Lamarr",
        2,
    )
    assert (updated["phone"], updated["email"]) == (NEW, "h@example.com")
    channels = await api.ok("GET", f"{path}/channels")
    assert [c["channel_type"] for c in channels] == ["phone", "facebook", "email"]
    assert await api.ok("DELETE", path) == "ok"
    not_found(await api.call("GET", path))
    not_found(await api.call("PUT", path, {}))
    not_found(await api.call("DELETE", path))
    not_found(await api.call("GET", "/v2/contact/300001"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first": "No channels"}, "contact_channels"),
        ({"phone": NEW}, "contact_channels"),
        ({"contact_channels": []}, "contact_channels"),
        ({"contact_channels": [{"channel_type": "phone"}]}, "contact_channels"),
        ({"contact_channels": [{"channel_type": "phone", "channel_id": "+1"}]}, "contact_channels"),
        ({"contact_channels": [{"channel_type": "Phone", "channel_id": NEW}]}, "contact_channels"),
        ({"contact_channels": [{"channel_type": "id", "channel_id": NEW}]}, "contact_channels"),
        ({"contact_channels": [{"channel_type": "email", "channel_id": "x"}]}, "contact_channels"),
        (
            {"contact_channels": [{"channel_type": "phone", "channel_id": NEW}] * 2},
            "contact_channels",
        ),
        ({"contact_channels": [{"channel_type": "phone", "channel_id": ADA}]}, "phone"),
        (
            {
                "phone": "15105550778",
                "contact_channels": [{"channel_type": "phone", "channel_id": NEW}],
            },
            "phone",
        ),
    ],
)
async def test_v2_create_refuses_bad_channels(api: Api, body: dict[str, Any], field: str) -> None:
    """POST /v2/contact needs at least one valid, free channel; problems are a 400."""
    bad_data(await api.call("POST", "/v2/contact", body), field)


async def test_v2_bulk_upsert_and_bulk_delete(api: Api, sandbox: Sandbox) -> None:
    """POST /v2/contacts creates and updates, reporting failures; DELETE /v2/contacts by UUID."""
    ada = sandbox.state.contacts_by_phone[ADA]
    answer = await api.ok(
        "POST",
        "/v2/contacts",
        {
            "contacts": [
                {
                    "first": "Kay",
                    "contact_channels": [{"channel_type": "phone", "channel_id": NEW}],
                },
                {"contact_id": ada.uuid, "first": "Ada", "last": "King"},
                {"contact_id": "00000000-0000-4000-8000-000000000000", "first": "Ghost"},
                {"first": "No channel"},
                "not an object",
            ]
        },
    )
    assert [c["first"] for c in answer["contacts"]] == ["Kay", "Ada"]
    assert answer["contacts"][1]["id"] == ada.uuid
    assert (ada.last, ada.rev) == ("King", 2)
    assert [f["error"].split(":")[0] for f in answer["failed_contacts"]] == [
        "contact_id",
        "contact_channels",
        "contacts",
    ]
    assert answer["failed_contacts"][0]["contact"]["first"] == "Ghost"
    bad_data(await api.call("POST", "/v2/contacts", {}), "contacts")

    kay = answer["contacts"][0]["id"]
    ghost = "00000000-0000-4000-8000-000000000000"
    body = {"contact_channels": [{"channel_type": "id", "channel_ids": [kay, ada.uuid, ghost]}]}
    assert await api.ok("DELETE", "/v2/contacts", body) == "ok"
    assert NEW not in sandbox.state.contacts_by_phone
    assert ada.id not in sandbox.state.contacts
    assert await api.ok("DELETE", "/v2/contacts", body) == "ok"  # a retry is harmless
    for wrong in (
        {},
        {"contact_channels": [{"channel_type": "phone", "channel_ids": [NEW]}]},
        {"contact_channels": [{"channel_type": "id", "channel_ids": ["300001"]}]},
        {"contact_channels": [{"channel_type": "id", "channel_ids": []}]},
    ):
        bad_data(await api.call("DELETE", "/v2/contacts", wrong), "contact_channels")


async def test_v2_search_by_phone_and_email(api: Api, sandbox: Sandbox) -> None:
    """POST /v2/contacts/search finds by phone or email, inferring the type when left out."""
    ada = sandbox.state.contacts_by_phone[ADA]
    grace = sandbox.state.contacts_by_phone[GRACE]
    found = await api.ok(
        "POST",
        "/v2/contacts/search",
        {
            "contact_channels": [
                {"channel_type": "phone", "channel_ids": [GRACE, NEW]},
                {"channel_type": "email", "channel_ids": ["ADA@sandbox.example"]},
                {"channel_ids": [ADA, GRACE]},
            ]
        },
    )
    assert [c["id"] for c in found] == [grace.uuid, ada.uuid]
    none = {"contact_channels": [{"channel_type": "phone", "channel_ids": [NEW]}]}
    assert await api.ok("POST", "/v2/contacts/search", none) == []
    for wrong in (
        {},
        {"contact_channels": [{"channel_type": "facebook", "channel_ids": ["x"]}]},
        {"contact_channels": [{"channel_type": "phone", "channel_ids": ["+15105550100"]}]},
        {"contact_channels": [{"channel_type": "phone"}]},
        {"contact_channels": ["15105550100"]},
    ):
        bad_data(await api.call("POST", "/v2/contacts/search", wrong), "contact_channels")


async def test_v2_list_pages_by_number(api: Api, sandbox: Sandbox) -> None:
    """POST /v2/contacts/list pages from 0 with limit, newest first, each contact once."""
    for n in range(8):
        await api.ok("POST", "/v1/contact", {"phone": f"1510666{n:04d}"})
    seen: list[str] = []
    page = 0
    while items := await api.ok("POST", "/v2/contacts/list", {"limit": 5, "page": page}):
        seen.extend(c["id"] for c in items)
        page += 1
    assert page == 3
    assert len(seen) == len(set(seen)) == 13
    assert seen[0] == sandbox.state.contacts_by_phone["15106660007"].uuid
    oldest = await api.ok("POST", "/v2/contacts/list", {"ascending": True, "limit": 1})
    assert oldest[0]["phone"] == ADA
    cut = (await api.ok("POST", "/v2/contacts/list", {"limit": 3}))[-1]["updated"]
    older = await api.ok("POST", "/v2/contacts/list", {"date": cut})
    assert len(older) == 10
    bad_data(await api.call("POST", "/v2/contacts/list", {"page": -1}), "page")
    bad_data(await api.call("POST", "/v2/contacts/list", {"limit": "5"}), "limit")


async def test_v2_channels(api: Api, sandbox: Sandbox) -> None:
    """Channels are added, listed, read, changed and removed, and mirror phone/email."""
    ada = sandbox.state.contacts_by_phone[ADA]
    base = f"/v2/contact/{ada.uuid}"
    channels = await api.ok(
        "POST",
        f"{base}/channel",
        {"channel_type": "whatsapp", "channel_id": "ada-wa", "info_channel": True},
    )
    assert [c["channel_type"] for c in channels] == ["phone", "email", "whatsapp"]
    whatsapp = channels[2]
    assert set(whatsapp) == {
        "id",
        "team_id",
        "contact_id",
        "channel_type",
        "channel_id",
        "info_channel",
        "channel_handle",
        "created",
        "updated",
    }
    assert (whatsapp["contact_id"], whatsapp["info_channel"]) == (ada.uuid, True)
    assert await api.ok("GET", f"{base}/channel/whatsapp") == whatsapp
    bad_data(
        await api.call("POST", f"{base}/channel", {"channel_type": "phone", "channel_id": NEW}),
        "channel_type",
    )
    changed = await api.ok("PUT", f"{base}/channel", {"channel_type": "phone", "channel_id": NEW})
    assert (changed["channel_id"], changed["id"]) == (NEW, channels[0]["id"])
    assert sandbox.state.contacts_by_phone[NEW] is ada
    assert ADA not in sandbox.state.contacts_by_phone
    bad_data(
        await api.call("PUT", f"{base}/channel", {"channel_type": "phone", "channel_id": GRACE}),
        "channel_id",
    )
    bad_data(
        await api.call("PUT", f"{base}/channel", {"channel_type": "telegram", "channel_id": "a"}),
        "channel_type",
    )
    bad_data(await api.call("PUT", f"{base}/channel", {"channel_type": "phone"}), "channel_id")
    assert await api.ok("DELETE", f"{base}/channel/email") == "ok"
    assert (ada.email, "ada@sandbox.example" in sandbox.state.contacts_by_email) == (None, False)
    not_found(await api.call("GET", f"{base}/channel/email"))
    not_found(await api.call("DELETE", f"{base}/channel/email"))
    assert len(await api.ok("GET", f"{base}/channels")) == 2
    not_found(await api.call("GET", "/v2/contact/nope/channels"))
    assert ada.rev == 4  # each change is a new revision
