"""Fault injection: the plan's scheduling rules, and each fault kind as a client sees it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from heymarket_async.sandbox import Fault, FaultKind, FaultPlan, LedgerKind, Sandbox

SEND = "POST /v1/message/send"
INBOXES = "GET /v1/inboxes"


# -- the plan, without a server ------------------------------------------------------------


def kinds(plan: FaultPlan, route: str, n: int) -> list[str | None]:
    picked = [plan.pick(route) for _ in range(n)]
    return [f.kind.value if f else None for f in picked]


def test_next_faults_the_next_requests_then_lets_them_pass() -> None:
    """next(times=2) faults exactly the next two matching requests."""
    plan = FaultPlan()
    plan.next(Fault.server_error(503), route=SEND, times=2)
    assert plan.pending == 2
    assert kinds(plan, SEND, 4) == ["server_error", "server_error", None, None]
    assert plan.pending == 0
    assert plan.rules == []  # a used-up script removes itself
    assert plan.injected == {FaultKind.SERVER_ERROR: 2}


def test_after_targets_the_nth_request() -> None:
    """after=2 lets two requests through and faults the third."""
    plan = FaultPlan()
    plan.next(Fault.commit_then_drop(), route=SEND, after=2)
    assert kinds(plan, SEND, 4) == [None, None, "commit_then_drop", None]


def test_routes_are_matched_by_key_path_or_pattern() -> None:
    """A rule applies only to its routes: a key, a bare path, a pattern, or all."""
    plan = FaultPlan()
    plan.next(Fault.reset(), route="/v1/schedule/{id}", times=5)
    plan.next(Fault.reset(), route="POST /v2/*", times=5)
    assert plan.pick(SEND) is None
    assert plan.pick(INBOXES) is None
    assert plan.pick("GET /v1/schedule/{id}") is not None
    assert plan.pick("DELETE /v1/schedule/{id}") is not None
    assert plan.pick("POST /v2/lists") is not None
    assert plan.pick("PUT /v2/lists/{id}") is None
    everything = FaultPlan()
    everything.next(Fault.reset(), times=2)
    assert everything.pick(SEND) is not None
    assert everything.pick(INBOXES) is not None


def test_overlapping_scripts_postpone_rather_than_lose_faults() -> None:
    """When two scripted faults are due together, the later one fires on the next request."""
    plan = FaultPlan()
    plan.next(Fault.server_error(500), route=SEND)
    plan.next(Fault.reset(), route=SEND)
    assert kinds(plan, SEND, 3) == ["server_error", "reset", None]


def test_sequence_steps_through_faults_and_passes() -> None:
    """sequence() gives one step per request, None letting a request through."""
    plan = FaultPlan()
    plan.sequence([Fault.rate_limited(), None, Fault.latency(0.01)], route=SEND)
    assert kinds(plan, SEND, 4) == ["rate_limit", None, "latency", None]


def test_random_faults_are_reproducible_and_limited() -> None:
    """A random rule with the same seed picks the same requests; limit caps it."""

    def run(seed: int) -> list[str | None]:
        plan = FaultPlan(seed=seed)
        plan.random(Fault.server_error(502), probability=0.3, route=SEND)
        return kinds(plan, SEND, 200)

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    assert 30 < first.count("server_error") < 90
    limited = FaultPlan()
    limited.random(Fault.reset(), probability=1.0, limit=3)
    assert kinds(limited, SEND, 5) == ["reset", "reset", "reset", None, None]


def test_chaos_spreads_the_probability_over_every_kind() -> None:
    """chaos(p) faults about p of requests and uses every kind of fault: unreadable and
    oversized answers only on sends, hidden local_ids only on message listings."""
    plan = FaultPlan.chaos(0.5, seed=3)
    picked = Counter(kinds(plan, SEND, 4000))
    assert 0.45 < 1 - picked[None] / 4000 < 0.55
    every_kind = {kind.value for kind in FaultKind}
    assert set(picked) - {None} == every_kind - {"history_without_local_id"}
    listing = Counter(kinds(plan, "GET /v1/messages", 4000))
    assert set(listing) - {None} == every_kind - {"unreadable_2xx", "oversized"}
    assert 0.4 < 1 - listing[None] / 4000 < 0.6
    elsewhere = FaultPlan.chaos(0.5, seed=3, route=INBOXES)
    assert set(kinds(elsewhere, INBOXES, 2000)) - {None} == every_kind - {
        "unreadable_2xx",
        "oversized",
        "history_without_local_id",
    }
    assert Counter(kinds(FaultPlan.chaos(0.0), SEND, 100)) == {None: 100}


def test_chaos_can_be_limited_to_some_kinds() -> None:
    """chaos(p, kinds=...) injects only those kinds, still at rate p."""
    plan = FaultPlan.chaos(0.4, seed=1, kinds=["unreadable_2xx", FaultKind.OVERSIZED])
    picked = Counter(kinds(plan, SEND, 3000))
    assert set(picked) == {None, "unreadable_2xx", "oversized"}
    assert 0.35 < 1 - picked[None] / 3000 < 0.45
    only_history = FaultPlan.chaos(1.0, kinds=["history_without_local_id"])
    assert kinds(only_history, SEND, 3) == [None, None, None]
    assert kinds(only_history, "POST /v1/messages/all", 2) == ["history_without_local_id"] * 2
    with pytest.raises(ValueError, match="is not a valid FaultKind"):
        FaultPlan.chaos(0.1, kinds=["meteor"])
    with pytest.raises(ValueError, match="at least one"):
        FaultPlan.chaos(0.1, kinds=[])


def test_remove_and_clear_stop_rules() -> None:
    """Removed or cleared rules no longer fire."""
    plan = FaultPlan()
    rule = plan.random(Fault.reset(), probability=1.0)
    plan.remove(rule)
    assert plan.pick(SEND) is None
    plan.next(Fault.reset())
    plan.clear()
    assert not plan
    assert plan.pick(SEND) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: Fault.server_error(404),
        lambda: Fault.latency(-1),
        lambda: Fault.latency((2.0, 1.0)),
        lambda: FaultPlan().random(Fault.reset(), probability=1.5),
        lambda: FaultPlan().next(Fault.reset(), times=0),
        lambda: FaultPlan().next(Fault.reset(), route=[]),
        lambda: Fault.unreadable_success("xml"),  # type: ignore[arg-type]
        lambda: Fault.history_without_local_id("zero"),  # type: ignore[arg-type]
        lambda: Fault.huge_retry_after("1e9", status=500),
        lambda: Fault.huge_retry_after("1\r\nX-Evil: 1"),
        lambda: Fault.oversized(0),
        lambda: Fault.slow_drip(-0.1),
    ],
)
def test_invalid_faults_are_refused(make: Any) -> None:
    """Impossible fault settings raise ValueError at construction."""
    with pytest.raises(ValueError):  # noqa: PT011 - several messages, one rule
        make()


# -- each kind, seen by a raw client --------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        yield sb


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def send_body(phone: str = "15105550199") -> dict[str, Any]:
    return {"inbox_id": 42, "phone_number": phone, "text": "hi", "local_id": f"l-{phone}"}


async def post_send(
    session: aiohttp.ClientSession, sb: Sandbox, phone: str = "15105550199"
) -> tuple[int, CIMultiDict[str], str]:
    async with session.post(
        sb.url + "/v1/message/send", json=send_body(phone), headers=sb.auth_headers()
    ) as response:
        return response.status, response.headers.copy(), await response.text()


@pytest.mark.parametrize("retry_after", [2.0, 0.25, None])
async def test_injected_429(
    session: aiohttp.ClientSession, sandbox: Sandbox, retry_after: float | None
) -> None:
    """An injected 429 carries rate_limited, Retry-After as configured, and sends nothing."""
    sandbox.faults.next(Fault.rate_limited(retry_after=retry_after), route=SEND)
    status, headers, text = await post_send(session, sandbox)
    assert status == 429
    assert '"error_code":"rate_limited"' in text
    assert headers.get("Retry-After") == (None if retry_after is None else f"{retry_after:g}")
    assert len(sandbox.ledger) == 0
    assert (await post_send(session, sandbox))[0] == 200


@pytest.mark.parametrize(
    ("fault", "content_type", "needle"),
    [
        (Fault.server_error(500), "application/json", '"error_code":"internal_error"'),
        (Fault.server_error(503, retry_after=1), "application/json", "unavailable"),
        (Fault.server_error(504, body="html"), "text/html", "<center>nginx</center>"),
        (Fault.bad_gateway(), "text/html", "<title>502 Bad Gateway</title>"),
    ],
)
async def test_injected_server_errors(
    session: aiohttp.ClientSession,
    sandbox: Sandbox,
    fault: Fault,
    content_type: str,
    needle: str,
) -> None:
    """Injected 5xx answers have the chosen status and body, a request id, and no effect."""
    sandbox.faults.next(fault, route=SEND)
    status, headers, text = await post_send(session, sandbox)
    assert status == fault.status
    assert headers["Content-Type"].startswith(content_type)
    assert needle in text
    assert headers["X-Request-Id"]
    assert len(sandbox.ledger) == 0
    assert sandbox.stats.faults == {fault.kind: 1}


async def test_empty_body_server_error(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A 5xx with an empty body is possible too."""
    sandbox.faults.next(Fault.server_error(502, body="empty"), route=SEND)
    status, _, text = await post_send(session, sandbox)
    assert (status, text) == (502, "")


