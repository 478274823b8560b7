"""The client against servers that send too much, too slowly, or the wrong thing.

Every test runs against the hostile server on 127.0.0.1 and bounds its own time with a
generous ``asyncio.wait_for``: the point is that nothing hangs or grows without limit.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from heymarket_async import HeymarketClient, RetryPolicy, Timeouts
from heymarket_async._transport import AiohttpTransport
from heymarket_async.errors import (
    APIError,
    ConfigurationError,
    HeymarketError,
    NotFoundError,
    ResponseTooLargeError,
    ServerError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from tests.helpers import SECRET_KEY
from tests.hostile import Answer, HostileServer, Seen

TEAM = {"id": 1, "name": "Team", "list_size": 100}
MiB = 1024 * 1024
NO_RETRY = RetryPolicy.disabled()


async def test_endless_2xx_body_ends_in_response_too_large() -> None:
    """A 2xx body that never ends stops at max_response_size with ResponseTooLargeError."""
    async with HostileServer() as server:
        chunk = b'{"id": 1, "pad": "' + b"x" * 65_000
        server.script("GET", "/v1/team", then=Answer(body=chunk, endless=True))
        async with server.client(retry=NO_RETRY) as hm:
            with pytest.raises(ResponseTooLargeError) as info:
                await asyncio.wait_for(hm.team.get(), timeout=30)
    assert info.value.accepted is True
    assert info.value.status == 200
    assert "max_response_size" in str(info.value)


async def test_an_oversized_body_is_not_buffered() -> None:
    """Reading an endless answer keeps memory near the limit, far below what was sent."""
    async with HostileServer() as server:
        # Streamed (the server holds one chunk at a time), so the peak is the client's.
        server.script("GET", "/v1/team", then=Answer(body=b" " * 65_536, endless=True))
        async with server.client(retry=NO_RETRY, max_response_size=4 * MiB) as hm:
            tracemalloc.start()
            try:
                with pytest.raises(ResponseTooLargeError):
                    await asyncio.wait_for(hm.team.get(), timeout=30)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert peak < 12 * MiB


async def test_endless_error_body_gives_its_api_error_from_an_excerpt() -> None:
    """A 5xx page that never ends still raises ServerError, built from its first bytes."""
    async with HostileServer() as server:
        page = b"<html><h1>Bad gateway</h1>" + b"<p>filler</p>" * 5000
        server.script("GET", "/v1/team", then=Answer(status=502, body=page, endless=True))
        async with server.client(retry=NO_RETRY, max_response_size=MiB) as hm:
            with pytest.raises(ServerError) as info:
                await asyncio.wait_for(hm.team.get(), timeout=30)
    assert info.value.status == 502
    assert info.value.message.startswith("Bad gateway filler")
    assert len(info.value.message) <= 300


async def test_an_oversized_declared_body_leaves_the_client_usable() -> None:
    """After a Content-Length over the limit, the next call on the same client works."""
    async with HostileServer() as server:
        server.script(
            "GET",
            "/v1/team",
            Answer.json({"id": 1, "pad": "x" * (2 * MiB)}),
            then=Answer.json(TEAM),
        )
        async with server.client(retry=NO_RETRY, max_response_size=MiB) as hm:
            with pytest.raises(ResponseTooLargeError):
                await asyncio.wait_for(hm.team.get(), timeout=30)
            team = await asyncio.wait_for(hm.team.get(), timeout=30)
    assert team.list_size == 100


@pytest.mark.parametrize("drip", [None, 0.0], ids=["content-length", "chunked"])
async def test_a_body_at_the_limit_is_read_whole(drip: float | None) -> None:
    """A body of exactly max_response_size bytes is read; one byte less is too large."""
    body = json.dumps(TEAM).encode()
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer(body=body, drip=drip))
        async with server.client(retry=NO_RETRY, max_response_size=len(body)) as hm:
            team = await asyncio.wait_for(hm.team.get(), timeout=30)
        async with server.client(retry=NO_RETRY, max_response_size=len(body) - 1) as hm:
            with pytest.raises(ResponseTooLargeError):
                await asyncio.wait_for(hm.team.get(), timeout=30)
    assert team.name == "Team"


@pytest.mark.parametrize("retry", [NO_RETRY, RetryPolicy(attempts=5, deadline=1.0)])
async def test_a_dripping_server_cannot_outlast_the_deadline(retry: RetryPolicy) -> None:
    """A server dripping one byte every 50 ms is cut off at the call's deadline."""
    body = json.dumps({**TEAM, "pad": "x" * 2000}).encode()
    if retry.attempts == 1:
        retry = RetryPolicy(attempts=1, deadline=1.0)
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer(body=body, drip=0.05))
        async with server.client(retry=retry) as hm:
            started = time.monotonic()
            with pytest.raises(TransportTimeoutError) as info:
                await asyncio.wait_for(hm.team.get(), timeout=15)
            elapsed = time.monotonic() - started
    assert info.value.possibly_sent is True
    assert elapsed < 10  # sock_read alone would let the 100 s drip run on


