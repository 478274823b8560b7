"""The sandbox server itself, driven by a raw aiohttp client: auth, validation, state."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import attrs
import pytest

from heymarket_async.sandbox import ApiFailure, Call, LedgerKind, Route, Sandbox, SandboxState

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a quarter-hour boundary
PHONE = "15105550199"


class FakeClock:
    """A settable wall clock for the sandbox."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@attrs.frozen
class Reply:
    status: int
    body: Any
    headers: Any


class Api:
    """A raw HTTP client for the sandbox, authenticated with a fresh JWT by default."""

    def __init__(self, session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.session = session
        self.sandbox = sandbox

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if headers is None:
            headers = self.sandbox.auth_headers()
        async with self.session.request(
            method, self.sandbox.url + path, json=json, params=params, headers=headers
        ) as response:
            text = await response.text()
            body = await response.json() if "json" in response.content_type else text
            return Reply(response.status, body, response.headers)

    async def send(self, **body: Any) -> Reply:
        return await self.call("POST", "/v1/message/send", json={"inbox_id": 42, **body})

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = await self.call(method, path, **kwargs)
        assert reply.status == 200, reply
        return reply.body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, clock=clock) as sb:
        yield sb


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, sandbox)


def bad_data(reply: Reply, field: str) -> str:
    """Assert a 400 bad_data naming ``field``; return the reason."""
    assert reply.status == 400, reply
    assert reply.body["error_code"] == "bad_data"
    message = reply.body["message"]
    assert message.startswith(f"{field}: "), message
    return str(message)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


# -- auth ---------------------------------------------------------------------------------


async def test_fresh_jwt_and_api_key_are_accepted(api: Api, sandbox: Sandbox) -> None:
    """A JWT signed with ID||KEY and the legacy API key both authenticate."""
    assert (await api.call("GET", "/v1/team")).status == 200
    key = {"Authorization": f"Bearer {sandbox.api_key}"}
    assert (await api.call("GET", "/v1/team", headers=key)).status == 200
    assert sandbox.stats.jwt_tokens_seen == 1
    assert sandbox.stats.auth_failures == 0


async def test_basic_auth_with_the_api_key_is_accepted(api: Api, sandbox: Sandbox) -> None:
    """HTTP Basic with the API key as user name and no password authenticates (older docs)."""
    encoded = base64.b64encode(f"{sandbox.api_key}:".encode()).decode()
    headers = {"Authorization": f"Basic {encoded}"}
    assert (await api.call("GET", "/v1/inboxes", headers=headers)).status == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_credentials"),
        ({"Authorization": "Bearer"}, "invalid_credentials"),
        ({"Authorization": "Token abc"}, "invalid_credentials"),
        ({"Authorization": "Bearer not-a-jwt-nor-the-key"}, "invalid_credentials"),
        ({"Authorization": "Basic Ym9ndXM6"}, "invalid_credentials"),
    ],
)
async def test_missing_or_unknown_credentials_get_401(
    api: Api, sandbox: Sandbox, headers: dict[str, str], code: str
) -> None:
    """A missing header, a wrong scheme or an unknown token is refused with a JSON 401."""
    reply = await api.call("GET", "/v1/team", headers=headers)
    assert reply.status == 401
    assert reply.body["error_code"] == code
    assert reply.headers["X-Request-Id"]
    assert sandbox.stats.auth_failures == 1


