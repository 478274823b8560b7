from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import (
    Acknowledgement,
    ApiRequest,
    ApiResponse,
    ChangeConversationState,
    MarkConversation,
    ReassignConversation,
    TransferConversation,
)
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources import messages
from heymarket_async.resources._paging import read_count
from heymarket_async.resources.conversations import (
    ConversationsQuery,
    build_change_conversation_state,
    build_count_conversations,
    build_get_conversation,
    build_list_conversations,
    build_mark_conversation,
    build_reassign_conversation,
    build_transfer_conversation,
    read_acknowledgement,
)

PHONE = "15105553344"
OTHER = "15105550002"
WHEN = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_list_body_nests_the_filters_and_names_the_user_id() -> None:
    """The page request sends the user as `id`, the filters nested, and the `date` cursor."""
    query = ConversationsQuery(
        user_id=7, inboxes=[42, 43], closed=False, unread=True, before=WHEN, limit=50
    )
    assert build_list_conversations(query) == ApiRequest(
        method="POST",
        path="/v1/conversations",
        json={
            "id": 7,
            "filters": {"inboxes": [42, 43], "closed": False, "unread": True},
            "date": "2026-04-16T12:00:00+00:00",
            "limit": 50,
        },
        replay_safe=True,
    )


def test_list_body_leaves_out_unset_filters() -> None:
    """Filters left as None and an absent cursor are not sent at all."""
    request = build_list_conversations(ConversationsQuery(user_id=7, inboxes=(42,)))
    assert request.json == {"id": 7, "filters": {"inboxes": [42]}}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_id": 0, "inboxes": [42]}, "user_id"),
        ({"user_id": 7, "inboxes": []}, "inboxes"),
        ({"user_id": 7, "inboxes": 42}, "inboxes"),
        ({"user_id": 7, "inboxes": [42, -1]}, "inboxes[1]"),
        ({"user_id": 7, "inboxes": [42], "closed": "yes"}, "closed"),
        ({"user_id": 7, "inboxes": [42], "unread": 1}, "unread"),
        ({"user_id": 7, "inboxes": [42], "before": datetime(2026, 1, 1)}, "before"),
        ({"user_id": 7, "inboxes": [42], "limit": 0}, "limit"),
    ],
)
def test_list_query_refuses_invalid_fields(kwargs: dict[str, Any], field: str) -> None:
    """An invalid listing query cannot be built, and the error names the field."""
    with pytest.raises(RequestValidationError) as info:
        ConversationsQuery(**kwargs)
    assert info.value.field == field


def test_count_sends_the_optional_date() -> None:
    """Count posts `{}` or `{"date": ...}` and is safe to repeat."""
    assert build_count_conversations() == ApiRequest(
        method="POST", path="/v1/conversations/count", json={}, replay_safe=True
    )
    assert build_count_conversations(WHEN).json == {"date": "2026-04-16T12:00:00+00:00"}
    with pytest.raises(RequestValidationError, match="timezone-aware"):
        build_count_conversations(datetime(2026, 1, 1))


def test_counts_are_read_by_the_reader_messages_uses() -> None:
    """The count reader is shared with messages and turns the JSON string into an int."""
    assert read_count is messages.read_count
    assert read_count(response("1204")) == 1204
    with pytest.raises(UnexpectedResponseError):
        read_count(response("many"))


def test_get_quotes_the_id_and_refuses_a_bad_one() -> None:
    """Get builds the path from a positive id and refuses anything else."""
    assert build_get_conversation(900) == ApiRequest(method="GET", path="/v1/conversations/900")
    with pytest.raises(RequestValidationError) as info:
        build_get_conversation(0)
    assert info.value.field == "conversation_id"


@pytest.mark.parametrize("action", ["open", "close"])
def test_open_and_close_send_the_exact_body_and_are_replay_safe(action: Any) -> None:
    """Open and close post the same body to their own path; setting a state may repeat."""
    change = ChangeConversationState(inbox_id=42, user_id=7, chat_id=900)
    assert build_change_conversation_state(action, change) == ApiRequest(
        method="POST",
        path=f"/v1/conversations/{action}",
        json={"inbox_id": 42, "user_id": 7, "chat_id": 900},
        replay_safe=True,
    )


