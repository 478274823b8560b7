from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from heymarket_async import HeymarketClient
from heymarket_async.errors import RequestValidationError

from ...helpers import MockApi

EMAIL = "/v1/email/send"
ANSWER = {
    "id": 31,
    "convo_id": 900,
    "queued": True,
    "date": "2026-04-16T10:00:00Z",
    "compliance_results": {},
}


def sent_json(call: Any) -> Any:
    """The JSON body a recorded call carried."""
    return json.loads(call.kwargs["data"])


async def test_email_send_wire_body_and_answer(client: HeymarketClient, mock_api: MockApi) -> None:
    """An email posts `inbox`, the targets and a generated local_id, and reads the answer."""
    mock_api.add("POST", EMAIL, payload=ANSWER)
    sent = await client.email.send(
        creator_id=7, inbox=9, text="<p>Hi</p>", targets=["to:a@example.com"], conv_title="Hello"
    )
    [call] = mock_api.calls("POST", EMAIL)
    body = sent_json(call)
    assert body == {
        "creator_id": 7,
        "inbox": 9,
        "text": "<p>Hi</p>",
        "conv_title": "Hello",
        "targets": ["to:a@example.com"],
        "local_id": body["local_id"],
    }
    assert (sent.id, sent.convo_id, sent.queued) == (31, 900, True)
    assert sent.local_id == body["local_id"]
    assert sent.date == datetime(2026, 4, 16, 10, tzinfo=UTC)
    assert sent.request_id == "req-test-1"


async def test_email_is_resent_with_the_same_local_id(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """After a disconnect the email is resent unchanged: the API deduplicates by local_id."""
    mock_api.add("POST", EMAIL, exception=aiohttp.ServerDisconnectedError())
    mock_api.add("POST", EMAIL, payload={"message": ANSWER})
    sent = await client.email.send(
        creator_id=7, inbox=9, text="<p>Re</p>", convo_id=900, local_id="mail-9"
    )
    first, second = mock_api.calls("POST", EMAIL)
    assert sent_json(first) == sent_json(second)
    assert sent_json(second)["local_id"] == "mail-9"
    assert sent.id == 31


async def test_invalid_email_sends_nothing(client: HeymarketClient, mock_api: MockApi) -> None:
    """A bad recipient is refused before any request."""
    with pytest.raises(RequestValidationError) as info:
        await client.email.send(creator_id=7, inbox=9, text="x", targets=["to:nobody"])
    assert info.value.field == "targets[0]"
    assert mock_api.mocked.requests == {}