async def test_jwt_with_a_bad_signature_gets_401(api: Api, sandbox: Sandbox) -> None:
    """A JWT whose signature does not verify with ID||KEY is refused."""
    token = sandbox.mint_jwt()
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    reply = await api.call("GET", "/v1/team", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status == 401
    assert reply.body["error_code"] == "invalid_credentials"


async def test_jwt_with_another_issuer_gets_401(api: Api, sandbox: Sandbox) -> None:
    """A correctly signed JWT whose iss is not the Secret ID is refused."""
    token = sandbox.mint_jwt(issuer="someone-else")
    reply = await api.call("GET", "/v1/team", headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 401
    assert "iss" in reply.body["message"]


async def test_jwt_older_than_five_minutes_gets_401(api: Api, sandbox: Sandbox) -> None:
    """A JWT whose iat is more than 300 s old is refused as expired."""
    reply = await api.call("GET", "/v1/team", headers=sandbox.auth_headers(iat=NOW - 301))
    assert reply.status == 401
    assert reply.body["error_code"] == "token_expired"
    assert (
        await api.call("GET", "/v1/team", headers=sandbox.auth_headers(iat=NOW - 299))
    ).status == 200


async def test_cached_jwt_is_aged_on_every_use(
    api: Api, sandbox: Sandbox, clock: FakeClock
) -> None:
    """The same token is accepted, then refused once the sandbox clock passes its 300 s."""
    headers = sandbox.auth_headers()
    assert (await api.call("GET", "/v1/team", headers=headers)).status == 200
    clock.now += 300
    assert (await api.call("GET", "/v1/team", headers=headers)).status == 200
    clock.now += 1.5
    assert (await api.call("GET", "/v1/team", headers=headers)).status == 401


async def test_jwt_from_the_future_gets_401(api: Api, sandbox: Sandbox) -> None:
    """A JWT whose iat is beyond the allowed skew in the future is refused; small skew passes."""
    reply = await api.call("GET", "/v1/team", headers=sandbox.auth_headers(iat=NOW + 31))
    assert reply.status == 401
    assert "future" in reply.body["message"]
    assert (
        await api.call("GET", "/v1/team", headers=sandbox.auth_headers(iat=NOW + 29))
    ).status == 200


async def test_distinct_jwts_are_counted(api: Api, sandbox: Sandbox) -> None:
    """Each distinct accepted token counts once, however often it is used."""
    first = sandbox.auth_headers(iat=NOW - 10)
    for _ in range(3):
        await api.ok("GET", "/v1/inboxes", headers=first)
    await api.ok("GET", "/v1/inboxes", headers=sandbox.auth_headers(iat=NOW - 5))
    assert sandbox.stats.jwt_tokens_seen == 2


# -- routing, request ids, rate limit ------------------------------------------------------


async def test_every_answer_carries_a_unique_request_id(api: Api) -> None:
    """200, 400, 401, 404 and 405 answers all carry distinct X-Request-Id values."""
    replies = [
        await api.call("GET", "/v1/inboxes"),
        await api.send(text="no target"),
        await api.call("GET", "/v1/inboxes", headers={}),
        await api.call("GET", "/v1/nothing-here"),
        await api.call("DELETE", "/v1/inboxes"),
    ]
    assert [r.status for r in replies] == [200, 400, 401, 404, 405]
    ids = [r.headers["X-Request-Id"] for r in replies]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)
    assert replies[4].headers["Allow"] == "GET"


async def test_unknown_path_id_is_404(api: Api) -> None:
    """A path id that does not exist (or is not a number) answers 404 not_found."""
    for path in ("/v1/schedule/123", "/v1/schedule/abc", "/v2/lists/9"):
        reply = await api.call("GET" if "schedule" in path else "DELETE", path)
        assert reply.status == 404, path
        assert reply.body["error_code"] == "not_found"


async def test_invalid_json_body_is_400(api: Api) -> None:
    """A body that is not JSON, or not an object, is bad data."""
    headers = {**api.sandbox.auth_headers(), "Content-Type": "application/json"}
    async with api.session.post(
        api.sandbox.url + "/v1/message/send", data=b"{nope", headers=headers
    ) as response:
        assert response.status == 400
        assert (await response.json())["message"] == "body: not valid JSON"
    bad_data(await api.call("POST", "/v1/message/send", json=[1, 2]), "body")


async def test_rate_limit_answers_429_with_retry_after(clock: FakeClock) -> None:
    """Beyond the per-minute limit the sandbox answers 429 rate_limited with Retry-After."""
    async with Sandbox(rate_limit_per_minute=3, clock=clock) as sb, aiohttp.ClientSession() as s:
        api = Api(s, sb)
        assert (await api.call("GET", "/v1/inboxes", headers={})).status == 401  # not counted
        statuses = [(await api.call("GET", "/v1/inboxes")).status for _ in range(3)]
        assert statuses == [200, 200, 200]
        reply = await api.call("GET", "/v1/team")
        assert reply.status == 429
        assert reply.body["error_code"] == "rate_limited"
        assert 1 <= int(reply.headers["Retry-After"]) <= 60
        assert sb.stats.rate_limited == 1
        sb.retry_after_header = False
        reply = await api.call("GET", "/v1/team")
        assert reply.status == 429
        assert "Retry-After" not in reply.headers


async def test_rate_limit_window_slides(clock: FakeClock) -> None:
    """Once the oldest request leaves the window, requests are admitted again."""
    async with (
        Sandbox(rate_limit_per_minute=2, rate_limit_window=0.2, clock=clock) as sb,
        aiohttp.ClientSession() as s,
    ):
        api = Api(s, sb)
        assert [(await api.call("GET", "/v1/team")).status for _ in range(3)] == [200, 200, 429]
        await asyncio.sleep(0.25)
        assert (await api.call("GET", "/v1/team")).status == 200
        sb.rate_limit_per_minute = None
        assert [(await api.call("GET", "/v1/team")).status for _ in range(5)] == [200] * 5


# -- team and inboxes ----------------------------------------------------------------------


async def test_team_and_inboxes_have_the_documented_shape(api: Api) -> None:
    """GET /v1/team is a Team object; GET /v1/inboxes is a bare array of Inbox objects."""
    team = await api.ok("GET", "/v1/team")
    assert set(team) == {"id", "name", "list_size", "members"}
    assert team["list_size"] == 10_000
    assert {m["id"] for m in team["members"]} == {7, 8, 9}
    assert all(set(m) == {"id", "name", "role"} for m in team["members"])
    inboxes = await api.ok("GET", "/v1/inboxes")
    assert isinstance(inboxes, list)
    assert [i["id"] for i in inboxes] == [42, 43, 44]
    main = inboxes[0]
    assert {"id", "name", "phone", "phones", "members", "invited", "team"} <= set(main)
    assert main["members"] == [7, 8, 9]
    assert main["team"] == team["id"]


# -- sending -------------------------------------------------------------------------------


async def test_individual_send_is_stored_and_ledgered(api: Api, sandbox: Sandbox) -> None:
    """A single send answers {id, date}, lands in history and in the ledger."""
    sent = await api.ok(
        "POST",
        "/v1/message/send",
        json={
            "inbox_id": 42,
            "creator_id": 8,
            "phone_number": PHONE,
            "text": "Hi",
            "local_id": "a1",
        },
    )
    assert set(sent) == {"id", "date"}
    assert sent["date"].startswith("2027-01-15T08:00:00")
    entry = sandbox.ledger[0]
    assert (entry.kind, entry.message_id, entry.recipient, entry.local_id, entry.inbox_id) == (
        LedgerKind.INDIVIDUAL,
        sent["id"],
        PHONE,
        "a1",
        42,
    )
    history = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE, "inboxID": "42"})
    assert len(history) == 1
    message = history[0]
    assert message["id"] == sent["id"]
    assert (message["local_id"], message["status"], message["user"]) == ("a1", "sent", 8)
    assert message["conversation"]["inbox"] == 42
    assert message["conversation"]["target"] == PHONE
    assert message["broadcast_id"] is None


