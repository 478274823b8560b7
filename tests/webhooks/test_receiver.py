"""The webhook receiver over real HTTP on 127.0.0.1 (§5): status codes, dedupe, callbacks."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from heymarket_async.errors import ConfigurationError
from heymarket_async.webhooks import (
    WEBHOOK_RECEIVER_KEY,
    ChatEvent,
    MessageEvent,
    WebhookEvent,
    WebhookReceiver,
    create_webhook_app,
    webhook_handler,
)

TOKEN = "whk-7c1e-not-guessable"
PATH = "/heymarket/webhook"


def delivery(type_: str = "message_recieved", message_id: int = 9001, **extra: Any) -> bytes:
    event_data = {"id": message_id, "text": "hi", "conversation": {"id": 555}}
    return json.dumps(
        {"type": type_, "id": 31, "token": TOKEN, "event_data": event_data, **extra}
    ).encode()


class Recorder:
    """An async callback that records the events it receives."""

    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.events.append(event)


class Served:
    """A running app plus a raw client session pointed at it."""

    def __init__(self, runner: web.AppRunner, session: aiohttp.ClientSession, url: str) -> None:
        self.runner = runner
        self.session = session
        self.url = url
        self.receiver = runner.app[WEBHOOK_RECEIVER_KEY]
        self.stopped = False

    async def send(
        self, data: Any, *, method: str = "POST", path: str = PATH
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        async with self.session.request(method, self.url + path, data=data) as response:
            return response.status, await response.json(), response.headers

    async def post(self, data: Any, *, path: str = PATH) -> tuple[int, dict[str, Any]]:
        status, body, _headers = await self.send(data, path=path)
        return status, body

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.session.close()
            await self.runner.cleanup()


RunApp = Callable[[web.Application], Awaitable[Served]]
Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def run_app() -> AsyncIterator[RunApp]:
    """Serve aiohttp apps on 127.0.0.1 port 0; stop them all afterwards."""
    started: list[Served] = []

    async def run(app: web.Application) -> Served:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        served = Served(runner, aiohttp.ClientSession(), f"http://127.0.0.1:{port}")
        started.append(served)
        return served

    yield run
    for served in started:
        await served.stop()


@pytest.fixture
def serve(run_app: RunApp) -> Serve:
    """Serve `create_webhook_app(callback, token=TOKEN, **options)`."""

    async def start(callback: Any, **options: Any) -> Served:
        options.setdefault("shutdown_timeout", 0.5)
        return await run_app(create_webhook_app(callback, token=TOKEN, **options))

    return start


async def test_valid_delivery_reaches_the_callback_as_a_typed_event(serve: Serve) -> None:
    """A valid POST gets 200 `{"ok": true}` and the callback receives a MessageEvent."""
    recorder = Recorder()
    server = await serve(recorder)
    assert await server.post(delivery()) == (200, {"ok": True})
    await server.receiver.join()
    [event] = recorder.events
    assert isinstance(event, MessageEvent)
    assert event.is_inbound
    assert event.message.id == 9001


async def test_invalid_token_is_401_and_skips_the_callback(serve: Serve) -> None:
    """A wrong or missing token gets 401 and the callback never runs."""
    recorder = Recorder()
    server = await serve(recorder)
    wrong = json.loads(delivery())
    wrong["token"] = "whk-7c1e-not-guessablE"
    missing = json.loads(delivery())
    del missing["token"]
    for payload in (wrong, missing):
        status, body = await server.post(json.dumps(payload))
        assert (status, body) == (401, {"ok": False, "error": "invalid token"})
    await server.receiver.join()
    assert recorder.events == []


async def test_token_is_checked_before_event_data(serve: Serve) -> None:
    """A wrong token gets 401 even when event_data is malformed too."""
    server = await serve(Recorder())
    payload = {"type": "message_sent", "id": 1, "token": "nope", "event_data": [1]}
    status, _body = await server.post(json.dumps(payload))
    assert status == 401


async def test_duplicate_delivery_is_acknowledged_and_runs_once(serve: Serve) -> None:
    """A redelivery gets 200 marked duplicate and the callback runs only once."""
    recorder = Recorder()
    server = await serve(recorder)
    assert await server.post(delivery()) == (200, {"ok": True})
    assert await server.post(delivery()) == (200, {"ok": True, "duplicate": True})
    await server.receiver.join()
    assert len(recorder.events) == 1


async def test_dedupe_memory_is_bounded_and_least_recent_first(serve: Serve) -> None:
    """With `max_remembered=2` the least recently seen key is forgotten first."""
    recorder = Recorder()
    server = await serve(recorder, max_remembered=2)
    for message_id in (1, 2, 1, 3):  # seeing 1 again makes 2 the least recent
        await server.post(delivery(message_id=message_id))
    assert (await server.post(delivery(message_id=1)))[1] == {"ok": True, "duplicate": True}
    assert (await server.post(delivery(message_id=2)))[1] == {"ok": True}
    await server.receiver.join()
    assert [e.message.id for e in recorder.events if isinstance(e, MessageEvent)] == [1, 2, 3, 2]


async def test_zero_max_remembered_turns_dedupe_off(serve: Serve) -> None:
    """With `max_remembered=0` every delivery runs the callback."""
    recorder = Recorder()
    server = await serve(recorder, max_remembered=0)
    await server.post(delivery())
    await server.post(delivery())
    await server.receiver.join()
    assert len(recorder.events) == 2


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[]", "expected a JSON object, got list"),
    ],
)
async def test_malformed_json_is_400(serve: Serve, payload: bytes, error: str) -> None:
    """A body that is not a JSON object gets 400 with the reason."""
    recorder = Recorder()
    server = await serve(recorder)
    status, body = await server.post(payload)
    assert status == 400
    assert body["ok"] is False
    assert body["error"].startswith(error)
    assert recorder.events == []


async def test_wrong_event_shape_with_valid_token_is_400(serve: Serve) -> None:
    """An authenticated delivery whose event_data has the wrong shape gets 400."""
    server = await serve(Recorder())
    payload = {"type": "chat_closed", "id": 31, "token": TOKEN, "event_data": {"status": "x"}}
    status, body = await server.post(json.dumps(payload))
    assert status == 400
    assert "not a Conversation" in body["error"]
    assert TOKEN not in json.dumps(body)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_are_405(serve: Serve, method: str) -> None:
    """Anything but POST gets 405 with `Allow: POST`."""
    server = await serve(Recorder())
    status, body, headers = await server.send(None, method=method)
    assert (status, body) == (405, {"ok": False, "error": "method not allowed"})
    assert headers["Allow"] == "POST"


async def test_oversized_body_is_413(serve: Serve) -> None:
    """A body over `max_body_bytes` gets 413, with or without a Content-Length."""
    server = await serve(Recorder(), max_body_bytes=1024)
    assert (await server.post(b"x" * 2048))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 256

    assert (await server.post(chunks()))[0] == 413
    assert (await server.post(delivery()))[0] == 200


async def test_raising_callback_does_not_break_later_deliveries(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback error is logged, later deliveries still work and the failed one can replay."""
    seen: list[int] = []

    async def flaky(event: WebhookEvent) -> None:
        assert isinstance(event, MessageEvent)
        seen.append(event.message.id)
        if len(seen) == 1:
            raise RuntimeError("boom")

    server = await serve(flaky)
    with caplog.at_level(logging.ERROR, logger="heymarket_async.webhooks"):
        assert (await server.post(delivery(message_id=1)))[0] == 200
        await server.receiver.join()
    assert (await server.post(delivery(message_id=2)))[0] == 200
    assert await server.post(delivery(message_id=1)) == (200, {"ok": True})
    await server.receiver.join()
    assert seen == [1, 2, 1]
    [record] = caplog.records
    assert "callback failed" in record.getMessage()
    assert record.exc_info is not None
    assert TOKEN not in caplog.text