async def test_a_compressed_body_is_bounded_by_its_decompressed_size() -> None:
    """A small gzip body that inflates past max_response_size is cut, not inflated whole."""
    bomb = gzip.compress(b" " * (64 * MiB))
    async with HostileServer() as server:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        server.script("GET", "/v1/team", then=Answer(body=bomb, headers=headers))
        async with server.client(retry=NO_RETRY, max_response_size=MiB) as hm:
            with pytest.raises(ResponseTooLargeError):
                await asyncio.wait_for(hm.team.get(), timeout=30)
    assert len(bomb) < MiB


async def test_an_attempt_past_the_deadline_is_not_sent() -> None:
    """A transport asked to send after the call's deadline refuses without sending."""
    async with HostileServer() as server:
        transport = AiohttpTransport(session=None, timeouts=Timeouts())
        try:
            with pytest.raises(TransportTimeoutError) as info:
                await transport.send(
                    "GET",
                    server.base_url + "/v1/team",
                    headers={},
                    params=None,
                    body=None,
                    deadline=time.monotonic() - 0.001,
                )
        finally:
            await transport.aclose()
    assert info.value.possibly_sent is False
    assert server.requests == []


async def test_deadlines_of_concurrent_attempts_are_each_enforced() -> None:
    """Attempts with different deadlines end at their own; the task is left uncancelled."""
    body = json.dumps({**TEAM, "pad": "x" * 400}).encode()  # 20 s of dripping
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer(body=body, drip=0.05))
        transport = AiohttpTransport(session=None, timeouts=Timeouts())

        async def attempt(seconds: float) -> tuple[float, int]:
            started = time.monotonic()
            with pytest.raises(TransportTimeoutError):
                await transport.send(
                    "GET",
                    server.base_url + "/v1/team",
                    headers={},
                    params=None,
                    body=None,
                    deadline=started + seconds,
                )
            task = asyncio.current_task()
            assert task is not None
            return time.monotonic() - started, task.cancelling()

        try:
            results = await asyncio.wait_for(
                asyncio.gather(attempt(1.2), attempt(0.3), attempt(0.6)), timeout=15
            )
        finally:
            await transport.aclose()
    for (elapsed, cancelling), deadline in zip(results, (1.2, 0.3, 0.6), strict=True):
        assert deadline <= elapsed < 10
        assert cancelling == 0


async def test_a_caller_cancelling_a_watched_attempt_gets_cancelled_error() -> None:
    """Cancelling a call from outside is never turned into a timeout."""
    body = json.dumps(TEAM).encode()
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer(body=body, drip=0.05))
        async with server.client(retry=RetryPolicy(attempts=1, deadline=30)) as hm:
            call = asyncio.create_task(hm.team.get())
            await asyncio.sleep(0.3)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(call, timeout=10)
            server.script("GET", "/v1/team", Answer.json(TEAM))
            team = await asyncio.wait_for(hm.team.get(), timeout=10)
    assert team.list_size == 100


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "16", None])
def test_max_response_size_must_be_a_positive_int(value: Any) -> None:
    """max_response_size is refused at construction unless it is a positive integer."""
    with pytest.raises(ConfigurationError, match="max_response_size"):
        HeymarketClient(api_key="key-1", max_response_size=value)


# --- Bare acknowledgements and odd bodies through the services ------------------------------