async def test_faults_apply_only_to_their_routes(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """A fault aimed at sends leaves other routes alone and waits for a send."""
    sandbox.faults.next(Fault.server_error(503), route=SEND)
    async with session.get(sandbox.url + "/v1/inboxes", headers=sandbox.auth_headers()) as r:
        assert r.status == 200
    assert (await post_send(session, sandbox))[0] == 503


async def test_auth_runs_before_faults(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """An unauthenticated request gets 401 and does not use up a scripted fault."""
    sandbox.faults.next(Fault.server_error(503), route=SEND)
    async with session.post(sandbox.url + "/v1/message/send", json=send_body()) as r:
        assert r.status == 401
    assert sandbox.faults.pending == 1


async def test_latency_delays_the_answer(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A latency fault holds the request before processing, then answers normally."""
    sandbox.faults.next(Fault.latency(0.2), route=SEND)
    started = time.perf_counter()
    status, _, _ = await post_send(session, sandbox)
    assert status == 200
    assert time.perf_counter() - started >= 0.2
    assert len(sandbox.ledger) == 1


async def test_latency_after_commit_commits_before_answering(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """With after_commit the send is in the ledger while the client still waits."""
    sandbox.faults.next(Fault.latency(0.3, after_commit=True), route=SEND)
    task = asyncio.create_task(post_send(session, sandbox))
    await asyncio.sleep(0.1)
    assert not task.done()
    assert len(sandbox.ledger) == 1
    assert (await task)[0] == 200


async def test_reset_drops_the_connection_and_commits_nothing(
    session: aiohttp.ClientSession, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A reset closes the connection unanswered; the send never happened."""
    caplog.set_level(logging.DEBUG)
    sandbox.faults.next(Fault.reset(), route=SEND)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await post_send(session, sandbox)
    assert len(sandbox.ledger) == 0
    assert sandbox.stats.dropped == 1
    assert (await post_send(session, sandbox))[0] == 200  # the server carries on
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_reset_on_a_get(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """aiohttp itself replays an idempotent GET once after a reset, so it takes two to fail."""
    sandbox.faults.next(Fault.reset(), route=INBOXES)
    async with session.get(sandbox.url + "/v1/inboxes", headers=sandbox.auth_headers()) as r:
        assert r.status == 200
    sandbox.faults.next(Fault.reset(), route=INBOXES, times=2)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with session.get(sandbox.url + "/v1/inboxes", headers=sandbox.auth_headers()):
            pass
    assert sandbox.stats.dropped == 3


async def test_commit_then_drop_commits_but_never_answers(
    session: aiohttp.ClientSession, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """commit_then_drop: the client sees a disconnect, yet the send is stored and ledgered."""
    caplog.set_level(logging.DEBUG)
    sandbox.faults.next(Fault.commit_then_drop(), route=SEND)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await post_send(session, sandbox)
    (entry,) = sandbox.ledger
    assert (entry.kind, entry.recipient, entry.local_id) == (
        LedgerKind.INDIVIDUAL,
        "15105550199",
        "l-15105550199",
    )
    assert sandbox.stats.dropped == 1
    assert sandbox.stats.statuses == {}  # nothing was answered
    # The retry with the same local_id is deduplicated: still exactly one send.
    status, _, text = await post_send(session, sandbox)
    assert status == 200
    assert str(entry.message_id) in text
    assert sandbox.ledger_counts_by_recipient() == {"15105550199": 1}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_plan_can_be_replaced_while_running(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """Assigning a new plan takes effect on the next request; None means no faults."""
    sandbox.faults = FaultPlan.chaos(1.0, route=SEND, seed=5, max_delay=0.0)
    results = []
    for n in range(6):
        try:
            results.append((await post_send(session, sandbox, f"1510555{n:04d}"))[0])
        except aiohttp.ClientError:
            results.append(-1)
    assert sum(sandbox.stats.faults.values()) == 6  # every request met a fault
    answered_200 = {
        FaultKind.LATENCY,
        FaultKind.UNREADABLE_2XX,
        FaultKind.SLOW_DRIP,
        FaultKind.OVERSIZED,
    }
    assert results.count(200) == sum(sandbox.stats.faults[kind] for kind in answered_200)
    sandbox.faults = None
    assert (await post_send(session, sandbox, "15105559999"))[0] == 200


async def test_max_in_flight_observes_client_concurrency(sandbox: Sandbox) -> None:
    """With latency injected, the in-flight gauge shows how many requests overlapped."""
    sandbox.faults.random(Fault.latency(0.1), probability=1.0, route=INBOXES)
    async with aiohttp.ClientSession() as client:

        async def one() -> int:
            async with client.get(sandbox.url + "/v1/inboxes", headers=sandbox.auth_headers()) as r:
                return r.status

        assert await asyncio.gather(*(one() for _ in range(5))) == [200] * 5
    assert sandbox.stats.max_in_flight == 5
    assert sandbox.stats.max_connections >= 5
    assert sandbox.stats.in_flight == 0


async def test_stop_does_not_wait_out_latency() -> None:
    """Stopping the sandbox wakes requests held by a long latency fault."""
    sandbox = Sandbox(rate_limit_per_minute=None)
    await sandbox.start()
    sandbox.faults.next(Fault.latency(30.0))
    async with aiohttp.ClientSession() as client:

        async def slow() -> int:
            async with client.get(sandbox.url + "/v1/team", headers=sandbox.auth_headers()) as r:
                await r.read()
                return r.status

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.1)
        assert sandbox.stats.in_flight == 1
        started = time.perf_counter()
        await sandbox.stop()
        assert time.perf_counter() - started < 2.0
        with contextlib.suppress(aiohttp.ClientError):
            await task  # a disconnect is as good as an answer here
    assert not sandbox.is_running
    await sandbox.stop()  # idempotent
