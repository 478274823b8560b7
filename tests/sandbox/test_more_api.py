"""The sandbox's conversation, template, tag, survey and user endpoints, driven raw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from heymarket_async.sandbox import Sandbox

NOW = 1_800_000_000.0
ADA = "15105550100"  # seeded contact with the VIP tag
GRACE = "15105550102"  # seeded contact with the VIP and Newsletter tags
VIP, NEWSLETTER = 600_001, 600_002


@attrs.frozen
class Reply:
    status: int
    body: Any


class Api:
    """A raw HTTP client for the sandbox, authenticated with a fresh JWT."""

    def __init__(self, session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.session = session
        self.sandbox = sandbox

    async def call(self, method: str, path: str, json: Any = None) -> Reply:
        async with self.session.request(
            method, self.sandbox.url + path, json=json, headers=self.sandbox.auth_headers()
        ) as response:
            return Reply(response.status, await response.json())

    async def ok(self, method: str, path: str, json: Any = None) -> Any:
        reply = await self.call(method, path, json)
        assert reply.status == 200, reply
        return reply.body

    async def conversation(self, phone: str, inbox_id: int = 42) -> int:
        """Send one SMS and return the id of its conversation."""
        body = {"inbox_id": inbox_id, "phone_number": phone, "text": "hi"}
        sent = await self.ok("POST", "/v1/message/send", body)
        history = await self.ok("POST", "/v1/messages/all", {"limit": 1})
        assert history[0]["id"] == sent["id"]
        return int(history[0]["conversation"]["id"])

    async def conversations(self, **body: Any) -> list[dict[str, Any]]:
        return list(await self.ok("POST", "/v1/conversations", {"id": 7, **body}))


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, clock=lambda: NOW) as sb:
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


def phone(n: int) -> str:
    return f"1415777{n:04d}"


# -- routes ----------------------------------------------------------------------------------


def test_every_documented_endpoint_is_routed() -> None:
    """The sandbox serves every public endpoint of the contract's master index (§2.0)."""
    expected = {
        "GET /v1/team", "GET /v1/inboxes", "POST /v1/message/send", "GET /v1/messages",
        "POST /v1/messages/all", "POST /v1/messages/all/count", "POST /v1/email/send",
        "POST /v2/lists", "PUT /v2/lists/{id}", "DELETE /v2/lists/{id}",
        "POST /v1/schedule", "GET /v1/schedule/{id}", "PUT /v1/schedule/{id}",
        "DELETE /v1/schedule/{id}",
        "GET /v1/users/get", "POST /v1/users/update",
        "POST /v1/conversations", "POST /v1/conversations/count", "GET /v1/conversations/{id}",
        "POST /v1/conversations/open", "POST /v1/conversations/close",
        "POST /v1/conversations/read", "POST /v1/conversations/unread",
        "POST /v1/conversations/reassign", "POST /v1/conversations/transfer",
        "POST /v1/contact", "GET /v1/contact/{id}", "PUT /v1/contact/{id}",
        "DELETE /v1/contact/{id}", "POST /v1/contacts", "POST /v1/contacts/count",
        "POST /v1/contact/get", "POST /v1/contact/status", "POST /v1/contact/set_status",
        "POST /v1/batch/contacts", "POST /v1/contact-fields", "POST /v1/contacts/fields",
        "POST /v2/contact", "GET /v2/contact/{contactID}", "PUT /v2/contact/{contactID}",
        "DELETE /v2/contact/{contactID}", "POST /v2/contacts", "DELETE /v2/contacts",
        "POST /v2/contacts/search", "POST /v2/contacts/list",
        "POST /v2/contact/{contactID}/channel", "PUT /v2/contact/{contactID}/channel",
        "GET /v2/contact/{contactID}/channels",
        "GET /v2/contact/{contactID}/channel/{channelType}",
        "DELETE /v2/contact/{contactID}/channel/{channelType}",
        "POST /v1/template", "GET /v1/template/{id}", "PUT /v1/template/{id}",
        "DELETE /v1/template/{id}", "POST /v1/templates",
        "POST /v1/tag", "GET /v1/tag/{id}", "DELETE /v1/tag/{id}", "POST /v1/tags",
        "GET /v1/survey/{id}", "POST /v1/surveys",
    }  # fmt: skip
    keys = Sandbox().route_keys
    assert len(keys) == len(set(keys))
    assert set(keys) == expected


