"""Pure tests of webhook parsing, token checks and dedupe keys (§5); no event loop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async.errors import HeymarketError
from heymarket_async.webhooks import (
    CallEvent,
    ChatEvent,
    EventType,
    MessageEvent,
    OptEvent,
    UnknownEvent,
    WebhookPayloadError,
    parse_event,
    verify_token,
)

TOKEN = "tok-3f9a-secret"

MESSAGE = {
    "id": 9001,
    "text": "Is my order ready?",
    "date": "2024-12-24T14:04:55.021462Z",
    "local_id": "order-42",
    "status": "sent",
    "phone": "15105553344",
    "target": "15105553344",
    "user": 7,
    "conversation": {"id": 555, "inbox": 12, "target": "15105553344"},
    "brand_new_field": {"nested": True},
}

CONVERSATION = {
    "id": 555,
    "inbox": 12,
    "target": "15105553344",
    "status": "closed",
    "assigned": 7,
    "updated": "2024-12-24T15:00:00Z",
}


def envelope(type_: str, event_data: Any, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "id": 31, "token": TOKEN, "event_data": event_data, **extra}


def body(type_: str, event_data: Any, **extra: Any) -> bytes:
    return json.dumps(envelope(type_, event_data, **extra)).encode()


# --- Event families ----------------------------------------------------------------------------


def test_message_sent_parses_into_a_message_event() -> None:
    """A `message_sent` body becomes a MessageEvent carrying a typed Message."""
    event = parse_event(body("message_sent", MESSAGE))
    assert isinstance(event, MessageEvent)
    assert event.type is EventType.MESSAGE_SENT
    assert event.webhook_id == 31
    assert event.token == TOKEN
    assert event.message.id == 9001
    assert event.message.local_id == "order-42"
    assert event.message.date == datetime(2024, 12, 24, 14, 4, 55, 21462, tzinfo=UTC)
    assert event.message.conversation is not None
    assert event.message.conversation.id == 555
    assert event.event_data["brand_new_field"] == {"nested": True}
    assert not event.is_inbound


def test_misspelled_received_type_is_an_inbound_message() -> None:
    """The API's `message_recieved` spelling maps to `EventType.MESSAGE_RECEIVED`."""
    event = parse_event(body("message_recieved", MESSAGE))
    assert isinstance(event, MessageEvent)
    assert event.type is EventType.MESSAGE_RECEIVED
    assert EventType.MESSAGE_RECEIVED.value == "message_recieved"
    assert event.is_inbound


def test_correct_spelling_is_accepted_too() -> None:
    """A `message_received` type (correct spelling) also parses as an inbound message."""
    event = parse_event(body("message_received", MESSAGE))
    assert isinstance(event, MessageEvent)
    assert event.type is EventType.MESSAGE_RECEIVED
    assert EventType("message_received") is EventType.MESSAGE_RECEIVED


@pytest.mark.parametrize(
    "type_",
    ["chat_reassigned", "chat_closed", "chat_opened", "chat_pending", "chat_transferred"],
)
def test_chat_types_parse_into_chat_events(type_: str) -> None:
    """Every chat event type becomes a ChatEvent carrying a typed Conversation."""
    event = parse_event(body(type_, CONVERSATION))
    assert isinstance(event, ChatEvent)
    assert event.type == type_
    assert event.conversation.id == 555
    assert event.conversation.status == "closed"
    assert event.conversation.updated == datetime(2024, 12, 24, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "type_",
    ["target_opt_out", "target_opt_in", "target_double_opt_in", "target_double_opt_restricted"],
)
def test_opt_types_parse_into_opt_events(type_: str) -> None:
    """Every opt-in/out type becomes an OptEvent that keeps its payload as a dict."""
    data = {"target": "15105553344", "inbox_id": 12, "keyword": "STOP"}
    event = parse_event(body(type_, data))
    assert isinstance(event, OptEvent)
    assert event.type == type_
    assert event.event_data == data
    assert event.target == "15105553344"
    assert event.is_opt_out is (type_ == "target_opt_out")


def test_opt_event_target_falls_back_to_phone_and_to_none() -> None:
    """`OptEvent.target` reads `phone` when `target` is absent, and is None without either."""
    with_phone = parse_event(body("target_opt_in", {"phone": "15105550000"}))
    without = parse_event(body("target_opt_in", {"inbox_id": 12}))
    assert isinstance(with_phone, OptEvent)
    assert isinstance(without, OptEvent)
    assert with_phone.target == "15105550000"
    assert without.target is None