async def test_media_send_is_mms_with_a_gallery_url(api: Api) -> None:
    """A send with media_url answers a gallery_url and is stored as MMS."""
    sent = await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "phone_number": PHONE, "media_url": "https://example.com/a.png"},
    )
    assert sent["gallery_url"]
    (message,) = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE})
    assert (message["type"], message["media"]) == ("mms", "https://example.com/a.png")


async def test_merge_fields_use_the_contact_names(api: Api) -> None:
    """{{first_name}} and {{last_name}} are filled from the contact; other tokens stay."""
    await api.send(phone_number="15105550100", text="Hi {{first_name}} {{ last_name }} {{x}}")
    (message,) = await api.ok("GET", "/v1/messages", params={"phoneNumber": "15105550100"})
    assert message["text"] == "Hi Ada Lovelace {{x}}"


async def test_reply_by_chat_id_goes_into_the_same_conversation(api: Api, sandbox: Sandbox) -> None:
    """chat_id sends into an existing conversation; an unknown one is bad data."""
    await api.send(phone_number=PHONE, text="first")
    (first,) = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE})
    chat_id = first["conversation"]["id"]
    await api.ok("POST", "/v1/message/send", json={"inbox_id": 42, "chat_id": chat_id, "text": "2"})
    history = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE})
    assert [m["text"] for m in history] == ["2", "first"]
    assert sandbox.ledger_counts_by_recipient() == {PHONE: 2}
    bad_data(await api.send(chat_id=999, text="x"), "chat_id")
    bad_data(
        await api.call(
            "POST", "/v1/message/send", json={"inbox_id": 43, "chat_id": chat_id, "text": "x"}
        ),
        "chat_id",
    )


async def test_group_mms_creates_one_group_message(api: Api, sandbox: Sandbox) -> None:
    """targets with 2+ numbers create one message in one group conversation."""
    targets = ["15105550302", "15105550301"]
    sent = await api.ok(
        "POST", "/v1/message/send", json={"inbox_id": 42, "targets": targets, "text": "all"}
    )
    (entry,) = sandbox.ledger
    assert entry.kind is LedgerKind.GROUP
    assert entry.message_id == sent["id"]
    assert entry.recipients == ("15105550301", "15105550302")
    assert sandbox.ledger_counts_by_recipient() == {"15105550301": 1, "15105550302": 1}
    (message,) = await api.ok("POST", "/v1/messages/all", json={})
    assert message["conversation"]["type"] == "group"


async def test_private_note_is_ledgered_as_a_note(api: Api, sandbox: Sandbox) -> None:
    """private: true stores an internal note, kept apart from real sends in the ledger."""
    await api.send(phone_number=PHONE, text="note", private=True, author="Call summary")
    (entry,) = sandbox.ledger
    assert entry.kind is LedgerKind.PRIVATE_NOTE
    assert sandbox.ledger_counts_by_recipient(kinds=[LedgerKind.INDIVIDUAL]) == {}
    (message,) = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE})
    assert (message["private"], message["author"]) == (True, "Call summary")


