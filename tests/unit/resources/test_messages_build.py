from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from heymarket_async import ApiRequest, ApiResponse, Message, SendMessage, SentMessage
from heymarket_async._converter import converter
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources.messages import (
    AllMessagesQuery,
    HistoryQuery,
    build_count_messages,
    build_list_all_messages,
    build_message_history,
    build_send_message,
    read_count,
    read_sent_message,
)

BASE: dict[str, Any] = {"inbox_id": 42, "creator_id": 7}


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_single_send_builds_the_exact_request() -> None:
    """A single send POSTs only the given fields plus its local_id and is not replay-safe."""
    send = SendMessage(**BASE, phone_number="15105553344", text="Hi", local_id="order-17")
    assert build_send_message(send) == ApiRequest(
        method="POST",
        path="/v1/message/send",
        json={
            "inbox_id": 42,
            "creator_id": 7,
            "phone_number": "15105553344",
            "text": "Hi",
            "local_id": "order-17",
        },
        idempotency_key="order-17",
        replay_safe=False,
    )


def test_generated_local_id_is_made_once_per_model() -> None:
    """Without a local_id the model gets one uuid4 hex, the same on every build of it."""
    send = SendMessage(**BASE, phone_number="15105553344", text="Hi")
    first, second = build_send_message(send), build_send_message(send)
    assert re.fullmatch(r"hm-[0-9a-f]{32}", send.local_id)
    assert first.json["local_id"] == second.json["local_id"] == send.local_id
    assert first.idempotency_key == send.local_id
    other = SendMessage(**BASE, phone_number="15105553344", text="Hi")
    assert other.local_id != send.local_id


def test_list_broadcast_is_replay_safe() -> None:
    """A list broadcast carries the caller's local_id and may be resent (server dedupe, §4)."""
    send = SendMessage(**BASE, list_id=501, local_id="april-001", text="Hi {{first_name}}")
    request = build_send_message(send)
    assert request.json == {
        "inbox_id": 42,
        "creator_id": 7,
        "list_id": 501,
        "local_id": "april-001",
        "text": "Hi {{first_name}}",
    }
    assert request.replay_safe is True
    assert request.idempotency_key == "april-001"


def test_list_broadcast_without_local_id_is_refused() -> None:
    """list_id without local_id is rejected with advice, not given a random key."""
    with pytest.raises(RequestValidationError) as info:
        SendMessage(**BASE, list_id=501, text="Hi")
    assert info.value.field == "local_id"
    assert "stable local_id" in info.value.reason
    assert "safe resend" in info.value.reason


def test_group_mms_and_every_optional_field() -> None:
    """targets become a JSON array; every documented field is sent under its own name."""
    send = SendMessage(
        **BASE,
        targets=["15105553344", "14155550100"],
        text="Hi all",
        media_url="https://cdn.example.com/a.png",
        template_id=3,
        survey_id=4,
        private=False,
        author="Bot",
        local_id="g-1",
    )
    assert build_send_message(send).json == {
        "inbox_id": 42,
        "creator_id": 7,
        "targets": ["15105553344", "14155550100"],
        "text": "Hi all",
        "media_url": "https://cdn.example.com/a.png",
        "template_id": 3,
        "survey_id": 4,
        "private": False,
        "author": "Bot",
        "local_id": "g-1",
    }
    assert send.targets == ("15105553344", "14155550100")


def test_chat_reply_with_template_only() -> None:
    """A reply into a conversation may carry only a template as content."""
    send = SendMessage(**BASE, chat_id=900, template_id=3, local_id="r-1")
    assert build_send_message(send).json == {
        "inbox_id": 42,
        "creator_id": 7,
        "chat_id": 900,
        "template_id": 3,
        "local_id": "r-1",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone_number": "+15105553344", "text": "x"}, "phone_number"),
        ({"phone_number": "510-555-3344", "text": "x"}, "phone_number"),
        ({"phone_number": "0105553344", "text": "x"}, "phone_number"),
        ({"chat_id": 0, "text": "x"}, "chat_id"),
        ({"chat_id": True, "text": "x"}, "chat_id"),
        ({"phone_number": "15105553344", "media_url": "ftp://x.example/a"}, "media_url"),
        ({"phone_number": "15105553344", "media_url": "/a.png"}, "media_url"),
        ({"phone_number": "15105553344", "text": ""}, "text"),
        ({"phone_number": "15105553344", "text": "   "}, "text"),
        ({"phone_number": "15105553344", "text": "x", "local_id": "a" * 129}, "local_id"),
        ({"phone_number": "15105553344", "text": "x", "local_id": "has space"}, "local_id"),
        ({"phone_number": "15105553344", "text": "x", "template_id": -1}, "template_id"),
        ({"phone_number": "15105553344", "text": "x", "private": "yes"}, "private"),
        ({"targets": ["15105553344"], "text": "x"}, "targets"),
        ({"targets": ["15105553344", "15105553344"], "text": "x"}, "targets"),
        ({"targets": "15105553344", "text": "x"}, "targets"),
        ({"targets": ["15105553344", "+14155550100"], "text": "x"}, "targets[1]"),
        ({"phone_number": "15105553344"}, None),
        ({"text": "x"}, None),
        ({"phone_number": "15105553344", "chat_id": 9, "text": "x"}, None),
    ],
)
def test_invalid_sends_name_the_field(fields: dict[str, Any], field: str | None) -> None:
    """Each rule violation names its field (None when the rule spans several fields)."""
    with pytest.raises(RequestValidationError) as info:
        SendMessage(**BASE, **fields)
    assert info.value.field == field