def test_incoming_call_parses_into_a_call_event() -> None:
    """An `incoming_call` body becomes a CallEvent with its payload kept as data."""
    data = {"phone_number": "15105553344", "duration": 12}
    event = parse_event(body("incoming_call", data))
    assert isinstance(event, CallEvent)
    assert event.type is EventType.INCOMING_CALL
    assert event.event_data == data
    assert event.target == "15105553344"


def test_unknown_type_is_a_generic_event() -> None:
    """An undocumented type parses as an UnknownEvent, never an error."""
    event = parse_event(body("chat_updated", {"anything": [1, 2]}))
    assert isinstance(event, UnknownEvent)
    assert event.type == "chat_updated"
    assert not isinstance(event.type, EventType)
    assert event.event_data == {"anything": [1, 2]}


def test_str_and_mapping_payloads_are_accepted() -> None:
    """Text and an already decoded mapping parse the same as bytes."""
    from_bytes = parse_event(body("message_sent", MESSAGE))
    assert parse_event(body("message_sent", MESSAGE).decode()) == from_bytes
    assert parse_event(envelope("message_sent", MESSAGE)) == from_bytes


def test_extra_envelope_fields_and_string_id_are_tolerated() -> None:
    """Unknown envelope keys are ignored and a digit-string `id` is read as an integer."""
    event = parse_event(
        {"type": "chat_closed", "id": "31", "token": TOKEN, "event_data": CONVERSATION, "v": 2}
    )
    assert event.webhook_id == 31


def test_null_message_fields_are_read_as_absent() -> None:
    """A Message field sent as null takes its default instead of failing."""
    event = parse_event(body("message_sent", {**MESSAGE, "text": None, "conversation": None}))
    assert isinstance(event, MessageEvent)
    assert event.message.text is None
    assert event.message.conversation is None


# --- Malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'"text"', "expected a JSON object, got str"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_json_raises(payload: bytes, match: str) -> None:
    """Bodies that are not a JSON object raise WebhookPayloadError."""
    with pytest.raises(WebhookPayloadError, match=match):
        parse_event(payload)


@pytest.mark.parametrize("missing", ["type", "id", "token", "event_data"])
def test_missing_envelope_field_raises(missing: str) -> None:
    """Each of the four required envelope fields is enforced."""
    data = envelope("message_sent", MESSAGE)
    del data[missing]
    with pytest.raises(WebhookPayloadError, match=f"missing envelope field\\(s\\): {missing}"):
        parse_event(data)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("type", 5, "type must be a non-empty string"),
        ("type", "", "type must be a non-empty string"),
        ("id", "abc", "id must be an integer"),
        ("id", True, "id must be an integer"),
        ("id", 3.5, "id must be an integer"),
        ("token", None, "token must be a string"),
        ("event_data", [MESSAGE], "event_data must be a JSON object, got list"),
        ("event_data", "x", "event_data must be a JSON object, got str"),
    ],
)
def test_mistyped_envelope_field_raises(field: str, value: object, match: str) -> None:
    """Envelope fields of the wrong type raise WebhookPayloadError naming the field."""
    data = envelope("message_sent", MESSAGE)
    data[field] = value
    with pytest.raises(WebhookPayloadError, match=match):
        parse_event(data)


def test_message_event_without_message_id_raises() -> None:
    """A message event whose event_data has no `id` is the wrong shape."""
    data = {key: value for key, value in MESSAGE.items() if key != "id"}
    with pytest.raises(WebhookPayloadError, match=r"not a Message.*\$\.event_data\.id"):
        parse_event(body("message_received", data))


def test_chat_event_with_bad_field_type_raises() -> None:
    """A chat event whose conversation id is not an integer is the wrong shape."""
    with pytest.raises(WebhookPayloadError, match="not a Conversation"):
        parse_event(body("chat_closed", {**CONVERSATION, "id": {"nested": 1}}))


def test_payload_error_is_a_heymarket_error_and_value_error() -> None:
    """WebhookPayloadError can be caught as HeymarketError or as ValueError."""
    assert issubclass(WebhookPayloadError, HeymarketError)
    assert issubclass(WebhookPayloadError, ValueError)