# -- conversations ---------------------------------------------------------------------------


async def test_list_conversations_pages_by_date_without_repeats(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/conversations walks newest-updated first by date cursor, each one once."""
    ids = [await api.conversation(phone(n)) for n in range(7)]
    await api.conversation(phone(2))  # a new message moves that conversation to the front
    seen: list[int] = []
    body: dict[str, Any] = {"limit": 3}
    sizes = []
    while page := await api.conversations(**body):
        sizes.append(len(page))
        seen.extend(c["id"] for c in page)
        body["date"] = page[-1]["updated"]
    assert sizes == [3, 3, 1]
    assert seen == [ids[2], ids[6], ids[5], ids[4], ids[3], ids[1], ids[0]]
    first = (await api.conversations())[0]
    assert (first["id"], first["inbox"], first["target"], first["status"]) == (
        ids[2],
        42,
        phone(2),
        "open",
    )
    assert first["members"] == [
        {"id": 7, "name": "Olive Owner"},
        {"id": 8, "name": "Adam Admin"},
        {"id": 9, "name": "Mia Member"},
    ]
    assert await api.ok("POST", "/v1/conversations/count", {}) == "7"
    assert await api.ok("POST", "/v1/conversations/count", {"date": first["updated"]}) == "6"
    assert await api.ok("POST", "/v1/conversations/count") == "7"


async def test_conversation_filters_and_scope(api: Api) -> None:
    """filters narrow by inbox, closed and unread; the user's inboxes bound the answer."""
    main = await api.conversation(phone(1), 42)
    support = await api.conversation(phone(2), 43)
    email = await api.ok(
        "POST",
        "/v1/email/send",
        {"creator_id": 8, "inbox": 44, "text": "x", "targets": ["to:a@example.com"]},
    )

    def ids(page: list[dict[str, Any]]) -> list[int]:
        return [c["id"] for c in page]

    assert ids(await api.conversations()) == [email["convo_id"], support, main]
    assert ids(await api.conversations(filters={"inboxes": [43]})) == [support]
    mia = await api.ok("POST", "/v1/conversations", {"id": 9, "filters": {}})
    assert ids(mia) == [support, main]  # Mia is not in the email inbox
    close = {"inbox_id": 42, "user_id": 7, "chat_id": main}
    await api.ok("POST", "/v1/conversations/close", close)
    assert ids(await api.conversations(filters={"closed": True})) == [main]
    assert ids(await api.conversations(filters={"closed": False})) == [email["convo_id"], support]
    await api.ok(
        "POST", "/v1/conversations/unread", {"inbox_id": 43, "user_id": 9, "target": phone(2)}
    )
    assert ids(await api.conversations(filters={"unread": True})) == [support]
    assert len(await api.conversations(filters={"unread": False})) == 2
    count = await api.ok("POST", "/v1/conversations/count", {"id": 9, "filters": {"unread": True}})
    assert count == "1"

    bad_data(await api.call("POST", "/v1/conversations", {}), "id")
    bad_data(await api.call("POST", "/v1/conversations", {"id": 99}), "id")
    bad_data(await api.call("POST", "/v1/conversations", {"id": 9, "filters": [43]}), "filters")
    for filters, field in (
        ({"inboxes": [44]}, "filters.inboxes"),
        ({"inboxes": [99]}, "filters.inboxes"),
        ({"inboxes": "42"}, "filters.inboxes"),
        ({"closed": "yes"}, "filters.closed"),
        ({"unread": 1}, "filters.unread"),
    ):
        reply = await api.call("POST", "/v1/conversations", {"id": 9, "filters": filters})
        bad_data(reply, field)
    bad_data(await api.call("POST", "/v1/conversations", {"id": 7, "limit": 0}), "limit")
    bad_data(await api.call("POST", "/v1/conversations", {"id": 7, "date": "now"}), "date")


async def test_get_conversation(api: Api) -> None:
    """GET /v1/conversations/{id} answers the full object; an unknown id is 404."""
    chat = await api.conversation(ADA)
    conversation = await api.ok("GET", f"/v1/conversations/{chat}")
    assert {
        "id", "inbox", "target", "channel", "type", "name", "status", "created", "updated",
        "creator", "assigned", "blocked", "email_noti", "last_inbound", "local_id", "members",
        "muted", "noreply", "op", "read", "replied", "snooze_till", "super", "support",
    } == set(conversation)  # fmt: skip
    assert (conversation["channel"], conversation["type"], conversation["read"]) == (
        "sms",
        "individual",
        1,
    )
    not_found(await api.call("GET", "/v1/conversations/1"))
    not_found(await api.call("GET", "/v1/conversations/x"))


async def test_open_close_read_unread_and_reassign(api: Api) -> None:
    """The actions answer their strings, change the conversation and move it to the front."""
    chat = await api.conversation(ADA)
    group_body = {"inbox_id": 42, "targets": [GRACE, ADA], "text": "all"}
    await api.ok("POST", "/v1/message/send", group_body)
    path = f"/v1/conversations/{chat}"

    async def front() -> int:
        return int((await api.conversations())[0]["id"])

    assert await front() != chat
    closed = await api.ok(
        "POST", "/v1/conversations/close", {"inbox_id": 42, "user_id": 8, "target": ADA}
    )
    assert closed == "ok"
    assert (await api.ok("GET", path))["status"] == "closed"
    assert await front() == chat
    body = {"inbox_id": 42, "user_id": 8, "targets": [ADA, GRACE]}
    assert await api.ok("POST", "/v1/conversations/close", body) == "ok"
    assert await front() != chat
    opened = await api.ok(
        "POST", "/v1/conversations/open", {"inbox_id": 42, "user_id": 8, "chat_id": chat}
    )
    assert opened == "ok"
    assert (await api.ok("GET", path))["status"] == "open"
    mark = {"inbox_id": 42, "user_id": 9, "target": ADA}
    assert await api.ok("POST", "/v1/conversations/unread", mark) == "Marked as Unread"
    assert (await api.ok("GET", path))["read"] == 0
    assert await api.ok("POST", "/v1/conversations/read", mark) == "Marked as Read"
    assert (await api.ok("GET", path))["read"] == 1
    reassign = {"inbox_id": 42, "user_id": 7, "target": ADA, "reassign_id": 9}
    assert await api.ok("POST", "/v1/conversations/reassign", reassign) == "ok"
    assert (await api.ok("GET", path))["assigned"] == 9
    history = await api.ok("POST", "/v1/messages/all", {"limit": 5})
    assert history[-1]["conversation"]["status"] == "open"  # messages keep their snapshot


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("open", {"user_id": 7, "target": ADA}, "inbox_id"),
        ("open", {"inbox_id": 99, "user_id": 7, "target": ADA}, "inbox_id"),
        ("open", {"inbox_id": 42, "target": ADA}, "user_id"),
        ("open", {"inbox_id": 43, "user_id": 8, "target": ADA}, "user_id"),
        ("open", {"inbox_id": 42, "user_id": 7}, "chat_id"),
        ("open", {"inbox_id": 42, "user_id": 7, "target": ADA, "chat_id": 99}, "chat_id"),
        ("close", {"inbox_id": 42, "user_id": 7, "target": "+15105550100"}, "target"),
        ("close", {"inbox_id": 42, "user_id": 7, "target": GRACE}, "target"),
        ("close", {"inbox_id": 43, "user_id": 7, "target": ADA}, "target"),
        ("close", {"inbox_id": 42, "user_id": 7, "chat_id": 1}, "chat_id"),
        ("close", {"inbox_id": 42, "user_id": 7, "targets": [ADA]}, "targets"),
        ("read", {"inbox_id": 42, "user_id": 7, "chat_id": 1}, "target"),
        ("unread", {"inbox_id": 42, "user_id": 7, "targets": [ADA, GRACE]}, "targets"),
        ("reassign", {"inbox_id": 42, "user_id": 7, "target": ADA}, "reassign_id"),
        ("reassign", {"inbox_id": 43, "user_id": 7, "target": ADA, "reassign_id": 9}, "target"),
        (
            "reassign",
            {"inbox_id": 42, "user_id": 7, "target": ADA, "reassign_id": 99},
            "reassign_id",
        ),
    ],
)
async def test_conversation_actions_refuse_bad_requests(
    api: Api, action: str, body: dict[str, Any], field: str
) -> None:
    """A missing or unknown inbox, user, target or conversation is a 400 naming the field."""
    await api.conversation(ADA)
    bad_data(await api.call("POST", f"/v1/conversations/{action}", body), field)