async def test_callback_runs_off_the_request_path(serve: Serve) -> None:
    """A callback blocked on an Event still lets the POST return 200 at once."""
    release = asyncio.Event()
    done: list[WebhookEvent] = []

    async def slow(event: WebhookEvent) -> None:
        await release.wait()
        done.append(event)

    server = await serve(slow)
    async with asyncio.timeout(2):
        assert await server.post(delivery()) == (200, {"ok": True})
    assert server.receiver.pending == 1
    assert done == []
    release.set()
    await server.receiver.join()
    assert len(done) == 1
    assert server.receiver.pending == 0


async def test_cleanup_waits_for_quick_callbacks_and_cancels_stuck_ones(serve: Serve) -> None:
    """On app cleanup, callbacks that finish in time complete and stuck ones are cancelled."""
    outcomes: list[str] = []

    async def callback(event: WebhookEvent) -> None:
        assert isinstance(event, MessageEvent)
        try:
            await asyncio.sleep(0.01 if event.message.id == 1 else 60)
            outcomes.append(f"finished {event.message.id}")
        except asyncio.CancelledError:
            outcomes.append(f"cancelled {event.message.id}")
            raise

    server = await serve(callback, shutdown_timeout=0.2)
    await server.post(delivery(message_id=1))
    await server.post(delivery(message_id=2))
    assert server.receiver.pending == 2
    await server.stop()
    assert sorted(outcomes) == ["cancelled 2", "finished 1"]
    assert server.receiver.pending == 0