async def test_opted_out_number_is_refused(api: Api, sandbox: Sandbox) -> None:
    """A send to an opted-out number answers 400 unsubscribed_number and sends nothing."""
    sandbox.opt_out(PHONE)
    reply = await api.send(phone_number=PHONE, text="x")
    assert (reply.status, reply.body["error_code"]) == (400, "unsubscribed_number")
    assert len(sandbox.ledger) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "no target"}, "phone_number"),
        ({"phone_number": PHONE, "chat_id": 5, "text": "x"}, "chat_id"),
        ({"phone_number": PHONE, "targets": [PHONE, "15105550111"], "text": "x"}, "targets"),
        ({"phone_number": "+15105550199", "text": "x"}, "phone_number"),
        ({"phone_number": "05105550199", "text": "x"}, "phone_number"),
        ({"phone_number": "1510555", "text": "x"}, "phone_number"),
        ({"phone_number": "1234567890123456", "text": "x"}, "phone_number"),
        ({"phone_number": 15105550199, "text": "x"}, "phone_number"),
        ({"list_id": 700001, "text": "x"}, "local_id"),
        ({"phone_number": PHONE}, "text"),
        ({"phone_number": PHONE, "text": ""}, "text"),
        ({"targets": [PHONE], "text": "x"}, "targets"),
        ({"targets": [PHONE, "+15105550111"], "text": "x"}, "targets"),
        ({"phone_number": PHONE, "text": "x", "inbox_id": "42"}, "inbox_id"),
        ({"phone_number": PHONE, "text": "x", "inbox_id": 99}, "inbox_id"),
        ({"phone_number": PHONE, "text": "x", "inbox_id": 44}, "inbox_id"),
        ({"phone_number": PHONE, "text": "x", "creator_id": 8, "inbox_id": 43}, "creator_id"),
        ({"phone_number": PHONE, "text": "x", "local_id": ""}, "local_id"),
        ({"list_id": 5, "local_id": "b", "text": "x"}, "list_id"),
    ],
)
async def test_send_validation(
    api: Api, sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    """Each documented send rule answers 400 bad_data naming the field, and sends nothing."""
    reply = await api.call("POST", "/v1/message/send", json={"inbox_id": 42, **body})
    bad_data(reply, field)
    assert len(sandbox.ledger) == 0


async def test_single_send_dedupe_can_be_switched_off(api: Api, sandbox: Sandbox) -> None:
    """A repeated local_id returns the original; with dedupe off it sends again."""
    first = await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "phone_number": PHONE, "text": "x", "local_id": "k"},
    )
    again = await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "phone_number": PHONE, "text": "x", "local_id": "k"},
    )
    assert again == first
    assert len(sandbox.ledger) == 1
    sandbox.dedupe_individual_sends = False
    third = await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "phone_number": PHONE, "text": "x", "local_id": "k"},
    )
    assert third["id"] != first["id"]
    assert sandbox.ledger.duplicates() == {PHONE: 2}
    assert [e.local_id for e in sandbox.ledger.with_local_id("k")] == ["k", "k"]


async def _make_list(api: Api, local_id: str = "list-1", phones: list[str] | None = None) -> int:
    phones = phones if phones is not None else [f"1415555{n:04d}" for n in range(5)]
    created = await api.ok(
        "POST", "/v2/lists", json={"title": "T", "local_id": local_id, "phones": phones}
    )
    return int(created["id"])


async def test_list_broadcast_fans_out_into_history(api: Api, sandbox: Sandbox) -> None:
    """A list broadcast makes one message per member, sharing local_id and broadcast_id."""
    list_id = await _make_list(api)
    sent = await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "list_id": list_id, "local_id": "bc-1", "text": "Hi {{first_name}}"},
    )
    assert set(sent) == {"id", "date"}
    counts = sandbox.ledger_counts_by_recipient()
    assert counts == {f"1415555{n:04d}": 1 for n in range(5)}
    assert {e.kind for e in sandbox.ledger} == {LedgerKind.LIST_BROADCAST}
    assert {e.broadcast_id for e in sandbox.ledger} == {sent["id"]}
    all_messages = await api.ok("POST", "/v1/messages/all", json={})
    assert len(all_messages) == 5
    assert {m["broadcast_id"] for m in all_messages} == {sent["id"]}
    assert {m["local_id"] for m in all_messages} == {"bc-1"}
    one = await api.ok(
        "GET", "/v1/messages", params={"phoneNumber": "14155550003", "inboxID": "42"}
    )
    assert [m["local_id"] for m in one] == ["bc-1"]


