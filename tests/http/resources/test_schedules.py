from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from heymarket_async import HeymarketClient, ScheduledContent
from heymarket_async.errors import NetworkError, RequestValidationError, ServerError

from ...helpers import MockApi

SCHEDULE = "/v1/schedule"
CONTENT = ScheduledContent(text="Reminder", to="15105553344")


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


def next_slot(lead: timedelta = timedelta(hours=1)) -> datetime:
    """The first 15-minute boundary at least `lead` from now."""
    start = datetime.now(UTC) + lead
    slot = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    return slot if slot >= start else slot + timedelta(minutes=15)


async def test_create_schedule_wire_body_and_answer(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """Create posts execute_at as RFC 3339 with content and target, and reads {id}."""
    when = next_slot()
    mock_api.add("POST", SCHEDULE, payload={"id": 77})
    created = await client.schedules.create(
        inbox_id=42, execute_at=when, content=CONTENT, phone_number="15105553344", local_id="s-1"
    )
    [call] = mock_api.calls("POST", SCHEDULE)
    assert sent_json(call) == {
        "inbox_id": 42,
        "execute_at": when.isoformat(),
        "content": {"text": "Reminder", "to": "15105553344"},
        "phone_number": "15105553344",
        "local_id": "s-1",
    }
    assert (created.id, created.local_id, created.request_id) == (77, "s-1", "req-test-1")


async def test_create_schedule_accepts_a_bare_ok(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """An "ok" answer gives a ScheduleCreated without an id but with our local_id."""
    mock_api.add("POST", SCHEDULE, payload="ok")
    created = await client.schedules.create(
        inbox_id=42, execute_at=next_slot(), content=CONTENT, list_id=501
    )
    assert created.id is None
    assert created.local_id == sent_json(mock_api.calls("POST", SCHEDULE)[0])["local_id"]


@pytest.mark.parametrize(
    "failure", [{"status": 502}, {"exception": aiohttp.ServerDisconnectedError()}]
)
async def test_create_schedule_is_not_resent_after_ambiguous_failure(
    client: HeymarketClient, mock_api: MockApi, failure: dict[str, Any]
) -> None:
    """Without documented dedupe a create that may have landed is reported, not repeated."""
    mock_api.add("POST", SCHEDULE, **failure)
    with pytest.raises((ServerError, NetworkError)):
        await client.schedules.create(
            inbox_id=42, execute_at=next_slot(), content=CONTENT, conversation_id=900
        )
    assert len(mock_api.calls("POST", SCHEDULE)) == 1


async def test_invalid_schedule_sends_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """A misaligned or too-soon time is refused before any request."""
    misaligned = next_slot() + timedelta(minutes=7)
    with pytest.raises(RequestValidationError, match="15-minute boundary"):
        await client.schedules.create(
            inbox_id=42, execute_at=misaligned, content=CONTENT, phone_number="15105553344"
        )
    too_soon = next_slot(timedelta(0))  # the next boundary is always under 15 minutes away
    with pytest.raises(RequestValidationError, match="at least 15 minutes"):
        await client.schedules.create(
            inbox_id=42, execute_at=too_soon, content=CONTENT, phone_number="15105553344"
        )
    assert mock_api.mocked.requests == {}


async def test_get_schedule_reads_execute_and_meta(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """GET maps the answer's `execute` and nested meta content."""
    mock_api.add(
        "GET",
        f"{SCHEDULE}/77",
        payload={
            "id": 77,
            "execute": "2026-04-16T10:30:00.000001Z",
            "inbox_id": 42,
            "meta": {"content": {"text": "Reminder", "template": 5}, "list_id": 501},
        },
    )
    schedule = await client.schedules.get(77)
    assert schedule.execute == datetime(2026, 4, 16, 10, 30, 0, 1, tzinfo=UTC)
    assert schedule.meta is not None
    assert schedule.meta.list_id == 501
    assert schedule.meta.content is not None
    assert schedule.meta.content.template == 5
    assert schedule.request_id == "req-test-1"


async def test_update_and_delete_schedule(client: HeymarketClient, mock_api: MockApi) -> None:
    """Update PUTs the full body to /v1/schedule/{id}; delete answers are read leniently."""
    when = next_slot()
    mock_api.add("PUT", f"{SCHEDULE}/77", payload={"id": 77, "rev": 3})
    mock_api.add("DELETE", f"{SCHEDULE}/77", body="")
    updated = await client.schedules.update(
        77, inbox_id=42, execute_at=when, content=CONTENT, phone_number="15105553344"
    )
    deleted = await client.schedules.delete(77)
    [put] = mock_api.calls("PUT", f"{SCHEDULE}/77")
    assert sent_json(put) == {
        "inbox_id": 42,
        "execute_at": when.isoformat(),
        "content": {"text": "Reminder", "to": "15105553344"},
        "phone_number": "15105553344",
    }
    assert (updated.id, updated.rev) == (77, 3)
    assert deleted.id == 77
