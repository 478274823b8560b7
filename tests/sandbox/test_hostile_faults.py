"""The hostile fault kinds (unreadable 2xx, hidden local_ids, huge Retry-After, slow drip,
oversized answers) and the ledger endpoint, seen by a raw HTTP client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from heymarket_async.sandbox import FAR_FUTURE_HTTP_DATE, Fault, FaultKind, FaultPlan, Sandbox

SEND = "POST /v1/message/send"
HISTORY = "GET /v1/messages"
ALL_MESSAGES = "POST /v1/messages/all"
PHONE = "15105550199"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None, dedupe_individual_sends=False) as sb:
        yield sb


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def send_body(phone: str = PHONE) -> dict[str, Any]:
    return {"inbox_id": 42, "phone_number": phone, "text": "hi", "local_id": f"l-{phone}"}


async def post_send(
    session: aiohttp.ClientSession, sb: Sandbox, phone: str = PHONE
) -> tuple[int, str, bytes]:
    async with session.post(
        sb.url + "/v1/message/send", json=send_body(phone), headers=sb.auth_headers()
    ) as response:
        return response.status, response.content_type, await response.read()


async def history(session: aiohttp.ClientSession, sb: Sandbox) -> list[dict[str, Any]]:
    async with session.get(
        sb.url + "/v1/messages",
        params={"phoneNumber": PHONE, "inboxID": "42"},
        headers=sb.auth_headers(),
    ) as response:
        assert response.status == 200
        page = await response.json()
    return page if isinstance(page, list) else page["messages"]


async def all_messages(session: aiohttp.ClientSession, sb: Sandbox) -> list[dict[str, Any]]:
    async with session.post(
        sb.url + "/v1/messages/all", json={"limit": 50}, headers=sb.auth_headers()
    ) as response:
        assert response.status == 200
        page = await response.json()
    return page if isinstance(page, list) else page["messages"]


# -- unreadable 2xx after commit ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("text", "text/plain", b"ok"),
        ("html", "text/html", b"<!DOCTYPE html>"),
        ("empty", "application/json", b""),
        ("array", "application/json", b"[]"),
    ],
)
async def test_unreadable_2xx_commits_then_answers_something_else(
    session: aiohttp.ClientSession,
    sandbox: Sandbox,
    body: Any,
    content_type: str,
    expected: bytes,
) -> None:
    """The send is in the ledger, yet the 200 carries no readable answer."""
    sandbox.faults.next(Fault.unreadable_success(body), route=SEND)
    status, kind, raw = await post_send(session, sandbox)
    assert (status, kind) == (200, content_type)
    assert raw.startswith(expected)
    assert len(sandbox.ledger) == 1
    assert sandbox.ledger[0].recipients == (PHONE,)
    assert sandbox.stats.faults == {FaultKind.UNREADABLE_2XX: 1}


async def test_unreadable_2xx_can_be_json_cut_in_half(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """``truncated`` sends the first half of the real answer: JSON that does not parse."""
    sandbox.faults.next(Fault.unreadable_success("truncated"), route=SEND)
    status, _, raw = await post_send(session, sandbox)
    assert status == 200
    assert raw.startswith(b'{"id":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert len(sandbox.ledger) == 1


async def test_unreadable_2xx_never_hides_a_refusal(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """A request the API refuses still gets its 4xx: a 200 would claim it took effect."""
    sandbox.opt_out(PHONE)
    sandbox.faults.next(Fault.unreadable_success("text"), route=SEND)
    status, _, raw = await post_send(session, sandbox)
    assert status == 400
    assert b"unsubscribed" in raw
    assert len(sandbox.ledger) == 0


# -- history without local_id ------------------------------------------------------------------


@pytest.mark.parametrize(("how", "shown"), [("absent", "missing"), ("null", None), ("empty", "")])
async def test_history_without_local_id_hides_the_field(
    session: aiohttp.ClientSession, sandbox: Sandbox, how: Any, shown: object
) -> None:
    """A faulted listing shows the messages, each with its local_id hidden as asked."""
    assert (await post_send(session, sandbox))[0] == 200
    assert [m["local_id"] for m in await history(session, sandbox)] == [f"l-{PHONE}"]
    sandbox.faults.next(Fault.history_without_local_id(how), route=HISTORY)
    (message,) = await history(session, sandbox)
    assert message.get("local_id", "missing") == shown
    assert message["text"] == "hi"
    assert [m["local_id"] for m in await history(session, sandbox)] == [f"l-{PHONE}"]


async def test_sandbox_switch_hides_local_ids_from_every_listing() -> None:
    """history_local_ids=False blinds both listings and nothing else."""
    async with (
        Sandbox(rate_limit_per_minute=None, history_local_ids=False) as sb,
        aiohttp.ClientSession() as session,
    ):
        assert (await post_send(session, sb))[0] == 200
        assert sb.ledger[0].local_id == f"l-{PHONE}"
        for listed in (await history(session, sb), await all_messages(session, sb)):
            assert listed
            assert all("local_id" not in message for message in listed)
        sb.history_local_ids = True
        assert [m["local_id"] for m in await history(session, sb)] == [f"l-{PHONE}"]


# -- huge Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "header"),
    [
        (Fault.huge_retry_after(), 429, "1e9"),
        (Fault.huge_retry_after(float("inf")), 429, "inf"),
        (Fault.huge_retry_after(FAR_FUTURE_HTTP_DATE, status=503), 503, FAR_FUTURE_HTTP_DATE),
    ],
)
async def test_huge_retry_after_refuses_with_an_absurd_wait(
    session: aiohttp.ClientSession, sandbox: Sandbox, fault: Fault, status: int, header: str
) -> None:
    """The answer asks for an absurd wait, verbatim, and nothing is processed."""
    sandbox.faults.next(fault, route=SEND)
    async with session.post(
        sandbox.url + "/v1/message/send", json=send_body(), headers=sandbox.auth_headers()
    ) as response:
        assert response.status == status
        assert response.headers["Retry-After"] == header
        assert response.headers["X-Request-Id"]
    assert len(sandbox.ledger) == 0


# -- slow drip -----------------------------------------------------------------------------------


async def test_slow_drip_sends_the_answer_a_byte_at_a_time(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """The whole, valid answer arrives in many pieces, after the send was committed."""
    sandbox.faults.next(Fault.slow_drip(byte_delay=0.001), route=SEND)
    async with session.post(
        sandbox.url + "/v1/message/send", json=send_body(), headers=sandbox.auth_headers()
    ) as response:
        assert response.status == 200
        assert len(sandbox.ledger) == 1  # committed before the first byte
        pieces = [chunk async for chunk in response.content.iter_any()]
    assert len(pieces) > 10
    assert json.loads(b"".join(pieces))["id"] == sandbox.ledger[0].message_id


async def test_slow_drip_outlasts_a_client_deadline_after_the_commit(
    session: aiohttp.ClientSession, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that bounds the whole answer gives up; the send took effect all the same,
    and the sandbox carries on without a warning."""
    caplog.set_level(logging.DEBUG)
    sandbox.faults.next(Fault.slow_drip(byte_delay=0.5), route=SEND)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            sandbox.url + "/v1/message/send",
            json=send_body(),
            headers=sandbox.auth_headers(),
            timeout=aiohttp.ClientTimeout(total=0.3),
        ) as response:
            await response.read()
    assert len(sandbox.ledger) == 1
    assert (await post_send(session, sandbox, "15105550100"))[0] == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_slow_drip_can_cut_a_long_answer_into_few_pieces(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """max_writes bounds how many pieces (and so how long) a long listing drips."""
    for n in range(30):
        assert (await post_send(session, sandbox, f"1510555{n:04d}"))[0] == 200
    # One piece: all of it at once, though a byte at a time would take hours.
    sandbox.faults.next(Fault.slow_drip(byte_delay=30.0, max_writes=1), route=ALL_MESSAGES)
    listed = await asyncio.wait_for(all_messages(session, sandbox), timeout=10)
    assert len(listed) == 30
    assert sandbox.stats.faults == {FaultKind.SLOW_DRIP: 1}


async def test_stop_does_not_wait_out_a_slow_drip() -> None:
    """Stopping the sandbox finishes a dripping answer at once."""
    sandbox = Sandbox(rate_limit_per_minute=None)
    await sandbox.start()
    sandbox.faults.next(Fault.slow_drip(byte_delay=30.0), route=SEND)
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(post_send(session, sandbox))
        for _ in range(1000):  # until the drip has begun
            if sandbox.stats.faults[FaultKind.SLOW_DRIP]:
                break
            await asyncio.sleep(0.01)
        await asyncio.wait_for(sandbox.stop(), timeout=10)
        try:
            status, _, raw = await asyncio.wait_for(task, timeout=10)
        except aiohttp.ClientError:
            pass  # a disconnect is as good as an answer here
        else:
            assert status == 200
            assert json.loads(raw)["id"] == sandbox.ledger[0].message_id


# -- oversized -----------------------------------------------------------------------------------


async def test_oversized_answer_is_the_answer_padded_to_size(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """An oversized answer has exactly the asked size and is still the real (valid) JSON."""
    size = 3 * 1024 * 1024
    sandbox.faults.next(Fault.oversized(size), route=SEND)
    status, _, raw = await post_send(session, sandbox)
    assert status == 200
    assert len(raw) == size
    assert json.loads(raw)["id"] == sandbox.ledger[0].message_id
    assert len(sandbox.ledger) == 1


async def test_oversized_answer_survives_a_client_that_hangs_up(
    session: aiohttp.ClientSession, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that stops reading after 64 KiB and closes leaves the sandbox healthy."""
    caplog.set_level(logging.DEBUG)
    sandbox.faults.next(Fault.oversized(64 * 1024 * 1024), route=SEND)
    async with session.post(
        sandbox.url + "/v1/message/send", json=send_body(), headers=sandbox.auth_headers()
    ) as response:
        assert response.content_length == 64 * 1024 * 1024
        await response.content.readexactly(64 * 1024)
        response.close()
    assert len(sandbox.ledger) == 1
    assert (await post_send(session, sandbox, "15105550100"))[0] == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- the ledger over HTTP ------------------------------------------------------------------------


async def test_ledger_endpoint_shows_counts_and_sends_per_recipient(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """GET /_sandbox/ledger needs no credentials, meets no fault, and counts every send."""
    for phone in (PHONE, PHONE, "15105550100"):  # dedupe is off: the first phone twice
        assert (await post_send(session, sandbox, phone))[0] == 200
    sandbox.faults = FaultPlan.chaos(1.0)
    requests_before = sandbox.stats.total_requests
    async with session.get(sandbox.url + "/_sandbox/ledger") as response:
        assert response.status == 200
        document = await response.json()
    assert document["entries"] == 3
    assert document["recipients"] == 2
    assert document["duplicates"] == {PHONE: 2}
    assert document["sends_by_recipient"] == {PHONE: 2, "15105550100": 1}
    assert document["by_kind"] == {"individual": 3}
    assert "ledger" not in document
    async with session.get(sandbox.url + "/_sandbox/ledger?entries=1") as response:
        full = await response.json()
    assert [entry["recipients"] for entry in full["ledger"]] == [
        [PHONE],
        [PHONE],
        ["15105550100"],
    ]
    assert full["ledger"][0]["local_id"] == f"l-{PHONE}"
    assert sandbox.stats.total_requests == requests_before  # not an API request
    assert full == {**sandbox.ledger_document(entries=True), "ledger": full["ledger"]}


async def test_sandbox_paths_refuse_other_methods_and_names(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """Only GET /_sandbox/ledger exists under /_sandbox/."""
    async with session.post(sandbox.url + "/_sandbox/ledger") as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET")
    async with session.get(sandbox.url + "/_sandbox/secrets") as response:
        assert response.status == 404