async def test_open_and_close_take_chat_id_with_its_target(api: Api) -> None:
    """chat_id and target together (the API reference's example) name one conversation."""
    chat = await api.conversation(ADA)
    body = {"inbox_id": 42, "user_id": 7, "chat_id": chat, "target": ADA}
    assert await api.ok("POST", "/v1/conversations/close", body) == "ok"
    assert (await api.ok("GET", f"/v1/conversations/{chat}"))["status"] == "closed"
    assert await api.ok("POST", "/v1/conversations/open", body) == "ok"
    assert (await api.ok("GET", f"/v1/conversations/{chat}"))["status"] == "open"
    await api.conversation(GRACE)
    other = {**body, "target": GRACE}
    bad_data(await api.call("POST", "/v1/conversations/close", other), "target")


async def test_transfer_moves_an_sms_conversation(api: Api, sandbox: Sandbox) -> None:
    """transfer moves a conversation to a free SMS inbox; replies then go through that inbox."""
    chat = await api.conversation(ADA)
    taken = await api.conversation(GRACE)
    await api.conversation(GRACE, 43)
    body = {"conversation_id": chat, "transfer_inbox_id": 43}
    assert await api.ok("POST", "/v1/conversations/transfer", body) == "ok"
    assert (await api.ok("GET", f"/v1/conversations/{chat}"))["inbox"] == 43
    reply = {"inbox_id": 43, "chat_id": chat, "text": "moved"}
    await api.ok("POST", "/v1/message/send", reply)
    moved = await api.ok("GET", "/v1/messages?phoneNumber=15105550100&inboxID=43")
    assert [m["text"] for m in moved] == ["moved", "hi"]
    assert sandbox.state.conversation_with(42, ADA) is None
    assert (await api.conversation(ADA)) != chat  # inbox 42 starts a new one

    email = await api.ok(
        "POST",
        "/v1/email/send",
        {"creator_id": 7, "inbox": 44, "text": "x", "targets": ["to:a@example.com"]},
    )
    for wrong, field in (
        ({"conversation_id": taken, "transfer_inbox_id": 43}, "transfer_inbox_id"),
        ({"conversation_id": taken, "transfer_inbox_id": 42}, "transfer_inbox_id"),
        ({"conversation_id": taken, "transfer_inbox_id": 44}, "transfer_inbox_id"),
        ({"conversation_id": taken, "transfer_inbox_id": 99}, "transfer_inbox_id"),
        ({"conversation_id": email["convo_id"], "transfer_inbox_id": 43}, "conversation_id"),
        ({"conversation_id": 1, "transfer_inbox_id": 43}, "conversation_id"),
        ({"transfer_inbox_id": 43}, "conversation_id"),
        ({"conversation_id": taken}, "transfer_inbox_id"),
    ):
        bad_data(await api.call("POST", "/v1/conversations/transfer", wrong), field)