def test_open_by_group_targets() -> None:
    """A group conversation is named by its numbers, sent as a `targets` array."""
    change = ChangeConversationState(inbox_id=42, user_id=7, targets=(PHONE, OTHER))
    request = build_change_conversation_state("close", change)
    assert request.json == {"inbox_id": 42, "user_id": 7, "targets": [PHONE, OTHER]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "got none"),
        ({"chat_id": None}, "got none"),
        ({"chat_id": 900, "target": PHONE, "targets": [PHONE, OTHER]}, "got target and targets"),
        ({"target": PHONE, "targets": [PHONE, OTHER]}, "got target and targets"),
        ({"targets": [PHONE]}, "at least 2"),
        ({"targets": [PHONE, PHONE]}, "more than once"),
        ({"target": "+15105553344"}, "E.164"),
        ({"targets": PHONE}, "must be a list"),
    ],
)
def test_state_change_needs_exactly_one_valid_target(kwargs: dict[str, Any], message: str) -> None:
    """Open/close refuse zero or several targets, a one-number group and malformed numbers."""
    with pytest.raises(RequestValidationError, match=message):
        ChangeConversationState(inbox_id=42, user_id=7, **kwargs)


def test_state_change_refuses_an_unknown_action() -> None:
    """Only "open" and "close" are state actions."""
    change = ChangeConversationState(inbox_id=42, user_id=7, target=PHONE)
    with pytest.raises(RequestValidationError, match="'open' or 'close'"):
        build_change_conversation_state("delete", change)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["read", "unread"])
def test_mark_read_and_unread(action: Any) -> None:
    """Read and unread post inbox, user and target to their own path and may repeat."""
    mark = MarkConversation(inbox_id=42, user_id=7, target=PHONE)
    assert build_mark_conversation(action, mark) == ApiRequest(
        method="POST",
        path=f"/v1/conversations/{action}",
        json={"inbox_id": 42, "user_id": 7, "target": PHONE},
        replay_safe=True,
    )
    with pytest.raises(RequestValidationError, match="'read' or 'unread'"):
        build_mark_conversation("seen", mark)  # type: ignore[arg-type]


def test_mark_needs_a_target_and_takes_no_chat_id() -> None:
    """Read/unread name the conversation by target(s) only; chat_id is not a field there."""
    with pytest.raises(RequestValidationError, match="exactly one of target or targets"):
        MarkConversation(inbox_id=42, user_id=7)
    with pytest.raises(TypeError):
        MarkConversation(inbox_id=42, user_id=7, chat_id=900)  # type: ignore[call-arg]


def test_reassign_body_and_it_is_not_replay_safe() -> None:
    """Reassign sends current and new owner; a repeat after success would fail, so no replay."""
    reassign = ReassignConversation(inbox_id=42, user_id=7, reassign_id=8, target=PHONE)
    assert build_reassign_conversation(reassign) == ApiRequest(
        method="POST",
        path="/v1/conversations/reassign",
        json={"inbox_id": 42, "user_id": 7, "reassign_id": 8, "target": PHONE},
        replay_safe=False,
    )
    with pytest.raises(RequestValidationError) as info:
        ReassignConversation(inbox_id=42, user_id=7, reassign_id=0, target=PHONE)
    assert info.value.field == "reassign_id"


def test_transfer_body_and_it_is_not_replay_safe() -> None:
    """Transfer sends the two ids and is not repeated after an ambiguous failure."""
    transfer = TransferConversation(conversation_id=900, transfer_inbox_id=43)
    assert build_transfer_conversation(transfer) == ApiRequest(
        method="POST",
        path="/v1/conversations/transfer",
        json={"conversation_id": 900, "transfer_inbox_id": 43},
        replay_safe=False,
    )
    with pytest.raises(RequestValidationError) as info:
        TransferConversation(conversation_id=900, transfer_inbox_id=True)  # type: ignore[arg-type]
    assert info.value.field == "transfer_inbox_id"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("ok", "ok"),
        ("Marked as Read", "Marked as Read"),
        (None, None),
        ({"status": "ok"}, "ok"),
        ({"message": "done", "status": "ok"}, "done"),
        ({"id": 900}, None),
        ([], None),
    ],
)
def test_acknowledgement_reads_every_answer_shape(data: Any, message: str | None) -> None:
    """A bare string, an empty body or an object all become an Acknowledgement with the id."""
    ack = read_acknowledgement(response(data))
    assert ack == Acknowledgement(message=message)
    assert ack.request_id == "req-1"