async def test_list_broadcast_dedupes_even_with_single_dedupe_off(
    api: Api, sandbox: Sandbox
) -> None:
    """A repeated broadcast local_id returns the original id and sends nothing more."""
    sandbox.dedupe_individual_sends = False
    list_id = await _make_list(api)
    body = {"inbox_id": 42, "list_id": list_id, "local_id": "bc-2", "text": "x"}
    first = await api.ok("POST", "/v1/message/send", json=body)
    second = await api.ok("POST", "/v1/message/send", json=body)
    assert second == first
    assert len(sandbox.ledger) == 5


async def test_broadcast_skips_opted_out_members(api: Api, sandbox: Sandbox) -> None:
    """Opted-out list members get nothing; the others get the broadcast."""
    list_id = await _make_list(api)
    sandbox.opt_out("14155550001")
    await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "list_id": list_id, "local_id": "b", "text": "x"},
    )
    assert "14155550001" not in sandbox.ledger_counts_by_recipient()
    assert len(sandbox.ledger) == 4


# -- history and paging --------------------------------------------------------------------


async def test_history_returns_newest_50_and_pages_by_timestamp(api: Api, clock: FakeClock) -> None:
    """GET /v1/messages gives the 50 newest first; timestamp pages to older ones."""
    for n in range(60):
        clock.now = NOW + n
        await api.send(phone_number=PHONE, text=str(n))
    await api.send(phone_number="15105550111", text="other")  # another thread
    page = await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE, "inboxID": "42"})
    assert [m["text"] for m in page] == [str(n) for n in range(59, 9, -1)]
    older = await api.ok(
        "GET",
        "/v1/messages",
        params={"phoneNumber": PHONE, "inboxID": "42", "timestamp": str(int(NOW + 10))},
    )
    assert [m["text"] for m in older] == [str(n) for n in range(9, -1, -1)]
    assert await api.ok("GET", "/v1/messages", params={"phoneNumber": PHONE, "inboxID": "43"}) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "phoneNumber"),
        ({"phoneNumber": "+15105550199"}, "phoneNumber"),
        ({"phoneNumber": PHONE, "inboxID": "99"}, "inboxID"),
        ({"phoneNumber": PHONE, "timestamp": "yesterday"}, "timestamp"),
        ({"phoneNumber": PHONE, "timestamp": "inf"}, "timestamp"),
    ],
)
async def test_history_validation(api: Api, params: dict[str, str], field: str) -> None:
    """Bad history query parameters answer 400 naming the parameter."""
    bad_data(await api.call("GET", "/v1/messages", params=params), field)


async def test_all_messages_pages_with_a_date_cursor(api: Api, clock: FakeClock) -> None:
    """messages/all walks back with created_at/date cursors without skips or repeats."""
    clock.now = NOW  # every message gets the same clock reading: dates must still be unique
    for n in range(7):
        await api.send(phone_number=f"1510555{n:04d}", text=str(n))
    newest = await api.ok("POST", "/v1/messages/all", json={"limit": 3})
    assert [m["text"] for m in newest] == ["6", "5", "4"]
    seen, cursor_field, body = [], "created_at", {"limit": 3}
    while page := await api.ok("POST", "/v1/messages/all", json=body):
        seen += [m["text"] for m in page]
        cursor_field = "date" if cursor_field == "created_at" else "created_at"
        body = {"limit": 3, cursor_field: page[-1]["date"]}
    assert seen == [str(n) for n in range(6, -1, -1)]
    default = await api.ok("POST", "/v1/messages/all")
    assert len(default) == 7
    ascending = await api.ok(
        "POST", "/v1/messages/all", json={"ascending": True, "limit": 2, "date": newest[2]["date"]}
    )
    assert [m["text"] for m in ascending] == ["5", "6"]


async def test_all_messages_default_limit_and_cap(api: Api, sandbox: Sandbox) -> None:
    """Without a limit a page holds 30; a huge limit is clamped to 200."""
    list_id = await _make_list(api, phones=[f"1415556{n:04d}" for n in range(250)])
    await api.ok(
        "POST",
        "/v1/message/send",
        json={"inbox_id": 42, "list_id": list_id, "local_id": "x", "text": "x"},
    )
    assert len(await api.ok("POST", "/v1/messages/all", json={})) == 30
    assert len(await api.ok("POST", "/v1/messages/all", json={"limit": 10_000})) == 200
    bad_data(await api.call("POST", "/v1/messages/all", json={"limit": 0}), "limit")
    bad_data(await api.call("POST", "/v1/messages/all", json={"date": "last week"}), "date")
    bad_data(await api.call("POST", "/v1/messages/all", json={"order": "size"}), "order")