async def test_closed_receiver_answers_503(serve: Serve) -> None:
    """After `close()`, deliveries get 503 so a retrying sender tries again later."""
    recorder = Recorder()
    server = await serve(recorder)
    await server.receiver.close()
    assert await server.post(delivery()) == (503, {"ok": False, "error": "shutting down"})
    assert recorder.events == []


async def test_secret_path_must_match(serve: Serve) -> None:
    """With `secret_path`, only `{path}/{secret_path}` accepts deliveries; others get 404."""
    server = await serve(Recorder(), secret_path="s3cr3t-Path_1")
    assert (await server.post(delivery(), path=PATH + "/s3cr3t-Path_1"))[0] == 200
    assert (await server.post(delivery(message_id=2), path=PATH + "/s3cr3t-Path_2"))[0] == 404


async def test_handler_mounts_in_a_users_own_app(run_app: RunApp) -> None:
    """`webhook_handler` and a hand-built `WebhookReceiver` both serve inside any app."""
    events: list[WebhookEvent] = []
    all_arrived = asyncio.Event()

    async def callback(event: WebhookEvent) -> None:
        events.append(event)
        if len(events) == 3:
            all_arrived.set()

    receiver = WebhookReceiver(callback, token=TOKEN, shutdown_timeout=0.5)
    app = web.Application()
    app.router.add_post("/hooks/a", webhook_handler(callback, token=TOKEN))
    app.router.add_post("/hooks/b", receiver.handle)
    app.on_cleanup.append(receiver.on_cleanup)
    app[WEBHOOK_RECEIVER_KEY] = receiver
    server = await run_app(app)
    assert await server.post(delivery("chat_closed"), path="/hooks/a") == (200, {"ok": True})
    assert await server.post(delivery("chat_opened"), path="/hooks/b") == (200, {"ok": True})
    assert (await server.post(delivery(), path="/hooks/b"))[0] == 200
    async with asyncio.timeout(2):  # the /hooks/a receiver has no join() in reach
        await all_arrived.wait()
    assert sum(isinstance(event, ChatEvent) for event in events) == 2


@pytest.mark.parametrize(
    "options",
    [
        {"token": ""},
        {"token": TOKEN, "max_remembered": -1},
        {"token": TOKEN, "max_body_bytes": 0},
        {"token": TOKEN, "shutdown_timeout": 0},
        {"token": TOKEN, "secret_path": "has/slash"},
        {"token": TOKEN, "path": "no-leading-slash"},
    ],
)
def test_invalid_options_raise_configuration_error(options: dict[str, Any]) -> None:
    """Bad receiver options raise ConfigurationError when the app is built."""
    with pytest.raises(ConfigurationError):
        create_webhook_app(Recorder(), **options)


def test_receiver_repr_hides_the_token() -> None:
    """The receiver's repr shows counters, never the token."""
    receiver = WebhookReceiver(Recorder(), token=TOKEN)
    assert TOKEN not in repr(receiver)
    assert repr(receiver) == "WebhookReceiver(pending=0, remembered=0, max_remembered=10000)"
