from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from heymarket_async import (
    ApiRequest,
    ApiResponse,
    Attachment,
    CreateSchedule,
    GalleryEntry,
    Schedule,
    ScheduleCreated,
    ScheduledContent,
    ScheduleDeleted,
    ScheduleUpdated,
    UpdateSchedule,
)
from heymarket_async._converter import converter
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources.schedules import (
    build_create_schedule,
    build_delete_schedule,
    build_get_schedule,
    build_update_schedule,
    read_schedule_written,
)

NOW = datetime(2026, 4, 16, 10, 0, tzinfo=UTC)
AT = datetime(2026, 4, 16, 10, 30, tzinfo=UTC)
CONTENT = ScheduledContent(text="Hi", to="15105553344")
BASE: dict[str, Any] = {"inbox_id": 42, "execute_at": AT, "content": CONTENT, "now": NOW}


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_create_builds_the_exact_request() -> None:
    """Create posts RFC 3339 execute_at, the content and one target; the clock is not sent."""
    create = CreateSchedule(**BASE, phone_number="15105553344", user_id=7, local_id="s-1")
    assert build_create_schedule(create) == ApiRequest(
        method="POST",
        path="/v1/schedule",
        json={
            "inbox_id": 42,
            "execute_at": "2026-04-16T10:30:00+00:00",
            "content": {"text": "Hi", "to": "15105553344"},
            "phone_number": "15105553344",
            "user_id": 7,
            "local_id": "s-1",
        },
        idempotency_key="s-1",
        replay_safe=False,
    )


def test_create_generates_a_local_id_but_stays_not_replay_safe() -> None:
    """A generated local_id identifies the schedule; without documented dedupe it is not resent."""
    create = CreateSchedule(**BASE, list_id=501)
    request = build_create_schedule(create)
    assert re.fullmatch(r"hm-[0-9a-f]{32}", create.local_id)
    assert request.json["local_id"] == create.local_id
    assert request.json["list_id"] == 501
    assert request.replay_safe is False


def test_full_content_and_group_targets() -> None:
    """Attachments, gallery, a template id and group targets (strings or objects) are sent."""
    content = ScheduledContent(
        text="See attached",
        template=12,
        attachments=[
            Attachment(url="https://f.example/a.pdf", name="a.pdf", type="application/pdf")
        ],
        gallery=[GalleryEntry(url="https://f.example/g.png", annotation_text="Hi")],
    )
    create = CreateSchedule(
        inbox_id=42,
        execute_at=AT,
        content=content,
        targets=["15105553344", {"phone": "14155550100"}],
        local_id="s-2",
        now=NOW,
    )
    assert build_create_schedule(create).json == {
        "inbox_id": 42,
        "execute_at": "2026-04-16T10:30:00+00:00",
        "content": {
            "text": "See attached",
            "template": 12,
            "attachments": [
                {"url": "https://f.example/a.pdf", "name": "a.pdf", "type": "application/pdf"}
            ],
            "gallery": [{"url": "https://f.example/g.png", "annotation_text": "Hi"}],
        },
        "targets": ["15105553344", {"phone": "14155550100"}],
        "local_id": "s-2",
    }


def test_boundary_and_lead_time_edges() -> None:
    """Exactly 15 minutes ahead is allowed; an offset whose local :30 is a UTC :45 is allowed."""
    CreateSchedule(
        **{**BASE, "execute_at": NOW + timedelta(minutes=15)}, phone_number="15105553344"
    )
    nepal = timezone(timedelta(hours=5, minutes=45))
    at = datetime(2026, 4, 16, 16, 30, tzinfo=nepal)  # 10:45 UTC
    create = CreateSchedule(**{**BASE, "execute_at": at}, phone_number="15105553344")
    assert build_create_schedule(create).json["execute_at"] == "2026-04-16T16:30:00+05:45"


@pytest.mark.parametrize(
    ("fields", "field", "match"),
    [
        ({"execute_at": datetime(2026, 4, 16, 10, 30)}, "execute_at", "timezone-aware"),
        ({"execute_at": AT.replace(minute=20)}, "execute_at", "15-minute boundary"),
        ({"execute_at": AT.replace(second=1)}, "execute_at", "15-minute boundary"),
        ({"execute_at": AT.replace(microsecond=5)}, "execute_at", "15-minute boundary"),
        ({"execute_at": NOW}, "execute_at", "at least 15 minutes"),
        ({"execute_at": NOW - timedelta(hours=1)}, "execute_at", "at least 15 minutes"),
        ({"phone_number": None}, None, "exactly one target"),
        ({"list_id": 5}, None, "phone_number and list_id"),
        ({"phone_number": "+15105553344"}, "phone_number", "normalize_phone"),
        ({"phone_number": None, "targets": ["15105553344"]}, "targets", "at least 2"),
        ({"phone_number": None, "targets": ["1", "15105553344"]}, "targets[0]", "E.164"),
        ({"content": "Hi"}, "content", "ScheduledContent"),
        ({"inbox_id": 0}, "inbox_id", "positive"),
        ({"user_id": -1}, "user_id", "positive"),
        ({"local_id": "no spaces"}, "local_id", "1-128"),
    ],
)
def test_invalid_create_names_the_field(
    fields: dict[str, Any], field: str | None, match: str
) -> None:
    """Each schedule rule violation raises RequestValidationError naming the field."""
    with pytest.raises(RequestValidationError, match=match) as info:
        CreateSchedule(**{**BASE, "phone_number": "15105553344", **fields})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "content"),
        ({"text": ""}, "text"),
        ({"to": "555"}, "to"),
        ({"template": "twelve"}, "template"),
        ({"text": "x", "attachments": [{"url": "ftp://f.example/a"}]}, "attachments[0].url"),
        ({"text": "x", "attachments": [{"href": "https://f.example/a"}]}, "attachments[0]"),
        ({"text": "x", "attachments": Attachment(url="https://f.example/a")}, "attachments"),
        ({"text": "x", "gallery": [Attachment(url="https://f.example/a")]}, "gallery[0]"),
    ],
)
def test_invalid_content_names_the_field(fields: dict[str, Any], field: str) -> None:
    """Empty or malformed content is refused at construction."""
    with pytest.raises(RequestValidationError) as info:
        ScheduledContent(**fields)
    assert info.value.field == field