# -- templates -------------------------------------------------------------------------------


async def test_template_crud_and_local_id(api: Api, sandbox: Sandbox) -> None:
    """Templates are created once per local_id, read with name, updated, and deleted."""
    uid = "88ae517b-ff42-4ef2-958d-86b27db6b21c"
    body = {"title": "Promo", "content": {"text": "Hi {{first_name}}"}, "local_id": uid}
    created = await api.ok("POST", "/v1/template", body)
    assert created == {"id": created["id"], "rev": 1, "uuid": uid}
    assert await api.ok("POST", "/v1/template", {**body, "title": "Again"}) == created
    path = f"/v1/template/{created['id']}"
    template = await api.ok("GET", path)
    assert (template["name"], template["content"], template["archived"]) == (
        "Promo",
        {"text": "Hi {{first_name}}", "gallery": []},
        False,
    )
    assert template["local_id"] == uid
    assert set(template) == {
        "id", "name", "local_id", "content", "team_id", "creator_id", "shared", "created",
        "updated", "rev", "archived",
    }  # fmt: skip
    updated = await api.ok("PUT", path, {"title": "Promo 2", "archived": True, "local_id": "p2"})
    assert updated == {"id": created["id"], "rev": 2}
    template = await api.ok("GET", path)
    assert (template["name"], template["archived"], template["local_id"]) == ("Promo 2", True, "p2")
    assert template["content"]["text"] == "Hi {{first_name}}"  # not sent, so kept
    other = await api.ok("POST", "/v1/template", {"title": "B", "content": {"text": "b"}})
    assert other["uuid"] != uid
    bad_data(await api.call("PUT", f"/v1/template/{other['id']}", {"local_id": "p2"}), "local_id")
    bad_data(await api.call("PUT", path, {"title": ""}), "title")
    bad_data(await api.call("PUT", path, {"content": {"text": ""}}), "content")
    assert await api.ok("DELETE", path) == "ok"
    not_found(await api.call("GET", path))
    not_found(await api.call("PUT", path, {"title": "x"}))
    not_found(await api.call("DELETE", path))
    again = await api.ok("POST", "/v1/template", {**body, "local_id": "p2"})
    assert again["id"] != created["id"]  # the local_id was freed by the delete


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": {"text": "x"}}, "title"),
        ({"title": " ", "content": {"text": "x"}}, "title"),
        ({"title": "T"}, "content"),
        ({"title": "T", "content": "x"}, "content"),
        ({"title": "T", "content": {}}, "content"),
        ({"title": "T", "content": {"text": 5}}, "content.text"),
        ({"title": "T", "content": {"gallery": "x"}}, "content.gallery"),
        ({"title": "T", "content": {"gallery": ["x"]}}, "content.gallery"),
        ({"title": "T", "content": {"text": "x"}, "local_id": ""}, "local_id"),
        ({"title": "T", "content": {"text": "x"}, "archived": "no"}, "archived"),
    ],
)
async def test_template_create_refuses_bad_fields(
    api: Api, body: dict[str, Any], field: str
) -> None:
    """A missing title or content, or a malformed field, is a 400 naming it."""
    bad_data(await api.call("POST", "/v1/template", body), field)


