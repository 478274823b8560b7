from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from heymarket_async import HeymarketClient, Message, SendMessage
from heymarket_async._reconcile import find_sent
from heymarket_async.errors import (
    ReconciliationError,
    RequestValidationError,
    ServerError,
    UnexpectedResponseError,
)

from ...helpers import CompatClientResponse, MockApi

SEND = "/v1/message/send"
ALL = "/v1/messages/all"
HISTORY = "/v1/messages?inboxID=42&phoneNumber=15105553344"


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def msg(id_: int, when: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "date": iso(when), **extra}


T0 = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 - timedelta(minutes=minutes)


async def test_send_puts_the_exact_body_on_the_wire(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A single send posts exactly the given fields plus one local_id and reads the answer."""
    mock_api.add("POST", SEND, payload={"id": 11, "date": "2026-04-16T10:00:00Z"})
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi", local_id="k-1"
    )
    [call] = mock_api.calls("POST", SEND)
    assert sent_json(call) == {
        "inbox_id": 42,
        "creator_id": 7,
        "phone_number": "15105553344",
        "text": "Hi",
        "local_id": "k-1",
    }
    assert (sent.id, sent.local_id, sent.request_id) == (11, "k-1", "req-test-1")
    assert sent.date == datetime(2026, 4, 16, 10, tzinfo=UTC)


async def test_send_reads_the_message_wrapper(client: HeymarketClient, mock_api: MockApi) -> None:
    """A {"message": {...}} answer is unwrapped and gets the generated local_id."""
    mock_api.add(
        "POST", SEND, payload={"message": {"id": 12, "date": "2026-04-16T10:00:00.123456Z"}}
    )
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi"
    )
    [call] = mock_api.calls("POST", SEND)
    assert sent.id == 12
    assert sent.local_id == sent_json(call)["local_id"]
    assert sent.date == datetime(2026, 4, 16, 10, 0, 0, 123456, tzinfo=UTC)


async def test_send_reads_the_email_like_answer(client: HeymarketClient, mock_api: MockApi) -> None:
    """The {id, convo_id, queued, compliance_results, date} shape is read too."""
    mock_api.add(
        "POST",
        SEND,
        payload={
            "id": 13,
            "convo_id": 900,
            "queued": True,
            "date": "2026-04-16T10:00:00Z",
            "compliance_results": {"ok": True},
        },
    )
    sent = await client.messages.send(inbox_id=42, creator_id=7, chat_id=900, text="Hi")
    assert (sent.convo_id, sent.queued, sent.compliance_results) == (900, True, {"ok": True})


async def test_invalid_send_sends_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """A validation error is raised before any request is made."""
    with pytest.raises(RequestValidationError) as info:
        await client.messages.send(
            inbox_id=42, creator_id=7, phone_number="+1 510 555 3344", text="Hi"
        )
    assert info.value.field == "phone_number"
    with pytest.raises(RequestValidationError):
        await client.messages.send(inbox_id=42, creator_id=7, list_id=5, text="Hi")
    assert mock_api.mocked.requests == {}


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 502, "body": "<html>Bad Gateway</html>"},
        {"status": 500, "payload": {"error": "internal_error"}},
        {"exception": aiohttp.ServerDisconnectedError()},
    ],
)
async def test_ambiguous_failure_reconciles_instead_of_resending(
    client: HeymarketClient, mock_api: MockApi, failure: dict[str, Any]
) -> None:
    """After a 5xx or a disconnect the local_id is looked up and the found message returned."""
    mock_api.add("POST", SEND, **failure)
    mock_api.add(
        "GET",
        HISTORY,
        payload=[
            msg(98, at(1), local_id="k-2", conversation={"id": 900, "inbox": 42}),
            msg(97, at(2), local_id="older"),
        ],
        request_id="req-lookup",
    )
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi", local_id="k-2"
    )
    assert (sent.id, sent.local_id, sent.convo_id) == (98, "k-2", 900)
    assert len(mock_api.calls("POST", SEND)) == 1
    assert len(mock_api.calls("GET", "/v1/messages")) == 1


async def test_absent_after_lookup_resends_with_the_same_local_id(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """When the lookup finds nothing, the retry resends the very same body."""
    mock_api.add("POST", SEND, exception=aiohttp.ServerDisconnectedError())
    mock_api.add("GET", HISTORY, payload=[msg(97, at(2), local_id="someone-else")])
    mock_api.add("POST", SEND, payload={"id": 99})
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi"
    )
    first, second = mock_api.calls("POST", SEND)
    assert sent_json(first) == sent_json(second)
    assert sent.id == 99
    assert sent.local_id == sent_json(first)["local_id"]


async def test_message_in_another_inbox_does_not_count(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A history hit with our local_id but another inbox is not taken for our message."""
    mock_api.add("POST", SEND, status=503)
    mock_api.add(
        "GET",
        HISTORY,
        payload=[msg(50, at(1), local_id="k-3", conversation={"id": 1, "inbox": 43})],
    )
    mock_api.add("POST", SEND, payload={"id": 51})
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi", local_id="k-3"
    )
    assert sent.id == 51
    assert len(mock_api.calls("POST", SEND)) == 2


