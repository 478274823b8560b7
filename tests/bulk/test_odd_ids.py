"""An odd id in an accepted answer never aborts a job nor picks a wrong list."""

from __future__ import annotations

from pathlib import Path

import pytest

from heymarket_async import SendMessage
from heymarket_async.bulk import BatchSender, Journal, OutcomeStatus, broadcast
from heymarket_async.errors import BulkSendError, UnexpectedResponseError

from ..hostile import Answer, HostileServer

SEND = "/v1/message/send"


@pytest.mark.parametrize("odd", [True, 1.9, 0, -5, 2**63])
async def test_an_odd_list_id_fails_its_chunk_and_sends_nothing_to_it(
    tmp_path: Path, odd: object
) -> None:
    phones = [f"151055500{i:02d}" for i in range(25)]
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": 10}))
        server.script(
            "POST",
            "/v2/lists",
            Answer.json({"id": odd, "rev": 1, "uuid": "u"}),
            then=Answer.json({"id": 501, "rev": 1, "uuid": "u"}),
        )
        server.script("POST", SEND, then=Answer.json({"id": 9, "convo_id": 1}))
        async with server.client() as hm:
            report = await broadcast(
                hm,
                inbox_id=42,
                creator_id=7,
                text="Hi",
                key="k",
                phones=phones,
                journal=tmp_path / "b.sqlite3",
            )
        sent_to = [seen.json["list_id"] for seen in server.seen("POST", SEND)]
    assert (report.sent, report.failed, report.unknown) == (15, 10, 0)
    first = report.chunks[0]
    assert first.status is OutcomeStatus.FAILED
    assert isinstance(first.error, UnexpectedResponseError)
    assert first.reason is not None
    assert "list was created" in first.reason
    assert sent_to == [501, 501]


@pytest.mark.parametrize("odd", [2**63, 2**70, 0, -1, True])
async def test_an_odd_message_id_is_sent_with_no_id(tmp_path: Path, odd: object) -> None:
    async with HostileServer() as server:
        server.script("POST", SEND, then=Answer.json({"id": odd, "convo_id": 1}))
        sends = [
            SendMessage(inbox_id=42, creator_id=7, phone_number=f"15105550{i:03d}", text="Hi")
            for i in range(3)
        ]
        async with server.client() as hm:
            sender = BatchSender(hm, key="k", journal=tmp_path / "j.sqlite3", concurrency=1)
            outcomes = [o async for o in sender.stream(sends)]
    assert [(o.status, o.message_id) for o in outcomes] == [(OutcomeStatus.SENT, None)] * 3
    async with Journal(tmp_path / "j.sqlite3") as book:
        assert await book.counts() == {"sent": 3}


async def test_a_value_the_journal_cannot_store_is_a_bulk_send_error(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite3") as book:
        await book.claim("x-1", run_id="r")
        with pytest.raises(BulkSendError, match="OverflowError"):
            await book.finish("x-1", "sent", run_id="r", message_id=2**63)


async def test_an_unusable_list_size_is_not_echoed_at_length() -> None:
    huge = "s3cr3t-" + "x" * 100_000
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": huge}))
        async with server.client() as hm:
            with pytest.raises(BulkSendError, match="list_size") as caught:
                await broadcast(hm, inbox_id=42, creator_id=7, text="Hi", key="k", phones=[])
    assert len(str(caught.value)) < 300
    assert "s3cr3t" not in str(caught.value)