async def test_templates_page_by_date_without_repeats(api: Api) -> None:
    """POST /v1/templates gives the 30 most recent, then older ones by date cursor."""
    gallery = {"gallery": [{"url": "https://example.com/a.png"}]}
    for n in range(35):
        await api.ok("POST", "/v1/template", {"title": f"T{n}", "content": gallery})
    seen: list[str] = []
    body: dict[str, Any] = {}
    sizes = []
    while page := await api.ok("POST", "/v1/templates", body):
        sizes.append(len(page))
        seen.extend(t["name"] for t in page)
        body = {"date": page[-1]["updated"]}
    assert sizes == [30, 8]
    assert len(set(seen)) == 38
    assert seen[0] == "T34"
    assert seen[-3:] == ["Spring sale 2025", "Appointment reminder", "Welcome"]  # the seeds


# -- tags ------------------------------------------------------------------------------------


async def test_tag_crud_and_paging(api: Api, sandbox: Sandbox) -> None:
    """Tags are created, read, paged by date cursor and deleted (and leave their contacts)."""
    created = await api.ok("POST", "/v1/tag", {"tag": "Gold", "color": "#FFD700"})
    assert set(created) == {"id", "rev", "uuid"}
    tag = await api.ok("GET", f"/v1/tag/{created['id']}")
    assert {k: tag[k] for k in ("id", "tag", "color", "team_id", "rev")} == {
        "id": created["id"],
        "tag": "Gold",
        "color": "#FFD700",
        "team_id": 1001,
        "rev": 1,
    }
    assert (await api.ok("POST", "/v1/tag", {"tag": "Plain"}))["id"] == created["id"] + 1
    for n in range(30):
        await api.ok("POST", "/v1/tag", {"tag": f"t{n}", "color": "abc"})
    first = await api.ok("POST", "/v1/tags", {})
    rest = await api.ok("POST", "/v1/tags", {"date": first[-1]["updated"]})
    assert (len(first), len(rest)) == (30, 5)
    names = [t["tag"] for t in first + rest]
    assert len(set(names)) == 35
    assert names[-3:] == ["Wholesale", "Newsletter", "VIP"]
    assert await api.ok("POST", "/v1/tags", {"date": rest[-1]["updated"]}) == []

    grace = sandbox.state.contacts_by_phone[GRACE]
    assert await api.ok("DELETE", f"/v1/tag/{VIP}") == "ok"
    contact = await api.ok("GET", f"/v1/contact/{grace.id}")
    assert [t["tag_id"] for t in contact["tags"]] == [NEWSLETTER]
    assert contact["rev"] == 2
    not_found(await api.call("GET", f"/v1/tag/{VIP}"))
    not_found(await api.call("DELETE", f"/v1/tag/{VIP}"))
    reply = await api.call(
        "PUT", f"/v1/contact/{grace.id}", {"phone": GRACE, "tags": [{"tag_id": VIP}]}
    )
    bad_data(reply, "tags")
    for wrong, field in (
        ({}, "tag"),
        ({"tag": ""}, "tag"),
        ({"tag": "x", "color": "red"}, "color"),
        ({"tag": "x", "color": "#12345"}, "color"),
        ({"tag": "x", "color": 123456}, "color"),
    ):
        bad_data(await api.call("POST", "/v1/tag", wrong), field)


