"""Bulk and single sends against a server whose answers are odd: a 2xx that cannot be read,
history that hides ``local_id``, a team whose ``list_size`` is unusable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from heymarket_async import SendMessage
from heymarket_async.bulk import BatchSender, Journal, OutcomeStatus, broadcast
from heymarket_async.errors import BulkSendError, ReconciliationError, UnexpectedResponseError

from ..hostile import Answer, HostileServer, Seen

SEND = "/v1/message/send"
HISTORY = "/v1/messages"
PHONE = "15105550001"

UNREADABLE = {
    "plain ok": Answer.text("ok"),
    "html": Answer.text("<html><body>OK</body></html>", headers={"Content-Type": "text/html"}),
    "empty array": Answer.json([]),
    "empty body": Answer(status=200),
    "wrong shape": Answer.json({"foo": 1}),
    "string id": Answer.json({"id": "x"}),
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def single(local_id: str = "odd-1") -> SendMessage:
    return SendMessage(inbox_id=42, creator_id=7, phone_number=PHONE, text="Hi", local_id=local_id)


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_batch_sender_counts_an_unreadable_2xx_as_sent_and_never_resends(
    answer: Answer, tmp_path: Path
) -> None:
    """A 2xx whose body cannot be read is sent (id unknown), journaled, and not sent again."""
    journal = tmp_path / "j.sqlite3"
    async with HostileServer() as server:
        server.script("POST", SEND, answer)
        async with server.client() as hm:
            [outcome] = [o async for o in BatchSender(hm, journal=journal).stream([single()])]
            again = await BatchSender(hm, journal=journal).send_all([single()])
        assert outcome.status is OutcomeStatus.SENT
        assert outcome.message_id is None
        assert outcome.reason is not None
        assert "could not be read" in outcome.reason
        assert (again.sent, again.skipped) == (0, 1)
        assert len(server.seen("POST", SEND)) == 1
    async with Journal(journal) as book:
        assert await book.counts() == {"sent": 1}


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_broadcast_counts_a_chunk_with_an_unreadable_2xx_as_sent(
    answer: Answer, tmp_path: Path
) -> None:
    """A list broadcast answered with an unreadable 2xx counts its recipients as sent, once."""
    journal = tmp_path / "b.sqlite3"
    phones = [f"151055500{i:02d}" for i in range(5)]
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": 10}))
        server.script("POST", "/v2/lists", then=Answer.json({"id": 501, "rev": 1, "uuid": "u"}))
        server.script("POST", SEND, answer)
        async with server.client() as hm:
            job: dict[str, Any] = {"inbox_id": 42, "creator_id": 7, "text": "Hi", "key": "odd"}
            report = await broadcast(hm, phones=phones, journal=journal, **job)
            again = await broadcast(hm, phones=phones, journal=journal, **job)
        assert (report.sent, report.failed, report.unknown) == (5, 0, 0)
        [chunk] = report.chunks
        assert (chunk.status, chunk.message_id, chunk.recipients) == (OutcomeStatus.SENT, None, 5)
        assert (again.sent, again.skipped) == (0, 5)
        assert len(server.seen("POST", SEND)) == 1


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_single_send_with_an_unreadable_2xx_returns_the_message_found_by_local_id(
    answer: Answer,
) -> None:
    """hm.messages.send settles an unreadable 2xx with the local_id lookup."""

    def history(_seen: Seen) -> Answer:
        [sent] = server.seen("POST", SEND)
        return Answer.json([{"id": 77, "date": now_iso(), "local_id": sent.json["local_id"]}])

    async with HostileServer() as server:
        server.script("POST", SEND, answer)
        server.script("GET", HISTORY, then=history)
        async with server.client() as hm:
            sent = await hm.messages.send_request(single("odd-2"))
        assert (sent.id, sent.local_id) == (77, "odd-2")
        assert len(server.seen("POST", SEND)) == 1


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_single_send_with_an_unreadable_2xx_not_in_history_says_it_was_accepted(
    answer: Answer,
) -> None:
    """Not found by the lookup, the send raises UnexpectedResponseError saying it was sent."""
    async with HostileServer() as server:
        server.script("POST", SEND, answer)
        server.script("GET", HISTORY, then=Answer.json([]))
        async with server.client() as hm:
            with pytest.raises(UnexpectedResponseError) as info:
                await hm.messages.send(
                    inbox_id=42, creator_id=7, phone_number=PHONE, text="Hi", local_id="odd-3"
                )
        assert info.value.local_id == "odd-3"
        assert "accepted" in str(info.value)
        assert "WAS sent" in str(info.value)
        assert len(server.seen("POST", SEND)) == 1


HIDDEN_LOCAL_ID = {
    "absent": {},
    "empty": {"local_id": ""},
    "null": {"local_id": None},
}


@pytest.mark.parametrize("hidden", HIDDEN_LOCAL_ID.values(), ids=HIDDEN_LOCAL_ID.keys())
async def test_history_without_local_ids_leaves_a_bulk_send_unknown(
    hidden: dict[str, Any], tmp_path: Path
) -> None:
    """After a dropped send, history that shows no local_id at all is no proof: unknown."""
    journal = tmp_path / "j.sqlite3"
    async with HostileServer() as server:
        server.script("POST", SEND, then=Answer.dropped())
        server.script("GET", HISTORY, then=Answer.json([{"id": 5, "date": now_iso(), **hidden}]))
        async with server.client() as hm:
            sender = BatchSender(hm, journal=journal, on_unknown="fail")
            [outcome] = [o async for o in sender.stream([single("odd-4")])]
        assert outcome.status is OutcomeStatus.UNKNOWN
        assert isinstance(outcome.error, ReconciliationError)
        assert "no local_id" in str(outcome.error)
        assert len(server.seen("POST", SEND)) == 1
    async with Journal(journal) as book:
        assert await book.counts() == {"inflight": 1}


@pytest.mark.parametrize("hidden", HIDDEN_LOCAL_ID.values(), ids=HIDDEN_LOCAL_ID.keys())
async def test_history_without_local_ids_makes_a_single_send_undecided(
    hidden: dict[str, Any],
) -> None:
    """A single send that failed ambiguously is not resent when history hides local_ids."""
    async with HostileServer() as server:
        server.script("POST", SEND, then=Answer.dropped())
        server.script("GET", HISTORY, then=Answer.json([{"id": 5, "date": now_iso(), **hidden}]))
        async with server.client() as hm:
            with pytest.raises(ReconciliationError, match="no local_id"):
                await hm.messages.send_request(single("odd-5"))
        assert len(server.seen("POST", SEND)) == 1


BAD_LIST_SIZES = {"true": True, "zero": 0, "negative": -5, "text": "100", "fraction": 1.5}


@pytest.mark.parametrize("value", BAD_LIST_SIZES.values(), ids=BAD_LIST_SIZES.keys())
async def test_broadcast_refuses_an_unusable_team_list_size(value: object) -> None:
    """A list_size that is not a positive whole number stops broadcast before any write."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "list_size": value}))
        server.script("POST", "/v2/lists", then=Answer.json({"id": 501, "rev": 1, "uuid": "u"}))
        server.script("POST", SEND, then=Answer.json({"id": 9}))
        async with server.client() as hm:
            with pytest.raises(BulkSendError, match="list_size"):
                await broadcast(
                    hm, inbox_id=42, creator_id=7, phones=[PHONE], text="Hi", key="size"
                )
        assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/team")]