def test_ids_are_validated() -> None:
    """inbox_id and creator_id must be positive integers."""
    with pytest.raises(RequestValidationError) as info:
        SendMessage(inbox_id=0, creator_id=7, phone_number="15105553344", text="x")
    assert info.value.field == "inbox_id"


def test_phone_error_explains_the_fix() -> None:
    """A '+' number is refused with a pointer to normalize_phone, and is still a ValueError."""
    with pytest.raises(ValueError, match=r"normalize_phone"):
        SendMessage(**BASE, phone_number="+1 510 555 3344", text="x")


def test_target_error_lists_what_was_given() -> None:
    """Two targets are reported together in one message."""
    with pytest.raises(RequestValidationError, match="got phone_number and list_id"):
        SendMessage(**BASE, phone_number="15105553344", list_id=5, local_id="k", text="x")


def test_history_query_uses_the_api_names() -> None:
    """History uses phoneNumber, inboxID and a Unix timestamp rounded up to whole seconds."""
    query = HistoryQuery(
        phone_number="15105553344",
        inbox_id=42,
        before=datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
    )
    assert build_message_history(query) == ApiRequest(
        method="GET",
        path="/v1/messages",
        query={"phoneNumber": "15105553344", "inboxID": "42", "timestamp": "1704067201"},
    )
    plain = build_message_history(HistoryQuery(phone_number="15105553344", inbox_id=42))
    assert plain.query == {"phoneNumber": "15105553344", "inboxID": "42"}
    assert plain.replay_safe is True


def test_history_accepts_unix_seconds_and_refuses_naive_times() -> None:
    """before may be Unix seconds; a naive datetime is refused."""
    query = HistoryQuery(phone_number="15105553344", inbox_id=42, before=1704067200)
    assert build_message_history(query).query["timestamp"] == "1704067200"  # type: ignore[index]
    with pytest.raises(RequestValidationError) as info:
        HistoryQuery(phone_number="15105553344", inbox_id=42, before=datetime(2024, 1, 1))
    assert info.value.field == "before"


def test_all_messages_first_page_is_an_empty_object() -> None:
    """The first page of team messages is requested with {} and is replay-safe (a read)."""
    request = build_list_all_messages(AllMessagesQuery())
    assert request == ApiRequest(method="POST", path="/v1/messages/all", json={}, replay_safe=True)


def test_all_messages_cursor_is_sent_under_both_names() -> None:
    """The cursor goes out as date and created_at, with page options only when set."""
    cursor = datetime(2024, 12, 24, 14, 4, 55, 21462, tzinfo=UTC)
    query = AllMessagesQuery(before=cursor, limit=50, order="updated_at", ascending=True)
    assert build_list_all_messages(query).json == {
        "date": "2024-12-24T14:04:55.021462+00:00",
        "created_at": "2024-12-24T14:04:55.021462+00:00",
        "limit": 50,
        "order": "updated_at",
        "ascending": True,
    }


def test_count_request() -> None:
    """Count posts the same body to /v1/messages/all/count and is replay-safe."""
    request = build_count_messages(AllMessagesQuery())
    assert (request.method, request.path, request.json, request.replay_safe) == (
        "POST",
        "/v1/messages/all/count",
        {},
        True,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"order": "date"}, "order"),
        ({"limit": 0}, "limit"),
        ({"before": datetime(2024, 1, 1)}, "before"),
        ({"ascending": "yes"}, "ascending"),
    ],
)
def test_invalid_page_queries_name_the_field(fields: dict[str, Any], field: str) -> None:
    """Bad paging options are refused before any request."""
    with pytest.raises(RequestValidationError) as info:
        AllMessagesQuery(**fields)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("data", "expected"), [("42", 42), (" 7 ", 7), (3, 3), ({"count": "5"}, 5)]
)
def test_count_is_read_from_every_shape(data: Any, expected: int) -> None:
    """A count as a JSON string, a number or a {count} object becomes an int."""
    assert read_count(response(data)) == expected