# -- surveys ---------------------------------------------------------------------------------


async def test_surveys_get_and_page_from_one(api: Api) -> None:
    """Seeded surveys are read by id and paged with limit and page (from 1), newest first."""
    survey = await api.ok("GET", "/v1/survey/800001")
    assert (survey["name"], survey["type"]) == ("Net Promoter", "nps")
    assert set(survey) == {"id", "name", "type", "question", "created", "updated"}
    first = await api.ok("POST", "/v1/surveys", {"limit": 2, "page": 1})
    second = await api.ok("POST", "/v1/surveys", {"limit": 2, "page": 2})
    assert [s["id"] for s in first + second] == [800003, 800002, 800001]
    assert await api.ok("POST", "/v1/surveys", {"limit": 2, "page": 3}) == []
    assert len(await api.ok("POST", "/v1/surveys")) == 3
    bad_data(await api.call("POST", "/v1/surveys", {"page": 0}), "page")
    not_found(await api.call("GET", "/v1/survey/800004"))


# -- users -----------------------------------------------------------------------------------


async def test_users_get_reads_a_json_body_on_get(api: Api) -> None:
    """GET /v1/users/get matches memberships by the phones and emails in its JSON body."""
    found = await api.ok(
        "GET", "/v1/users/get", {"phone": ["14155550108"], "email": ["MIA@sandbox.example"]}
    )
    assert [u["id"] for u in found["memberships"]] == [8, 9]
    adam = found["memberships"][0]
    assert set(adam) == {
        "id", "phone", "name", "email", "role_id", "team_id", "created_at", "updated_at",
        "user_created_at", "user_updated_at",
    }  # fmt: skip
    assert (adam["name"], adam["role_id"], adam["team_id"]) == ("Adam Admin", 1, 1001)
    assert await api.ok("GET", "/v1/users/get", {"email": ["nobody@example.com"]}) == {
        "memberships": []
    }
    bad_data(await api.call("GET", "/v1/users/get"), "phone")
    bad_data(await api.call("GET", "/v1/users/get", {"phone": "14155550108"}), "phone")
    bad_data(await api.call("GET", "/v1/users/get", {"phone": ["+14155550108"]}), "phone")
    bad_data(await api.call("GET", "/v1/users/get", {"email": ["nope"]}), "email")


async def test_users_update_changes_names_and_roles(api: Api, sandbox: Sandbox) -> None:
    """POST /v1/users/update changes the fields sent, keeps /v1/team in step, and is atomic."""
    answer = await api.ok(
        "POST",
        "/v1/users/update",
        {"users": [{"id": 9, "first_name": "Mia", "last_name": "Manager", "role_id": 1}]},
    )
    (mia,) = answer["memberships"]
    assert (mia["id"], mia["name"], mia["role_id"]) == (9, "Mia Manager", 1)
    team = await api.ok("GET", "/v1/team")
    assert team["members"][2] == {"id": 9, "name": "Mia Manager", "role": "admin"}
    await api.ok("POST", "/v1/users/update", {"users": [{"id": 9, "last_name": "Member"}]})
    assert (await api.ok("GET", "/v1/team"))["members"][2]["name"] == "Mia Member"
    for users, field in (
        ([{"id": 8, "first_name": "Changed"}, {"id": 99}], "id"),
        ([{"id": 8, "role_id": 3}], "role_id"),
        ([{"id": 8, "first_name": ""}], "first_name"),
        ([{"first_name": "x"}], "id"),
        (["8"], "users"),
        ([], "users"),
    ):
        bad_data(await api.call("POST", "/v1/users/update", {"users": users}), field)
    assert sandbox.state.users[8].first == "Adam"
    bad_data(await api.call("POST", "/v1/users/update", {}), "users")