async def test_broadcast_refuses_a_team_without_list_size() -> None:
    """A team answer without list_size stops broadcast before any write."""
    async with HostileServer() as server:
        server.script("GET", "/v1/team", then=Answer.json({"id": 1, "name": "t"}))
        async with server.client() as hm:
            with pytest.raises(BulkSendError, match="list_size"):
                await broadcast(
                    hm, inbox_id=42, creator_id=7, phones=[PHONE], text="Hi", key="size"
                )
        assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/team")]


async def test_list_broadcast_probes_answered_404_end_in_a_resend_with_the_same_local_id() -> None:
    """History answering 404 for members' conversations settles nothing: the broadcast is
    sent again with its local_id (the API de-duplicates list broadcasts), not left unknown."""
    async with HostileServer() as server:
        server.script("POST", "/v2/lists", then=Answer.json({"id": 501, "rev": 1, "uuid": "u"}))
        server.script("POST", SEND, Answer.dropped(), then=Answer.json({"id": 9}))
        async with server.client() as hm:
            report = await broadcast(
                hm,
                inbox_id=42,
                creator_id=7,
                phones=[f"151055500{i:02d}" for i in range(5)],
                text="Hi",
                key="gone",
                list_size=5,
            )
        [chunk] = report.chunks
        assert (chunk.status, chunk.message_id) == (OutcomeStatus.SENT, 9)
        assert chunk.reason is not None
        assert "same local_id" in chunk.reason
        sends = server.seen("POST", SEND)
        assert [s.json["local_id"] for s in sends] == [sends[0].json["local_id"]] * 2
        assert len(server.seen("GET", HISTORY)) == 3
