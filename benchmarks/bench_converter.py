"""Case 3: model cost: structure and unstructure of a ``Message`` with a nested
``Conversation`` through the private cattrs converter, against hand-written code that
produces equal results (checked before timing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import attrs
from _harness import median, per_op_us

from heymarket_async._converter import converter, parse_timestamp
from heymarket_async.resources.messages import Conversation, ConversationMember, Message

# Shaped like a history answer (§2.1/§2.3), nulls included as the API sends them.
MESSAGE_JSON: dict[str, Any] = {
    "id": 9001,
    "text": "Your order has shipped",
    "date": "2026-04-01T12:00:00.123456Z",
    "updated": "2026-04-01T12:00:05Z",
    "local_id": "hm-0123456789abcdef0123456789abcdef",
    "status": "sent",
    "type": "text",
    "phone": "15105553344",
    "target": "15105553344",
    "media": None,
    "link_url": None,
    "author": "Olive Owner",
    "user": 7,
    "broadcast_id": None,
    "flagged": False,
    "support": False,
    "super": None,
    "conversation": {
        "id": 501,
        "inbox": 42,
        "target": "15105553344",
        "name": "Sam Customer",
        "channel": "sms",
        "status": "open",
        "type": "contact",
        "assigned": 7,
        "creator": 7,
        "members": [{"id": 7, "name": "Olive Owner"}, {"id": 8, "name": "Adam Admin"}],
        "local_id": None,
        "blocked": False,
        "muted": False,
        "replied": True,
        "created": "2026-03-01T09:30:00Z",
        "updated": "2026-04-01T12:00:05Z",
    },
    "custom": {"data": [{"key": "order", "value": "A-1001"}], "type": "order"},
}


def _time(value: Any) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def hand_structure(data: dict[str, Any]) -> Message:
    """What a careful hand-written reader does: drop nulls, parse times, build nested."""
    c = data.get("conversation")
    conversation = None
    if c is not None:
        conversation = Conversation(
            id=c["id"],
            inbox=c.get("inbox"),
            target=c.get("target"),
            name=c.get("name"),
            channel=c.get("channel"),
            status=c.get("status"),
            type=c.get("type"),
            assigned=c.get("assigned"),
            creator=c.get("creator"),
            members=tuple(
                ConversationMember(id=m["id"], name=m.get("name")) for m in c.get("members") or ()
            ),
            local_id=c.get("local_id"),
            blocked=c.get("blocked"),
            muted=c.get("muted"),
            replied=c.get("replied"),
            support=c.get("support"),
            email_noti=c.get("email_noti"),
            read=c.get("read"),
            last_inbound=c.get("last_inbound"),
            noreply=c.get("noreply"),
            op=c.get("op"),
            super=c.get("super"),
            snooze_till=_time(c.get("snooze_till")),
            created=_time(c.get("created")),
            updated=_time(c.get("updated")),
        )
    return Message(
        id=data["id"],
        text=data.get("text"),
        date=_time(data.get("date")),
        updated=_time(data.get("updated")),
        local_id=data.get("local_id"),
        status=data.get("status"),
        type=data.get("type"),
        phone=data.get("phone"),
        target=data.get("target"),
        media=data.get("media"),
        link_url=data.get("link_url"),
        author=data.get("author"),
        user=data.get("user"),
        broadcast_id=data.get("broadcast_id"),
        flagged=data.get("flagged"),
        support=data.get("support"),
        super=data.get("super"),
        conversation=conversation,
        custom=data.get("custom"),
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def hand_unstructure(message: Message) -> dict[str, Any]:
    """Hand-written JSON form: unset (default) fields omitted, times as RFC 3339."""
    out: dict[str, Any] = {}
    for name in _MESSAGE_FIELDS:
        value = getattr(message, name)
        if value is None:
            continue
        if name == "conversation":
            value = _conversation_dict(value)
        out[name] = _plain(value)
    return out


def _conversation_dict(conversation: Conversation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _CONVERSATION_FIELDS:
        value = getattr(conversation, name)
        if name == "members":
            if value:
                out[name] = [
                    {"id": m.id, **({"name": m.name} if m.name is not None else {})} for m in value
                ]
            continue
        if value is not None:
            out[name] = _plain(value)
    return out


_MESSAGE_FIELDS = tuple(a.name for a in attrs.fields(Message))
_CONVERSATION_FIELDS = tuple(a.name for a in attrs.fields(Conversation))


@dataclass
class ConverterResult:
    structure_us: float
    hand_structure_us: float
    structure_ratio: float
    unstructure_us: float
    hand_unstructure_us: float
    unstructure_ratio: float


def measure(*, quick: bool) -> ConverterResult:
    message = converter.structure(MESSAGE_JSON, Message)
    # Same work on both sides, or the ratio means nothing.
    assert hand_structure(MESSAGE_JSON) == message
    assert hand_unstructure(message) == converter.unstructure(message)
    number, rounds = (200, 3) if quick else (3000, 11)
    contenders: dict[str, Callable[[], object]] = {
        "structure": lambda: converter.structure(MESSAGE_JSON, Message),
        "hand_structure": lambda: hand_structure(MESSAGE_JSON),
        "unstructure": lambda: converter.unstructure(message),
        "hand_unstructure": lambda: hand_unstructure(message),
    }
    # Interleaved batches, so that each pair being compared saw the same machine load.
    us: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            us[name].append(per_op_us(fn, number=number, repeat=1))

    def paired(a: str, b: str) -> float:
        return median([x / y for x, y in zip(us[a], us[b], strict=True)])

    return ConverterResult(
        structure_us=median(us["structure"]),
        hand_structure_us=median(us["hand_structure"]),
        structure_ratio=paired("structure", "hand_structure"),
        unstructure_us=median(us["unstructure"]),
        hand_unstructure_us=median(us["hand_unstructure"]),
        unstructure_ratio=paired("unstructure", "hand_unstructure"),
    )