async def test_broadcast_is_resent_without_lookup(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A list broadcast relies on server dedupe: it is resent with the same local_id, no lookup."""
    mock_api.add("POST", SEND, status=500)
    mock_api.add("POST", SEND, payload={"id": 70})
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, list_id=501, local_id="april-001", text="Hi"
    )
    first, second = mock_api.calls("POST", SEND)
    assert sent_json(first) == sent_json(second)
    assert sent_json(second)["local_id"] == "april-001"
    assert sent.id == 70
    assert not mock_api.calls("POST", ALL)
    assert not mock_api.calls("GET", "/v1/messages")


async def test_chat_send_reconciles_through_team_history(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A reply by chat_id is looked up in team history, newest first."""
    now = datetime.now(UTC)
    mock_api.add("POST", SEND, status=502)
    mock_api.add(
        "POST",
        ALL,
        payload=[msg(200, now, local_id="other"), msg(199, now, local_id="k-4")],
    )
    sent = await client.messages.send(
        inbox_id=42, creator_id=7, chat_id=900, text="Hi", local_id="k-4"
    )
    assert sent.id == 199
    [lookup] = mock_api.calls("POST", ALL)
    assert sent_json(lookup) == {"limit": 200}
    assert len(mock_api.calls("POST", SEND)) == 1


async def test_team_history_lookup_stops_at_old_messages(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """The team-history walk stops at messages older than the send, then the send is resent."""
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    mock_api.add("POST", SEND, exception=aiohttp.ServerDisconnectedError())
    mock_api.add("POST", ALL, payload=[msg(5, long_ago, local_id="x"), msg(4, long_ago)])
    mock_api.add("POST", SEND, payload={"id": 300})
    sent = await client.messages.send(
        inbox_id=42,
        creator_id=7,
        targets=["15105553344", "14155550100"],
        text="Hi all",
        local_id="k-5",
    )
    assert sent.id == 300
    assert len(mock_api.calls("POST", ALL)) == 1
    assert [sent_json(c)["local_id"] for c in mock_api.calls("POST", SEND)] == ["k-5", "k-5"]


async def test_find_sent_out_of_pages_is_undecided(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A lookup that runs out of pages before the first attempt's time says it cannot decide."""
    mock_api.add("POST", ALL, payload=[msg(10, at(1)), msg(9, at(2))])
    mock_api.add("POST", ALL, payload=[msg(8, at(3)), msg(7, at(4))])
    send = SendMessage(inbox_id=42, creator_id=7, chat_id=900, text="Hi", local_id="k-6")
    with pytest.raises(ReconciliationError, match="k-6"):
        await find_sent(client, send, max_pages=2)
    assert len(mock_api.calls("POST", ALL)) == 2


async def test_find_sent_reaching_the_end_of_history_is_absent(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """An empty page after the walk means the send is certainly absent."""
    mock_api.add("POST", ALL, payload=[msg(10, at(1), local_id="a"), msg(9, at(2))])
    mock_api.add("POST", ALL, payload=[])
    send = SendMessage(inbox_id=42, creator_id=7, chat_id=900, text="Hi", local_id="k-6")
    assert await find_sent(client, send) is None
    second = mock_api.calls("POST", ALL)[1]
    assert sent_json(second)["date"] == sent_json(second)["created_at"]


async def test_find_sent_pages_a_full_phone_history(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A full page of 50 is followed by an older page; a short page ends the walk."""
    full = [msg(100 + i, at(i), local_id=f"other-{i}") for i in range(50)]
    mock_api.add("GET", HISTORY, payload=full)
    older = re.compile(r".*/v1/messages\?.*timestamp=.*")
    mock_api.mocked.get(
        older, payload=[msg(1, at(60))], response_class=CompatClientResponse, repeat=True
    )
    send = SendMessage(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="x", local_id="k-9"
    )
    assert await find_sent(client, send) is None
    urls = [str(url) for method, url, _call in mock_api.all_calls() if method == "GET"]
    assert len(urls) == 2
    # The second page asks for messages older than the oldest of the first (49 min back).
    assert f"timestamp={int(at(49).timestamp())}" in urls[1]


async def test_find_sent_for_a_phone_uses_one_history_request(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """For a phone number the lookup is one GET of that conversation."""
    mock_api.add("GET", HISTORY, payload={"messages": [msg(3, at(1), local_id="k-7")]})
    send = SendMessage(
        inbox_id=42, creator_id=7, phone_number="15105553344", text="x", local_id="k-7"
    )
    found = await find_sent(client, send)
    assert isinstance(found, Message)
    assert found.id == 3


async def test_failing_lookup_never_resends(client: HeymarketClient, mock_api: MockApi) -> None:
    """A lookup that keeps failing does not resend; a ReconciliationError says so."""
    mock_api.add("POST", SEND, status=502)
    mock_api.add("GET", HISTORY, status=500, repeat=True)
    with pytest.raises(ReconciliationError) as info:
        await client.messages.send(
            inbox_id=42, creator_id=7, phone_number="15105553344", text="Hi", local_id="k-8"
        )
    assert isinstance(info.value.__cause__, ServerError)
    assert len(mock_api.calls("POST", SEND)) == 1


async def test_history_sends_the_api_query_names(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """History sends phoneNumber/inboxID/timestamp and reads times with or without microseconds."""
    before = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)
    mock_api.add(
        "GET",
        "/v1/messages?inboxID=42&phoneNumber=15105553344&timestamp=1776340800",
        payload=[
            {"id": 2, "date": "2026-04-16T11:59:00.021462Z", "text": "b", "status": "sent"},
            {"id": 1, "date": "2026-04-16T11:58:00Z", "text": "a", "conversation": None},
        ],
    )
    history = await client.messages.history(phone_number="15105553344", inbox_id=42, before=before)
    assert [m.id for m in history] == [2, 1]
    assert history[0].date == datetime(2026, 4, 16, 11, 59, 0, 21462, tzinfo=UTC)
    assert history[1].date == datetime(2026, 4, 16, 11, 58, tzinfo=UTC)
    assert history[0].status == "sent"
    assert history.request_id == "req-test-1"


async def test_iter_all_pages_with_the_cursor_and_dedupes(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Pages follow the last timestamp (sent as date and created_at); repeats are dropped."""
    mock_api.add("POST", ALL, payload=[msg(10, at(0)), msg(9, at(1)), msg(8, at(2))])
    mock_api.add("POST", ALL, payload=[msg(8, at(2)), msg(7, at(3)), msg(6, at(4))])
    mock_api.add("POST", ALL, payload=[])
    ids = [m.id async for m in client.messages.iter_all(limit=3)]
    assert ids == [10, 9, 8, 7, 6]
    bodies = [sent_json(c) for c in mock_api.calls("POST", ALL)]
    assert bodies == [
        {"limit": 3},
        {"limit": 3, "date": at(2).isoformat(), "created_at": at(2).isoformat()},
        {"limit": 3, "date": at(4).isoformat(), "created_at": at(4).isoformat()},
    ]


async def test_iter_all_stops_when_the_cursor_does_not_move(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A page that repeats only the boundary message ends the walk instead of looping."""
    mock_api.add("POST", ALL, payload=[msg(10, at(0)), msg(9, at(1))])
    mock_api.add("POST", ALL, payload=[msg(9, at(1))], repeat=True)
    ids = [m.id async for m in client.messages.iter_all()]
    assert ids == [10, 9]
    assert len(mock_api.calls("POST", ALL)) == 2


async def test_iter_all_survives_a_server_that_ignores_the_cursor(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A server that always returns the first page yields each message once, then the walk ends."""
    mock_api.add("POST", ALL, payload=[msg(10, at(0)), msg(9, at(1))], repeat=True)
    ids = [m.id async for m in client.messages.iter_all()]
    assert ids == [10, 9]
    assert len(mock_api.calls("POST", ALL)) == 2


async def test_iter_all_walks_through_a_run_of_equal_timestamps(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """New ids at an unchanged cursor are yielded and re-requested until nothing new comes."""
    mock_api.add("POST", ALL, payload=[msg(10, at(0)), msg(9, at(1)), msg(8, at(1))])
    mock_api.add("POST", ALL, payload=[msg(9, at(1)), msg(8, at(1)), msg(7, at(1))])
    mock_api.add("POST", ALL, payload=[msg(9, at(1)), msg(8, at(1)), msg(7, at(1))])
    ids = [m.id async for m in client.messages.iter_all()]
    assert ids == [10, 9, 8, 7]
    assert len(mock_api.calls("POST", ALL)) == 3


async def test_iter_all_orders_by_updated_and_honours_max_pages(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """order=updated_at pages by `updated`; max_pages bounds the walk."""
    page = [{"id": 3, "updated": iso(at(0))}, {"id": 2, "updated": iso(at(5))}]
    mock_api.add("POST", ALL, payload=page)
    mock_api.add("POST", ALL, payload=[{"id": 1, "updated": iso(at(9))}])
    ids = [m.id async for m in client.messages.iter_all(order="updated_at", max_pages=2)]
    assert ids == [3, 2, 1]
    second = sent_json(mock_api.calls("POST", ALL)[1])
    assert second == {
        "order": "updated_at",
        "date": at(5).isoformat(),
        "created_at": at(5).isoformat(),
    }


async def test_iter_all_is_lazy_and_validates_up_front(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Nothing is requested until iteration starts; bad arguments fail at the call."""
    walk = client.messages.iter_all()
    assert mock_api.mocked.requests == {}
    await walk.aclose()
    with pytest.raises(RequestValidationError) as info:
        client.messages.iter_all(max_pages=0)
    assert info.value.field == "max_pages"
    with pytest.raises(RequestValidationError):
        client.messages.iter_all(before=datetime(2026, 1, 1))
    assert mock_api.mocked.requests == {}


@pytest.mark.parametrize(("payload", "expected"), [("42", 42), (42, 42), ({"count": 7}, 7)])
async def test_count_reads_a_json_string(
    client: HeymarketClient, mock_api: MockApi, payload: Any, expected: int
) -> None:
    """Count returns an int from a JSON string, a number or a {count} object."""
    mock_api.add("POST", "/v1/messages/all/count", payload=payload)
    assert await client.messages.count() == expected
    [call] = mock_api.calls("POST", "/v1/messages/all/count")
    assert sent_json(call) == {}


async def test_count_refuses_an_unreadable_answer(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A count answer that is not a number raises UnexpectedResponseError."""
    mock_api.add("POST", "/v1/messages/all/count", payload="lots")
    with pytest.raises(UnexpectedResponseError):
        await client.messages.count()


async def test_iter_all_ascending_moves_the_cursor_forward(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """With ascending=True the newest timestamp of a page becomes the next cursor."""
    mock_api.add("POST", ALL, payload=[msg(1, at(9)), msg(2, at(8))])
    mock_api.add("POST", ALL, payload=[msg(2, at(8)), msg(3, at(7))])
    mock_api.add("POST", ALL, payload=[])
    ids = [m.id async for m in client.messages.iter_all(ascending=True)]
    assert ids == [1, 2, 3]
    bodies = [sent_json(c) for c in mock_api.calls("POST", ALL)]
    assert bodies[0] == {"ascending": True}
    assert bodies[1]["date"] == at(8).isoformat()
    assert bodies[2]["created_at"] == at(7).isoformat()


async def test_iter_all_stops_when_messages_carry_no_timestamp(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """A page without timestamps cannot be paged past: its messages are yielded, then it stops."""
    mock_api.add("POST", ALL, payload=[{"id": 1}, {"id": 2}, {"id": 1}], repeat=True)
    ids = [m.id async for m in client.messages.iter_all()]
    assert ids == [1, 2]
    assert len(mock_api.calls("POST", ALL)) == 1
