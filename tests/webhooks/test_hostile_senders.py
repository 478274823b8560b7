"""The webhook receiver against senders that misbehave: slow bodies, odd ids, deep nesting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from heymarket_async.errors import ConfigurationError
from heymarket_async.webhooks import (
    MAX_EVENT_DEPTH,
    WEBHOOK_RECEIVER_KEY,
    WebhookEvent,
    WebhookPayloadError,
    WebhookReceiver,
    create_webhook_app,
    parse_event,
)

TOKEN = "whk-7c1e-not-guessable"
PATH = "/heymarket/webhook"


def nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep."""
    return '{"a":' * (depth - 1) + '{"b":1}' + "}" * (depth - 1)


def envelope(*, id_json: str = "31", event_data_json: str = "{}", type_: str = "x") -> bytes:
    return (
        f'{{"type":"{type_}","id":{id_json},"token":"{TOKEN}","event_data":{event_data_json}}}'
    ).encode()


class Calls:
    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.events.append(event)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, int, Calls]]:
    calls = Calls()
    app = create_webhook_app(calls, token=TOKEN, body_timeout=0.3, shutdown_timeout=0.5)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield "127.0.0.1", runner.addresses[0][1], calls
    finally:
        await runner.cleanup()


async def raw_post(host: str, port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def slow_sender(host: str, port: int, *, drip: bool) -> tuple[bytes, int]:
    """Announce a 1,000-byte body, then send a few bytes (and, with ``drip``, one byte every
    50 ms); return the answer and how many bytes were sent before the connection closed."""
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0

    async def send_slowly() -> None:
        nonlocal sent
        writer.write(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{".encode())
        sent += 1
        while drip and sent < 1000:
            await asyncio.sleep(0.05)
            writer.write(b" ")
            await writer.drain()
            sent += 1

    sender = asyncio.create_task(send_slowly())
    try:
        # The whole answer ends when the receiver closes the connection.
        answer = await asyncio.wait_for(reader.read(), timeout=8)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    return answer, sent


@pytest.mark.parametrize("drip", [False, True], ids=["stalled", "dripping"])
async def test_a_slow_body_gets_408_and_the_connection_is_closed(
    served: tuple[str, int, Calls], drip: bool
) -> None:
    """A sender that stalls or drips its body gets 408 after body_timeout, and the receiver
    closes the connection rather than reading the rest."""
    host, port, calls = served
    answer, sent = await slow_sender(host, port, drip=drip)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"body not received within 0.3 s"' in answer
    assert sent < 1000
    assert calls.events == []


async def test_many_slow_senders_are_all_cut_off(served: tuple[str, int, Calls]) -> None:
    """Twenty stalled senders at once all get 408 and their connections back."""
    host, port, _ = served
    answers = await asyncio.gather(*(slow_sender(host, port, drip=False) for _ in range(20)))
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer, _ in answers)
    status, body = await raw_post(host, port, envelope())
    assert (status, body) == (200, {"ok": True})


@pytest.mark.parametrize(
    ("id_json", "error"),
    [
        ('"²"', "id must be an integer"),
        ('"٣"', "id must be an integer"),
        ('"' + "9" * 5000 + '"', "id must be an integer"),
        ("9" * 4000, "at most 64 bits"),
        ("1e3", "id must be an integer"),
    ],
    ids=["superscript", "arabic-indic", "5000-digit-string", "4000-digit-number", "float"],
)
async def test_odd_ids_with_a_valid_token_are_400(
    served: tuple[str, int, Calls], id_json: str, error: str
) -> None:
    """An envelope with the right token and an odd id is refused with 400, never 500."""
    host, port, calls = served
    status, body = await raw_post(host, port, envelope(id_json=id_json))
    assert status == 400
    assert error in body["error"]
    assert calls.events == []


@pytest.mark.parametrize("depth", [MAX_EVENT_DEPTH + 1, 1000, 100_000])
async def test_deeply_nested_event_data_is_400(served: tuple[str, int, Calls], depth: int) -> None:
    """event_data nested a thousand deep (or far more) is refused with 400, never 500."""
    host, port, calls = served
    for type_ in ("message_sent", "chat_closed", "target_opt_out", "never_heard_of"):
        status, body = await raw_post(
            host, port, envelope(type_=type_, event_data_json=nested(depth))
        )
        assert status == 400, body
        assert "nested" in body["error"] or "not valid JSON" in body["error"]
    assert calls.events == []


def test_parse_event_limits_depth_and_ids() -> None:
    """The pure parser accepts the deepest allowed event and refuses one level more."""
    deepest = parse_event(envelope(event_data_json=nested(MAX_EVENT_DEPTH)))
    assert deepest.webhook_id == 31
    assert parse_event(envelope(id_json='" 42 "')).webhook_id == 42
    assert parse_event(envelope(id_json=str(2**63 - 1))).webhook_id == 2**63 - 1
    with pytest.raises(WebhookPayloadError, match="deeper than"):
        parse_event(envelope(event_data_json=nested(MAX_EVENT_DEPTH + 1)))
    with pytest.raises(WebhookPayloadError, match="id must be an integer"):
        parse_event(envelope(id_json='"²"'))


@pytest.mark.parametrize("body_timeout", [0, -1.0, float("inf"), float("nan"), "10", True])
def test_body_timeout_must_be_a_positive_number(body_timeout: Any) -> None:
    """A body_timeout that is not a positive finite number is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="body_timeout"):
        WebhookReceiver(Calls(), token=TOKEN, body_timeout=body_timeout)


def test_apps_carry_the_body_timeout() -> None:
    """create_webhook_app passes body_timeout to its receiver."""
    app = create_webhook_app(Calls(), token=TOKEN, body_timeout=2.5)
    assert app[WEBHOOK_RECEIVER_KEY]._body_timeout == 2.5