async def test_count_is_a_json_string(api: Api, clock: FakeClock) -> None:
    """messages/all/count answers the count as a JSON string, honouring the cursor."""
    assert await api.ok("POST", "/v1/messages/all/count", json={}) == "0"
    for n in range(4):
        clock.now = NOW + n
        await api.send(phone_number=PHONE, text=str(n))
    assert await api.ok("POST", "/v1/messages/all/count", json={}) == "4"
    assert await api.ok("POST", "/v1/messages/all/count", json={"date": iso(NOW + 2)}) == "2"


# -- email ---------------------------------------------------------------------------------


async def test_email_send_answers_and_dedupes(api: Api, sandbox: Sandbox) -> None:
    """An email send answers the documented fields; a repeated local_id sends nothing."""
    body = {
        "creator_id": 7,
        "inbox": 44,
        "text": "<p>Hi</p>",
        "raw_text": "Hi",
        "local_id": "mail-1",
        "conv_title": "Hello",
        "targets": ["to:a@example.com,b@example.com", "cc:c@example.com"],
    }
    sent = await api.ok("POST", "/v1/email/send", json=body)
    assert set(sent) == {"id", "convo_id", "queued", "date", "compliance_results"}
    assert sent["queued"] is True
    assert await api.ok("POST", "/v1/email/send", json=body) == sent
    (entry,) = sandbox.ledger
    assert entry.kind is LedgerKind.EMAIL
    assert entry.recipients == ("a@example.com", "b@example.com", "c@example.com")
    reply = await api.ok(
        "POST",
        "/v1/email/send",
        json={"creator_id": 7, "inbox": 44, "text": "re", "convo_id": sent["convo_id"]},
    )
    assert reply["convo_id"] == sent["convo_id"]
    assert len(sandbox.ledger) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targets": ["a@example.com"]}, "targets"),
        ({"targets": ["bcc:a@example.com"]}, "targets"),
        ({"targets": ["cc:a@example.com"]}, "targets"),
        ({"targets": ["to:not-an-address"]}, "targets"),
        ({}, "targets"),
        ({"targets": ["to:a@example.com"], "convo_id": 1}, "convo_id"),
        ({"convo_id": 123}, "convo_id"),
        ({"targets": ["to:a@example.com"], "inbox": 42}, "inbox"),
        ({"targets": ["to:a@example.com"], "creator_id": 9}, "creator_id"),
        ({"targets": ["to:a@example.com"], "text": ""}, "text"),
    ],
)
async def test_email_validation(
    api: Api, sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    """Each email rule answers 400 naming the field, and sends nothing."""
    bad_data(
        await api.call(
            "POST", "/v1/email/send", json={"creator_id": 7, "inbox": 44, "text": "x", **body}
        ),
        field,
    )
    assert len(sandbox.ledger) == 0


# -- lists ---------------------------------------------------------------------------------


async def test_list_create_update_delete(api: Api, sandbox: Sandbox) -> None:
    """Lists are created, changed (replace, add, remove) and deleted as documented."""
    uid = "dc3deb9b-940a-444d-9d0e-8e3087a160e9"
    created = await api.ok(
        "POST",
        "/v2/lists",
        json={
            "title": "April",
            "local_id": uid,
            "phones": ["14155550001", "14155550002"],
            "emails": ["x@example.com"],
        },
    )
    assert (set(created), created["rev"], created["uuid"]) == ({"id", "rev", "uuid"}, 1, uid)
    assert await api.ok("POST", "/v2/lists", json={"title": "Again", "local_id": uid}) == created
    list_id = created["id"]
    record = sandbox.state.lists[list_id]

    def phones() -> list[str | None]:
        return [sandbox.state.contacts[c].phone for c in record.members]

    assert phones() == ["14155550001", "14155550002", None]
    updated = await api.ok(
        "PUT",
        f"/v2/lists/{list_id}",
        json={
            "add_phones": ["14155550003"],
            "remove_phones": ["14155550001"],
            "remove_emails": ["X@example.com"],
            "title": "May",
        },
    )
    assert updated == {"id": list_id, "rev": 2}
    assert phones() == ["14155550002", "14155550003"]
    assert record.title == "May"
    ada = sandbox.state.contacts_by_phone["15105550100"].id
    await api.ok("PUT", f"/v2/lists/{list_id}", json={"contacts": [ada]})
    assert phones() == ["15105550100"]
    deleted = await api.ok("DELETE", f"/v2/lists/{list_id}", json={"contact_ids": [ada]})
    assert deleted == {"deleted": True, "id": list_id}
    assert list_id not in sandbox.state.lists
    assert (await api.call("PUT", f"/v2/lists/{list_id}", json={"title": "x"})).status == 404
    assert (await api.call("DELETE", f"/v2/lists/{list_id}")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"local_id": "l"}, "title"),
        ({"title": " ", "local_id": "l"}, "title"),
        ({"title": "t"}, "local_id"),
        ({"title": "t", "local_id": "l", "phones": ["+14155550001"]}, "phones"),
        ({"title": "t", "local_id": "l", "emails": ["nope"]}, "emails"),
        ({"title": "t", "local_id": "l", "contacts": [1]}, "contacts"),
        ({"title": "t", "local_id": "l", "contacts": "1"}, "contacts"),
    ],
)
async def test_list_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    """List creation needs title and local_id, and valid members."""
    bad_data(await api.call("POST", "/v2/lists", json=body), field)