UUID = "0b0e1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
Action = Callable[[HeymarketClient], Awaitable[object]]
ACTIONS: dict[str, Action] = {
    "contacts.delete": lambda hm: hm.contacts.delete(5),
    "contacts.set_status": lambda hm: hm.contacts.set_status(
        status="unsubscribed", phone="15105553344"
    ),
    "contacts.v2.delete": lambda hm: hm.contacts.v2.delete(UUID),
    "contacts.v2.delete_channel": lambda hm: hm.contacts.v2.delete_channel(UUID, "phone"),
    "lists.delete": lambda hm: hm.lists.delete(5),
    "lists.update": lambda hm: hm.lists.update(5, title="renamed"),
    "tags.delete": lambda hm: hm.tags.delete(7),
    "templates.delete": lambda hm: hm.templates.delete(7),
    "schedules.delete": lambda hm: hm.schedules.delete(7),
    "conversations.open": lambda hm: hm.conversations.open(
        inbox_id=1, user_id=2, target="15105553344"
    ),
    "conversations.close": lambda hm: hm.conversations.close(inbox_id=1, user_id=2, chat_id=9),
    "conversations.read": lambda hm: hm.conversations.read(
        inbox_id=1, user_id=2, target="15105553344"
    ),
}
ACKNOWLEDGEMENTS = [
    Answer.text("ok"),
    Answer.text("success\n", headers={"Content-Type": "text/html"}),
    Answer.text("OK", headers={"Content-Type": "application/json"}),
    Answer.json("ok"),
    Answer.json("success"),
    Answer(body=b"ok", headers={"Content-Type": "application/octet-stream"}),
]


async def _route_of(server: HostileServer, hm: HeymarketClient, action: Action) -> Seen:
    """The method and path an action uses (learnt from an unscripted 404)."""
    with pytest.raises(NotFoundError):
        await action(hm)
    return server.requests[-1]


@pytest.mark.parametrize("name", sorted(ACTIONS))
async def test_actions_accept_bare_acknowledgements(name: str) -> None:
    """An action answered ok/success (quoted or not, any content type) succeeds."""
    action = ACTIONS[name]
    async with HostileServer() as server, server.client(retry=NO_RETRY) as hm:
        seen = await _route_of(server, hm, action)
        server.script(seen.method, seen.path, *ACKNOWLEDGEMENTS)
        for _ in ACKNOWLEDGEMENTS:
            await asyncio.wait_for(action(hm), timeout=10)
        assert len(server.seen(seen.method, seen.path)) == 1 + len(ACKNOWLEDGEMENTS)


ODD_2XX = [
    Answer.text("ok"),
    Answer.text("<html><body>Accepted</body></html>", headers={"Content-Type": "text/html"}),
    Answer.json([]),
    Answer.json({}),
    Answer(),
    Answer.text("[" * 100_000, headers={"Content-Type": "application/json"}),
    Answer.text('{"id": ' + "9" * 5000 + "}", headers={"Content-Type": "application/json"}),
    Answer.json({"id": "\u00b2", "count": "\u00b2", "messages": 5}),
    Answer.json("\u00b2"),
    Answer.json("9" * 5000),
]
READS: dict[str, Action] = {
    "team.get": lambda hm: hm.team.get(),
    "inboxes.list": lambda hm: hm.inboxes.list(),
    "messages.count": lambda hm: hm.messages.count(),
    "messages.history": lambda hm: hm.messages.history(phone_number="15105553344", inbox_id=1),
    "contacts.count": lambda hm: hm.contacts.count(),
    "contacts.list_fields": lambda hm: hm.contacts.list_fields(),
    "contacts.v2.list_channels": lambda hm: hm.contacts.v2.list_channels(UUID),
    "conversations.count": lambda hm: hm.conversations.count(),
    "surveys.list": lambda hm: hm.surveys.list(),
    "tags.create": lambda hm: hm.tags.create(tag="vip"),
}


@pytest.mark.parametrize("name", sorted(READS))
async def test_odd_2xx_answers_raise_only_unexpected_response_error(name: str) -> None:
    """Text, HTML, junk JSON, deep nesting and odd digits give UnexpectedResponseError."""
    action = READS[name]
    async with HostileServer() as server, server.client(retry=NO_RETRY) as hm:
        seen = await _route_of(server, hm, action)
        server.script(seen.method, seen.path, *ODD_2XX)
        for answer in ODD_2XX:
            try:
                await asyncio.wait_for(action(hm), timeout=10)
            except UnexpectedResponseError:
                pass  # accepted but unreadable: the one error a 2xx may give
            except HeymarketError as exc:
                pytest.fail(f"{answer.body[:40]!r} raised {type(exc).__name__}: {exc}")