@pytest.mark.parametrize("data", ["many", None, -1, True, {"total": 3}, [1]])
def test_unreadable_count_raises(data: Any) -> None:
    """Anything that is not a count raises UnexpectedResponseError with the request id."""
    with pytest.raises(UnexpectedResponseError, match="req-1"):
        read_count(response(data))


SEND = SendMessage(**BASE, phone_number="15105553344", text="Hi", local_id="k-1")


@pytest.mark.parametrize(
    "data",
    [
        {"id": 11, "date": "2026-04-16T10:00:00Z", "gallery_url": "https://g.example/1"},
        {
            "message": {
                "id": 11,
                "date": "2026-04-16T10:00:00Z",
                "gallery_url": "https://g.example/1",
            }
        },
    ],
)
def test_sent_message_bare_or_wrapped(data: Any) -> None:
    """The documented send answer is read bare or inside a {"message": ...} wrapper."""
    sent = read_sent_message(response(data), SEND)
    assert sent == SentMessage(
        id=11,
        date=datetime(2026, 4, 16, 10, tzinfo=UTC),
        gallery_url="https://g.example/1",
        local_id="k-1",
    )
    assert sent.request_id == "req-1"


def test_sent_message_email_like_shape() -> None:
    """The email-like answer (convo_id, queued, compliance_results, microseconds) is read."""
    data = {
        "id": 12,
        "convo_id": 900,
        "queued": True,
        "date": "2024-12-24T14:04:55.021462Z",
        "compliance_results": {"quiet_hours": False},
        "unknown": 1,
    }
    sent = read_sent_message(response(data), SEND)
    assert (sent.id, sent.convo_id, sent.queued, sent.local_id) == (12, 900, True, "k-1")
    assert sent.date == datetime(2024, 12, 24, 14, 4, 55, 21462, tzinfo=UTC)
    assert sent.compliance_results == {"quiet_hours": False}


def test_sent_message_from_a_whole_message() -> None:
    """A Message-shaped answer gives convo_id from its conversation and keeps its local_id."""
    data = {"id": 13, "local_id": "server-k", "conversation": {"id": 901, "inbox": 42}}
    sent = read_sent_message(response(data), SEND)
    assert (sent.convo_id, sent.local_id) == (901, "server-k")


def test_sent_message_without_id_is_unexpected() -> None:
    """An answer without an id cannot be a sent message."""
    with pytest.raises(UnexpectedResponseError, match=r"\$\.id"):
        read_sent_message(response({"status": "queued"}), SEND)


def test_sent_message_from_found_message() -> None:
    """A message found by reconciliation converts to a SentMessage."""
    message = Message(id=5, local_id="k-1", date=datetime(2026, 1, 1, tzinfo=UTC))
    assert SentMessage.from_message(message) == SentMessage(
        id=5, local_id="k-1", date=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_message_is_read_leniently() -> None:
    """Nulls, empty timestamps and unknown keys do not break a Message; offsets are kept."""
    message = converter.structure(
        {
            "id": 1,
            "text": None,
            "date": "2024-12-24T14:04:55+02:00",
            "updated": "2024-12-24T14:04:55.5Z",
            "custom": {"data": [1, 2], "type": "list"},
            "conversation": {"id": 9, "members": None, "snooze_till": "", "brandNew": 1},
            "super": 3,
            "brandNew": [1],
        },
        Message,
    )
    assert message.text is None
    assert message.date == datetime(2024, 12, 24, 14, 4, 55, tzinfo=timezone(timedelta(hours=2)))
    assert message.updated == datetime(2024, 12, 24, 14, 4, 55, 500000, tzinfo=UTC)
    assert message.conversation is not None
    assert message.conversation.members == ()
    assert message.conversation.snooze_till is None
    assert message.custom == {"data": [1, 2], "type": "list"}
    assert message.super == 3


@pytest.mark.parametrize("answer_local_id", [None, "absent"])
def test_sent_message_without_local_id_gets_ours_and_leaves_the_answer_alone(
    answer_local_id: str | None,
) -> None:
    """A null or missing local_id in the answer is filled from the request; the answer's
    own dict is never changed (it stays readable as the server sent it)."""
    data: dict[str, Any] = {"id": 14, "date": None, "gallery_url": None}
    if answer_local_id is None:
        data["local_id"] = None
    before = dict(data)
    answer = response(data)
    sent = read_sent_message(answer, SEND)
    assert (sent.id, sent.local_id, sent.date, sent.request_id) == (14, "k-1", None, "req-1")
    assert answer.data == before
    assert answer.data is data


def test_generated_local_ids_are_uuid4_hex() -> None:
    """A generated local_id is ``hm-`` and a version-4, RFC 4122 UUID's 32 hex digits."""
    for _ in range(500):
        hexed = SendMessage(**BASE, phone_number="15105553344", text="Hi").local_id[3:]
        parsed = uuid.UUID(hexed)
        assert (parsed.hex, parsed.version, parsed.variant) == (hexed, 4, uuid.RFC_4122)