async def test_list_size_is_enforced(api: Api, sandbox: Sandbox) -> None:
    """A list may not grow beyond the team's list_size."""
    sandbox.list_size = 3
    phones = [f"1415555{n:04d}" for n in range(4)]
    bad_data(
        await api.call("POST", "/v2/lists", json={"title": "t", "local_id": "l", "phones": phones}),
        "phones",
    )
    list_id = await _make_list(api, phones=phones[:3])
    bad_data(
        await api.call("PUT", f"/v2/lists/{list_id}", json={"add_phones": phones[3:]}), "add_phones"
    )
    assert (await api.ok("GET", "/v1/team"))["list_size"] == 3


# -- schedules -----------------------------------------------------------------------------


def schedule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inbox_id": 42,
        "execute_at": iso(NOW + 30 * 60),
        "content": {"text": "Reminder"},
        "phone_number": PHONE,
        "local_id": "s-1",
        "user_id": 8,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def test_schedule_crud(api: Api, sandbox: Sandbox) -> None:
    """Schedules are created, read (execute, not execute_at), updated and deleted."""
    created = await api.ok("POST", "/v1/schedule", json=schedule_body())
    assert set(created) == {"id"}
    sid = created["id"]
    assert await api.ok("POST", "/v1/schedule", json=schedule_body()) == created  # local_id dedupe
    got = await api.ok("GET", f"/v1/schedule/{sid}")
    assert got["id"] == sid
    assert got["execute"] == "2027-01-15T08:30:00Z"
    assert "execute_at" not in got
    assert (got["inbox_id"], got["local_id"], got["user_id"], got["rev"]) == (42, "s-1", 8, 1)
    assert got["meta"]["content"]["text"] == "Reminder"
    assert got["meta"]["content"]["to"] == PHONE
    assert await api.ok(
        "PUT",
        f"/v1/schedule/{sid}",
        json={"execute_at": iso(NOW + 45 * 60), "content": {"text": "Later"}},
    ) == {"id": sid}
    got = await api.ok("GET", f"/v1/schedule/{sid}")
    assert (got["execute"], got["meta"]["content"]["text"], got["rev"]) == (
        "2027-01-15T08:45:00Z",
        "Later",
        2,
    )
    assert await api.ok("DELETE", f"/v1/schedule/{sid}") == "ok"
    assert (await api.call("GET", f"/v1/schedule/{sid}")).status == 404
    assert (await api.call("PUT", f"/v1/schedule/{sid}", json={})).status == 404
    assert (await api.call("DELETE", f"/v1/schedule/{sid}")).status == 404
    assert len(sandbox.ledger) == 0  # scheduling is not sending


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"execute_at": None}, "execute_at"),
        ({"execute_at": iso(NOW + 10 * 60)}, "execute_at"),  # only 10 min ahead
        ({"execute_at": iso(NOW + 31 * 60)}, "execute_at"),  # :31
        ({"execute_at": iso(NOW + 30 * 60 + 1)}, "execute_at"),  # seconds
        ({"execute_at": iso(NOW - 15 * 60)}, "execute_at"),  # past
        ({"execute_at": "2027-01-15T09:00:00"}, "execute_at"),  # no offset
        ({"execute_at": "soon"}, "execute_at"),
        ({"content": None}, "content"),
        ({"content": {"text": ""}}, "content"),
        ({"content": {"text": "x", "to": "+1510"}}, "content.to"),
        ({"phone_number": None}, "phone_number"),
        ({"list_id": 700001}, "list_id"),
        ({"phone_number": None, "list_id": 5}, "list_id"),
        ({"phone_number": None, "conversation_id": 5}, "conversation_id"),
        ({"phone_number": None, "targets": []}, "targets"),
        ({"phone_number": "+15105550199"}, "phone_number"),
        ({"inbox_id": 99}, "inbox_id"),
        ({"user_id": 99}, "user_id"),
    ],
)
async def test_schedule_validation(
    api: Api, sandbox: Sandbox, overrides: dict[str, Any], field: str
) -> None:
    """Schedule rules: 15-minute boundary at least 15 minutes ahead, content, one target."""
    bad_data(await api.call("POST", "/v1/schedule", json=schedule_body(**overrides)), field)
    assert sandbox.state.schedules == {}