# --- Secrets echoed by a proxy -------------------------------------------------------------------

API_KEY = "hm-api-key-7f3e9a1c5b2d4e6f"


def _echo(status: int) -> Callable[[Seen], Answer]:
    """A proxy that echoes the request headers into its answer and its request id."""

    def answer(seen: Seen) -> Answer:
        headers = dict(seen.headers)
        text = f"<html><body>upstream failed; you sent {headers}</body></html>"
        return Answer.text(
            text,
            status=status,
            headers={"Content-Type": "text/html", "X-Request-Id": headers["Authorization"]},
        )

    return answer


def _assert_hidden(secrets: list[str], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize("status", [200, 400, 401, 403, 429, 502])
@pytest.mark.parametrize("auth", ["api_key", "secret_pair"])
async def test_echoed_secrets_are_redacted(
    status: int, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy echoing the Authorization header never puts the key or JWT in errors or logs."""
    caplog.set_level(logging.DEBUG, logger="heymarket_async")
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=_echo(status))
        if auth == "api_key":
            hm = HeymarketClient(api_key=API_KEY, base_url=server.base_url, retry=NO_RETRY)
        else:
            hm = server.client(retry=NO_RETRY)
        async with hm:
            with pytest.raises((APIError, UnexpectedResponseError)) as info:
                await asyncio.wait_for(hm.team.get(), timeout=10)
        sent = server.requests[-1].headers["Authorization"].removeprefix("Bearer ")
    secrets = [sent, API_KEY, SECRET_KEY]
    error = info.value
    _assert_hidden(secrets, str(error), repr(error), caplog.text)
    if isinstance(error, APIError):
        _assert_hidden(secrets, error.message, *error.headers.values(), error.request_id or "")
    assert "[redacted]" in str(error)


async def test_echoed_secret_key_is_redacted() -> None:
    """A server that somehow holds the secret key and prints it gets it redacted."""
    async with HostileServer() as server:
        server.script(
            "GET", "/v1/team", then=Answer.json({"message": f"key {SECRET_KEY}"}, status=500)
        )
        async with server.client(retry=NO_RETRY) as hm:
            with pytest.raises(ServerError) as info:
                await hm.team.get()
    assert SECRET_KEY not in str(info.value)
    assert info.value.message == "key [redacted]"


@pytest.mark.parametrize(
    ("timeouts", "bound"),
    [(Timeouts(connect=0.2, read=0.3), 0.5), (Timeouts(connect=5.0, total=0.4), 0.4)],
)
async def test_read_and_total_bound_the_whole_answer(timeouts: Timeouts, bound: float) -> None:
    """`connect + read` and `total` bound an attempt even while bytes keep coming (each
    gap is well under `read`), long before the call's deadline."""
    body = json.dumps({**TEAM, "pad": "x" * 400}).encode()  # 20 s of dripping
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer(body=body, drip=0.05))
        async with server.client(retry=NO_RETRY, timeout=timeouts) as hm:
            started = time.monotonic()
            with pytest.raises(TransportTimeoutError) as info:
                await asyncio.wait_for(hm.team.get(), timeout=15)
            elapsed = time.monotonic() - started
            task = asyncio.current_task()
            assert task is not None
            assert task.cancelling() == 0
    assert info.value.possibly_sent is True
    assert "timed out waiting for the answer" in str(info.value)
    assert bound <= elapsed < bound + 2


async def test_a_silent_server_times_out_after_connect_plus_read() -> None:
    """A server that never answers ends the attempt at `connect + read`, marked possibly
    sent; a per-call timeout replaces the client's."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json(TEAM, delay=3))
        async with server.client(retry=NO_RETRY) as hm:
            started = time.monotonic()
            with pytest.raises(TransportTimeoutError) as info:
                await asyncio.wait_for(
                    hm.team.get(timeout=Timeouts(connect=0.1, read=0.2)), timeout=15
                )
            elapsed = time.monotonic() - started
    assert info.value.possibly_sent is True
    assert 0.3 <= elapsed < 2.3
