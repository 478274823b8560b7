from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import ApiRequest, ApiResponse, SendEmail, SentEmail
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources.email import build_send_email, read_sent_email

BASE: dict[str, Any] = {"creator_id": 7, "inbox": 9, "text": "<p>Hi</p>"}


def test_new_thread_builds_the_exact_request() -> None:
    """A new email thread posts inbox (not inbox_id), targets and the local_id; replay-safe."""
    send = SendEmail(
        **BASE,
        targets=["to:alice@example.com,bob@example.com", "cc:carol@example.com"],
        raw_text="Hi",
        conv_title="Welcome",
        local_id="mail-1",
    )
    assert build_send_email(send) == ApiRequest(
        method="POST",
        path="/v1/email/send",
        json={
            "creator_id": 7,
            "inbox": 9,
            "text": "<p>Hi</p>",
            "raw_text": "Hi",
            "conv_title": "Welcome",
            "targets": ["to:alice@example.com,bob@example.com", "cc:carol@example.com"],
            "local_id": "mail-1",
        },
        idempotency_key="mail-1",
        replay_safe=True,
    )


def test_reply_generates_one_local_id() -> None:
    """A reply by convo_id gets a generated local_id that every build reuses."""
    send = SendEmail(**BASE, convo_id=900)
    request = build_send_email(send)
    assert re.fullmatch(r"hm-[0-9a-f]{32}", send.local_id)
    assert request.json == {
        "creator_id": 7,
        "inbox": 9,
        "text": "<p>Hi</p>",
        "convo_id": 900,
        "local_id": send.local_id,
    }
    assert build_send_email(send).json == request.json


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"targets": ["bcc:a@example.com"]}, "targets[0]"),
        ({"targets": ["a@example.com"]}, "targets[0]"),
        ({"targets": ["to:not-an-address"]}, "targets[0]"),
        ({"targets": ["to:a@example.com", "cc:a@example.com,"]}, "targets[1]"),
        ({"targets": ["to:"]}, "targets[0]"),
        ({"targets": "to:a@example.com"}, "targets"),
        ({"targets": ["to:a@example.com"], "convo_id": 9}, None),
        ({}, None),
        ({"convo_id": 0}, "convo_id"),
        ({"convo_id": 9, "text": ""}, "text"),
        ({"convo_id": 9, "raw_text": " "}, "raw_text"),
        ({"convo_id": 9, "local_id": "bad id"}, "local_id"),
        ({"convo_id": 9, "inbox": -9}, "inbox"),
    ],
)
def test_invalid_emails_name_the_field(fields: dict[str, Any], field: str | None) -> None:
    """Each rule violation names its field (None when the rule spans several fields)."""
    with pytest.raises(RequestValidationError) as info:
        SendEmail(**{**BASE, **fields})
    assert info.value.field == field


def test_targets_with_spaces_after_commas_are_accepted() -> None:
    """Addresses separated by ', ' are valid and sent exactly as given."""
    send = SendEmail(**BASE, targets=["to:a@example.com, b@example.com"])
    assert build_send_email(send).json["targets"] == ["to:a@example.com, b@example.com"]


def test_sent_email_is_read_with_our_local_id() -> None:
    """The documented answer is read and carries the local_id we sent."""
    send = SendEmail(**BASE, convo_id=900, local_id="mail-2")
    data = {
        "id": 31,
        "convo_id": 900,
        "queued": True,
        "date": "2026-04-16T10:00:00.123456Z",
        "compliance_results": {},
    }
    sent = read_sent_email(ApiResponse(status=200, data=data, request_id="r"), send)
    assert sent == SentEmail(
        id=31,
        convo_id=900,
        queued=True,
        date=datetime(2026, 4, 16, 10, 0, 0, 123456, tzinfo=UTC),
        compliance_results={},
        local_id="mail-2",
    )
    assert sent.request_id == "r"
