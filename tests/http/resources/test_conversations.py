from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from heymarket_async import Acknowledgement, Conversation, HeymarketClient
from heymarket_async.errors import NetworkError, RequestValidationError, ServerError

from ...helpers import MockApi

LIST = "/v1/conversations"
PHONE = "15105553344"
T0 = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def at(minutes: int) -> datetime:
    return T0 - timedelta(minutes=minutes)


def convo(id_: int, updated: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "updated": updated.isoformat().replace("+00:00", "Z"), **extra}


async def test_iter_all_follows_the_updated_cursor_and_dedupes(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Pages follow the last `updated` as `date`, keep the filters, drop repeats, end on []."""
    mock_api.add("POST", LIST, payload=[convo(30, at(0)), convo(29, at(1)), convo(28, at(2))])
    mock_api.add("POST", LIST, payload=[convo(28, at(2)), convo(27, at(3))])
    mock_api.add("POST", LIST, payload=[])
    walk = client.conversations.iter_all(user_id=7, inboxes=[42], closed=False)
    ids = [c.id async for c in walk]
    assert ids == [30, 29, 28, 27]
    filters = {"inboxes": [42], "closed": False}
    assert [sent_json(c) for c in mock_api.calls("POST", LIST)] == [
        {"id": 7, "filters": filters},
        {"id": 7, "filters": filters, "date": at(2).isoformat()},
        {"id": 7, "filters": filters, "date": at(3).isoformat()},
    ]


async def test_iter_all_reads_conversation_fields(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Listed conversations are full Conversation models, read leniently."""
    item = convo(30, at(0), inbox=42, target=PHONE, status="open", snooze_till="", extra=1)
    mock_api.add("POST", LIST, payload={"conversations": [item]})
    mock_api.add("POST", LIST, payload=[])
    [found] = [c async for c in client.conversations.iter_all(user_id=7, inboxes=[42])]
    assert found == Conversation(id=30, inbox=42, target=PHONE, status="open", updated=at(0))


async def test_iter_all_walks_through_equal_timestamps(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """At a tie the same cursor is re-requested while new ids come, and each id is yielded once."""
    mock_api.add("POST", LIST, payload=[convo(30, at(0)), convo(29, at(1)), convo(28, at(1))])
    mock_api.add("POST", LIST, payload=[convo(29, at(1)), convo(28, at(1)), convo(27, at(1))])
    mock_api.add("POST", LIST, payload=[convo(28, at(1)), convo(27, at(1))])
    ids = [c.id async for c in client.conversations.iter_all(user_id=7, inboxes=[42])]
    assert ids == [30, 29, 28, 27]
    dates = [sent_json(c).get("date") for c in mock_api.calls("POST", LIST)]
    assert dates == [None, at(1).isoformat(), at(1).isoformat()]


async def test_iter_all_never_loops_on_a_server_that_ignores_the_cursor(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A server that repeats the first page forever costs two requests, not an endless walk."""
    mock_api.add("POST", LIST, payload=[convo(30, at(0)), convo(29, at(1))], repeat=True)
    ids = [c.id async for c in client.conversations.iter_all(user_id=7, inboxes=[42])]
    assert ids == [30, 29]
    assert len(mock_api.calls("POST", LIST)) == 2


async def test_iter_all_honours_before_limit_and_max_pages(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """`before` is the first cursor, `limit` is sent on every page and max_pages bounds the walk."""
    mock_api.add("POST", LIST, payload=[convo(9, at(10))], repeat=True)
    walk = client.conversations.iter_all(
        user_id=7, inboxes=[42, 43], unread=True, before=at(5), limit=1, max_pages=1
    )
    assert [c.id async for c in walk] == [9]
    [call] = mock_api.calls("POST", LIST)
    assert sent_json(call) == {
        "id": 7,
        "filters": {"inboxes": [42, 43], "unread": True},
        "date": at(5).isoformat(),
        "limit": 1,
    }


async def test_iter_all_validates_before_any_request(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Bad arguments fail at the call, and a valid walk requests nothing until iterated."""
    with pytest.raises(RequestValidationError) as info:
        client.conversations.iter_all(user_id=7, inboxes=[])
    assert info.value.field == "inboxes"
    with pytest.raises(RequestValidationError) as info:
        client.conversations.iter_all(user_id=7, inboxes=[42], max_pages=0)
    assert info.value.field == "max_pages"
    walk = client.conversations.iter_all(user_id=7, inboxes=[42])
    await walk.aclose()
    assert mock_api.mocked.requests == {}


@pytest.mark.parametrize(("payload", "expected"), [("1204", 1204), ("0", 0), (17, 17)])
async def test_count_reads_the_json_string(
    client: HeymarketClient, mock_api: MockApi, payload: Any, expected: int
) -> None:
    """Count posts `{}` and returns the JSON-string count as an int."""
    mock_api.add("POST", "/v1/conversations/count", payload=payload)
    assert await client.conversations.count() == expected
    [call] = mock_api.calls("POST", "/v1/conversations/count")
    assert sent_json(call) == {}


async def test_count_before_sends_the_date(client: HeymarketClient, mock_api: MockApi) -> None:
    """Count with `before` sends it as the RFC 3339 `date`."""
    mock_api.add("POST", "/v1/conversations/count", payload="3")
    assert await client.conversations.count(before=at(60)) == 3
    [call] = mock_api.calls("POST", "/v1/conversations/count")
    assert sent_json(call) == {"date": "2026-04-16T11:00:00+00:00"}


async def test_get_reads_a_bare_or_wrapped_conversation(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Get reads the Conversation object, also inside a {"conversation": ...} wrapper."""
    mock_api.add("GET", "/v1/conversations/900", payload={"conversation": convo(900, at(0))})
    mock_api.add("GET", "/v1/conversations/901", payload=convo(901, at(0), members=None))
    assert (await client.conversations.get(900)).id == 900
    assert (await client.conversations.get(901)).members == ()


@pytest.mark.parametrize(
    ("action", "target", "answer"),
    [
        ("open", {"chat_id": 900}, "ok"),
        ("close", {"target": PHONE}, "ok"),
        ("read", {"target": PHONE}, "Marked as Read"),
        ("unread", {"targets": [PHONE, "15105550002"]}, ""),
    ],
)
async def test_actions_post_their_body_and_read_the_bare_string(
    client: HeymarketClient, mock_api: MockApi, action: str, target: dict[str, Any], answer: str
) -> None:
    """Each state action posts inbox, user and target and reads the bare-string answer."""
    mock_api.add("POST", f"/v1/conversations/{action}", payload=answer, request_id="req-9")
    ack = await getattr(client.conversations, action)(inbox_id=42, user_id=7, **target)
    assert ack == Acknowledgement(message=answer)
    assert ack.request_id == "req-9"
    [call] = mock_api.calls("POST", f"/v1/conversations/{action}")
    assert sent_json(call) == {"inbox_id": 42, "user_id": 7, **target}


async def test_empty_answer_is_an_acknowledgement_without_text(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A 2xx with an empty body is still a success, with no message."""
    mock_api.add("POST", "/v1/conversations/close", body="")
    ack = await client.conversations.close(inbox_id=42, user_id=7, chat_id=900)
    assert ack == Acknowledgement(message=None)


async def test_state_actions_are_retried_after_an_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Closing twice has the effect of closing once, so a 502 is retried."""
    mock_api.add("POST", "/v1/conversations/close", status=502)
    mock_api.add("POST", "/v1/conversations/close", payload="ok")
    ack = await client.conversations.close(inbox_id=42, user_id=7, chat_id=900)
    assert ack.message == "ok"
    assert len(mock_api.calls("POST", "/v1/conversations/close")) == 2


async def test_reassign_posts_both_owners(client: HeymarketClient, mock_api: MockApi) -> None:
    """Reassign posts the current owner as user_id and the new one as reassign_id."""
    mock_api.add("POST", "/v1/conversations/reassign", payload="ok")
    ack = await client.conversations.reassign(inbox_id=42, user_id=7, reassign_id=8, target=PHONE)
    assert ack.message == "ok"
    [call] = mock_api.calls("POST", "/v1/conversations/reassign")
    assert sent_json(call) == {"inbox_id": 42, "user_id": 7, "reassign_id": 8, "target": PHONE}


async def test_transfer_posts_both_ids(client: HeymarketClient, mock_api: MockApi) -> None:
    """Transfer posts the conversation and the destination inbox."""
    mock_api.add("POST", "/v1/conversations/transfer", payload="ok")
    await client.conversations.transfer(900, transfer_inbox_id=43)
    [call] = mock_api.calls("POST", "/v1/conversations/transfer")
    assert sent_json(call) == {"conversation_id": 900, "transfer_inbox_id": 43}


@pytest.mark.parametrize(
    "failure", [{"status": 502}, {"exception": aiohttp.ServerDisconnectedError()}]
)
@pytest.mark.parametrize("action", ["reassign", "transfer"])
async def test_reassign_and_transfer_are_not_resent_after_an_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi, failure: dict[str, Any], action: str
) -> None:
    """A move that may have happened is reported, since a repeat would fail and hide it."""
    mock_api.add("POST", f"/v1/conversations/{action}", **failure)
    calls = {
        "reassign": lambda: client.conversations.reassign(
            inbox_id=42, user_id=7, reassign_id=8, target=PHONE
        ),
        "transfer": lambda: client.conversations.transfer(900, transfer_inbox_id=43),
    }
    with pytest.raises((ServerError, NetworkError)):
        await calls[action]()
    assert len(mock_api.calls("POST", f"/v1/conversations/{action}")) == 1


async def test_invalid_actions_send_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """Target mistakes and bad ids are refused before any request."""
    with pytest.raises(RequestValidationError, match="got none"):
        await client.conversations.open(inbox_id=42, user_id=7)
    with pytest.raises(RequestValidationError, match="exactly one"):
        await client.conversations.read(inbox_id=42, user_id=7)
    with pytest.raises(RequestValidationError, match=r"E\.164"):
        await client.conversations.reassign(
            inbox_id=42, user_id=7, reassign_id=8, target="+1 510 555 3344"
        )
    with pytest.raises(RequestValidationError):
        await client.conversations.transfer(0, transfer_inbox_id=43)
    with pytest.raises(RequestValidationError):
        await client.conversations.get(0)
    with pytest.raises(RequestValidationError):
        await client.conversations.count(before=datetime(2026, 4, 16))
    assert mock_api.mocked.requests == {}