def test_attachment_url_must_be_absolute() -> None:
    """An attachment without an absolute http(s) URL is refused."""
    with pytest.raises(RequestValidationError) as info:
        Attachment(url="files/a.pdf")
    assert info.value.field == "url"


def test_update_puts_the_whole_body_to_the_schedule_path() -> None:
    """Update is a PUT to /v1/schedule/{id} with the create body minus id and clock."""
    update = UpdateSchedule(**BASE, schedule_id=77, conversation_id=900)
    assert build_update_schedule(update) == ApiRequest(
        method="PUT",
        path="/v1/schedule/77",
        json={
            "inbox_id": 42,
            "execute_at": "2026-04-16T10:30:00+00:00",
            "content": {"text": "Hi", "to": "15105553344"},
            "conversation_id": 900,
        },
        replay_safe=True,
    )


def test_update_applies_the_same_rules() -> None:
    """Update refuses a misaligned time just like create."""
    with pytest.raises(RequestValidationError, match="15-minute boundary"):
        UpdateSchedule(
            **{**BASE, "execute_at": AT.replace(minute=31)},
            schedule_id=77,
            phone_number="15105553344",
        )


def test_get_and_delete_builders() -> None:
    """get and delete address /v1/schedule/{id} and refuse a non-positive id."""
    assert build_get_schedule(77) == ApiRequest(method="GET", path="/v1/schedule/77")
    assert build_delete_schedule(77) == ApiRequest(method="DELETE", path="/v1/schedule/77")
    with pytest.raises(RequestValidationError) as info:
        build_get_schedule(0)
    assert info.value.field == "schedule_id"


@pytest.mark.parametrize(
    ("data", "expected_id"),
    [({"id": 9}, 9), ({"schedule": {"id": 9}}, 9), (9, 9), ("9", 9), ("ok", None), (None, None)],
)
def test_create_answer_is_read_leniently(data: Any, expected_id: int | None) -> None:
    """An object, a wrapped object, a bare id, "ok" or nothing all read as ScheduleCreated."""
    created = read_schedule_written(response(data), ScheduleCreated, local_id="s-1")
    assert created == ScheduleCreated(id=expected_id, local_id="s-1")
    assert created.request_id == "req-1"


def test_update_and_delete_answers_name_the_schedule() -> None:
    """Update and delete answers fall back to the id in the path."""
    assert read_schedule_written(response("ok"), ScheduleUpdated, id=77) == ScheduleUpdated(id=77)
    updated = read_schedule_written(response({"id": 77, "rev": 3}), ScheduleUpdated, id=77)
    assert updated.rev == 3
    assert read_schedule_written(response(None), ScheduleDeleted, id=77) == ScheduleDeleted(id=77)


def test_schedule_object_is_read() -> None:
    """GET's object maps execute (not execute_at) and meta; template may be an id or an object."""
    schedule = converter.structure(
        {
            "id": 77,
            "execute": "2026-04-16T10:30:00.000001Z",
            "inbox_id": 42,
            "local_id": "s-1",
            "meta": {
                "content": {"text": "Hi", "template": 12, "attachments": None, "local_day": 3},
                "conversation_id": 900,
                "list_id": None,
            },
            "rev": 2,
            "created": "2026-04-16T09:00:00Z",
            "surprise": True,
        },
        Schedule,
    )
    assert schedule.execute == datetime(2026, 4, 16, 10, 30, 0, 1, tzinfo=UTC)
    assert schedule.meta is not None
    assert schedule.meta.content is not None
    assert schedule.meta.content.template == 12
    assert schedule.meta.content.attachments == ()
    assert schedule.meta.conversation_id == 900
    as_object = converter.structure(
        {"id": 1, "meta": {"content": {"template": {"id": 12}}}}, Schedule
    )
    assert as_object.meta is not None
    assert as_object.meta.content is not None
    assert as_object.meta.content.template == {"id": 12}