async def test_schedule_exactly_fifteen_minutes_ahead_is_allowed(api: Api) -> None:
    """The earliest allowed time is the boundary exactly 15 minutes from now."""
    reply = await api.call("POST", "/v1/schedule", json=schedule_body(execute_at=iso(NOW + 900)))
    assert reply.status == 200, reply


async def test_schedule_update_can_change_the_target(api: Api, sandbox: Sandbox) -> None:
    """A PUT with a new target family replaces the old one and keeps the rest."""
    sid = (await api.ok("POST", "/v1/schedule", json=schedule_body()))["id"]
    list_id = await _make_list(api)
    await api.ok("PUT", f"/v1/schedule/{sid}", json={"list_id": list_id, "local_id": "s-2"})
    meta = (await api.ok("GET", f"/v1/schedule/{sid}"))["meta"]
    assert (meta["list_id"], meta["phone_number"]) == (list_id, None)
    assert sandbox.state.schedule_by_local_id == {"s-2": sid}
    bad_data(
        await api.call("PUT", f"/v1/schedule/{sid}", json={"execute_at": iso(NOW + 5 * 60)}),
        "execute_at",
    )


async def test_reset_forgets_everything(api: Api, sandbox: Sandbox) -> None:
    """reset() clears data, ledger and counters but keeps URL and credentials."""
    await api.send(phone_number=PHONE, text="x")
    url, key = sandbox.url, sandbox.secret_key
    sandbox.reset()
    assert (len(sandbox.ledger), sandbox.stats.total_requests) == (0, 0)
    assert await api.ok("POST", "/v1/messages/all/count", json={}) == "0"
    assert (sandbox.url, sandbox.secret_key) == (url, key)


async def test_repr_hides_the_secret(sandbox: Sandbox) -> None:
    """Neither the sandbox repr nor its stats show credentials."""
    text = repr(sandbox) + repr(sandbox.stats) + repr(sandbox.faults)
    assert sandbox.secret_key not in text
    assert sandbox.api_key not in text
    assert sandbox.url in text
    assert len(sandbox.secret_key) >= 32


def test_routes_are_the_documented_paths() -> None:
    """The seed endpoints are routed (test_more_api.py checks the full documented set)."""
    keys = Sandbox().route_keys
    assert len(keys) == len(set(keys))
    assert set(keys) >= {
        "GET /v1/team",
        "GET /v1/inboxes",
        "POST /v1/message/send",
        "GET /v1/messages",
        "POST /v1/messages/all",
        "POST /v1/messages/all/count",
        "POST /v1/email/send",
        "POST /v2/lists",
        "PUT /v2/lists/{id}",
        "DELETE /v2/lists/{id}",
        "POST /v1/schedule",
        "GET /v1/schedule/{id}",
        "PUT /v1/schedule/{id}",
        "DELETE /v1/schedule/{id}",
    }
    assert NOW % 900 == 0  # the fake "now" sits on a quarter hour, as the schedule tests assume


def _echo(state: SandboxState, call: Call) -> Any:
    if call.params["name"] == "missing":
        raise ApiFailure.not_found("widget missing")
    return {"name": call.params["name"], "query": dict(call.query), "team": state.team["id"]}


def _broken(state: SandboxState, call: Call) -> Any:
    raise RuntimeError("a bug in a handler")


async def test_extra_routes_extend_the_sandbox(caplog: pytest.LogCaptureFixture) -> None:
    """extra_routes add endpoints with auth, ids and faults; a handler bug is a logged 500."""
    routes = [Route("GET", "/v1/widget/{name}", _echo), Route("POST", "/v1/broken", _broken)]
    async with (
        Sandbox(extra_routes=routes, rate_limit_per_minute=None) as sb,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, sb)
        assert "GET /v1/widget/{name}" in sb.route_keys
        body = await api.ok("GET", "/v1/widget/blue", params={"size": "2"})
        assert body == {"name": "blue", "query": {"size": "2"}, "team": 1001}
        assert (await api.call("GET", "/v1/widget/missing")).status == 404
        assert (await api.call("GET", "/v1/widget/blue", headers={})).status == 401
        reply = await api.call("POST", "/v1/broken", json={})
        assert reply.status == 500
        assert reply.body["error_code"] == "internal_error"
        assert reply.headers["X-Request-Id"] in caplog.text
        assert sb.stats.requests("GET /v1/widget/{name}") == 3
    assert any(
        r.levelname == "ERROR" and r.name == "heymarket_async.sandbox" for r in caplog.records
    )