# --- Secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("message_sent", MESSAGE),
        ("chat_closed", CONVERSATION),
        ("target_opt_out", {"target": "1"}),
        ("incoming_call", {}),
        ("mystery", {}),
    ],
)
def test_token_never_appears_in_repr(type_: str, data: dict[str, Any]) -> None:
    """No event's repr or str contains the verification token."""
    event = parse_event(body(type_, data))
    assert TOKEN not in repr(event)
    assert TOKEN not in str(event)
    assert "token" not in repr(event)


def test_verify_token_accepts_the_same_token() -> None:
    """Equal tokens verify."""
    assert verify_token(TOKEN, TOKEN)


@pytest.mark.parametrize("given", ["tok-3f9a-secreT", "", "tok", TOKEN + "x", " " + TOKEN])
def test_verify_token_refuses_other_tokens(given: str) -> None:
    """Any different token, including empty or prefixed ones, fails."""
    assert not verify_token(given, TOKEN)


def test_verify_token_handles_non_ascii() -> None:
    """Non-ASCII tokens compare as UTF-8 instead of raising."""
    assert verify_token("clé-ünïcode-🔑", "clé-ünïcode-🔑")
    assert not verify_token("clé-ünïcode-🔑", "cle-unicode-k")
    assert not verify_token("\ud800", TOKEN)


def test_verify_token_never_matches_an_empty_expectation() -> None:
    """An empty configured token matches nothing, not even an empty token."""
    assert not verify_token("", "")


# --- Dedupe keys --------------------------------------------------------------------------------


def test_message_dedupe_key_is_type_and_message_id() -> None:
    """Message events dedupe on their type and the message id."""
    sent = parse_event(body("message_sent", MESSAGE))
    received = parse_event(body("message_recieved", {**MESSAGE, "status": "delivered"}))
    assert sent.dedupe_key == ("message_sent", "9001")
    assert received.dedupe_key == ("message_recieved", "9001")


def test_chat_dedupe_key_uses_conversation_id_and_updated() -> None:
    """Chat events dedupe on conversation id plus `updated`, so later changes are new."""
    first = parse_event(body("chat_closed", CONVERSATION))
    again = parse_event(body("chat_closed", {**CONVERSATION, "muted": True}))
    later = parse_event(body("chat_closed", {**CONVERSATION, "updated": "2024-12-25T09:00:00Z"}))
    assert first.dedupe_key == ("chat_closed", "555@2024-12-24T15:00:00Z")
    assert again.dedupe_key == first.dedupe_key
    assert later.dedupe_key != first.dedupe_key


def test_chat_dedupe_key_without_updated_hashes_the_payload() -> None:
    """Without `updated`, a chat event's key is its conversation id plus a payload hash."""
    data = {"id": 555, "status": "open"}
    key = parse_event(body("chat_opened", data)).dedupe_key
    assert key[0] == "chat_opened"
    assert key[1].startswith("555#sha256:")
    assert parse_event(body("chat_opened", {"status": "open", "id": 555})).dedupe_key == key
    assert parse_event(body("chat_opened", {**data, "status": "x"})).dedupe_key != key


def test_id_less_dedupe_key_is_a_canonical_hash() -> None:
    """Events without an id key on a hash that ignores key order and whitespace."""
    one = parse_event(b'{"type":"target_opt_out","id":1,"token":"t","event_data":{"a":1,"b":"x"}}')
    two = parse_event(
        b'{ "event_data": { "b": "x", "a": 1 }, "token": "u", "id": 2, "type": "target_opt_out" }'
    )
    other = parse_event(b'{"type":"target_opt_in","id":1,"token":"t","event_data":{"a":1,"b":"x"}}')
    assert one.dedupe_key == two.dedupe_key
    assert one.dedupe_key[1].startswith("sha256:")
    assert other.dedupe_key[0] == "target_opt_in"
    assert other.dedupe_key[1] == one.dedupe_key[1]


def test_dedupe_key_of_unknown_event_hashes_non_ascii_payloads() -> None:
    """Unknown events get a stable hash key, also for non-ASCII data."""
    first = parse_event(body("mystery", {"name": "Zoë 🎉"}))
    second = parse_event(body("mystery", {"name": "Zoë 🎉"}))
    assert first.dedupe_key == second.dedupe_key == ("mystery", first.dedupe_key[1])
