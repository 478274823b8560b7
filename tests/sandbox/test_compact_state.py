"""The sandbox's compact storage: bare contacts, bare broadcast threads, broadcast records and
the lazily built ledger entries and messages read exactly like the objects they stand for."""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter
from typing import Any

import pytest

from heymarket_async.sandbox import ROUTES, ApiFailure, Call, LedgerEntry, LedgerKind, SandboxState
from heymarket_async.sandbox._compact import MemberIds, phone_key, phone_text
from heymarket_async.sandbox._state import Timeline, rfc3339

NOW = 1_800_000_000.0
HANDLERS = {route.key: route.handler for route in ROUTES}
ADA = "15105550100"  # a seeded contact with a first name


class Driver:
    """Calls the sandbox's handlers directly, with a clock that moves a millisecond a call."""

    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState(seed=1, list_size=100_000, start_us=int(NOW * 1e6))
        self.now = NOW

    def __call__(
        self, key: str, body: Any = None, *, query: dict[str, str] | None = None, **params: str
    ) -> Any:
        self.now += 0.001
        call = Call(
            method=key.split(maxsplit=1)[0],
            params=params,
            query=query or {},
            body=body,
            now=self.now,
            request_id=f"req-{self.now:.3f}",
        )
        return HANDLERS[key](self.state, call)

    def history(self, phone: str, inbox: str | None = "42", **query: str) -> list[dict[str, Any]]:
        if inbox is not None:
            query["inboxID"] = inbox
        result: list[dict[str, Any]] = self(
            "GET /v1/messages", query={"phoneNumber": phone, **query}
        )
        return result

    def make_list(self, phones: list[str], local_id: str = "list-1") -> int:
        answer = self("POST /v2/lists", {"title": "t", "local_id": local_id, "phones": phones})
        list_id: int = answer["id"]
        return list_id

    def broadcast(self, list_id: int, local_id: str, text: str = "Hi {{first_name}}!") -> int:
        body = {"inbox_id": 42, "list_id": list_id, "text": text, "local_id": local_id}
        broadcast_id: int = self("POST /v1/message/send", body)["id"]
        return broadcast_id


def phones(count: int, start: int = 0) -> list[str]:
    return [f"1415{start + n:07d}" for n in range(count)]


@pytest.fixture
def drive() -> Driver:
    return Driver()


# -- broadcast messages and history ---------------------------------------------------------


def test_broadcast_message_reads_like_a_stored_message(drive: Driver) -> None:
    members = [*phones(3), ADA]
    drive("POST /v1/message/send", {"inbox_id": 42, "phone_number": ADA, "text": "before"})
    list_id = drive.make_list(members)
    broadcast_id = drive.broadcast(list_id, "bc-1")

    # A member whose thread the broadcast started (a bare row) ...
    [fresh] = drive.history(members[0])
    # ... and one who already had a thread object: the same keys, in the same order.
    newest_ada, older_ada = drive.history(ADA)
    assert list(fresh) == list(newest_ada) == list(older_ada)
    conversation = drive("GET /v1/conversations/{id}", id=str(fresh["conversation"]["id"]))
    assert fresh == {
        "id": broadcast_id + 1,
        "date": fresh["date"],
        "updated": fresh["date"],
        "local_id": "bc-1",
        "phone": members[0],
        "target": members[0],
        "text": "Hi !",
        "media": None,
        "status": "sent",
        "type": "sms",
        "user": 7,
        "author": None,
        "broadcast_id": broadcast_id,
        "private": False,
        "flagged": False,
        "support": False,
        "link_url": None,
        "conversation": {
            key: conversation[key]
            for key in ("id", "inbox", "target", "channel", "type", "name", "status")
        }
        | {"created": conversation["created"], "creator": 7},
    }
    assert newest_ada["text"] == "Hi Ada!"
    assert newest_ada["broadcast_id"] == broadcast_id
    assert older_ada["text"] == "before"
    # The team history shows the very same objects, newest first.
    page = drive("POST /v1/messages/all", {"limit": 10})
    assert [m["id"] for m in page] == [broadcast_id + n for n in (4, 3, 2, 1)] + [older_ada["id"]]
    assert page[3] == fresh
    assert page[0] == newest_ada


def test_history_of_a_bare_thread_pages_by_timestamp_across_broadcasts(drive: Driver) -> None:
    members = phones(4)
    list_id = drive.make_list(members)
    first = drive.broadcast(list_id, "bc-1", text="one")
    second = drive.broadcast(list_id, "bc-2", text="two")
    both = drive.history(members[2])
    assert [(m["broadcast_id"], m["text"]) for m in both] == [(second, "two"), (first, "one")]
    assert both[0]["conversation"]["id"] == both[1]["conversation"]["id"]
    # Before the newer message's time: only the older one.
    cutoff = str(int(_us(both[0]["date"])) / 1e6)
    assert [m["broadcast_id"] for m in drive.history(members[2], timestamp=cutoff)] == [first]
    # Without inboxID every inbox is searched; another inbox has no thread with it.
    assert drive.history(members[2], inbox=None) == both
    assert drive.history(members[2], inbox="43") == []


def test_reading_a_bare_thread_keeps_it_with_its_messages(drive: Driver) -> None:
    members = phones(3)
    list_id = drive.make_list(members)
    drive.broadcast(list_id, "bc-1")
    before = drive.history(members[1])
    state = drive.state
    conversation_id = before[0]["conversation"]["id"]
    assert conversation_id in state.conversations

    # Closing it goes through the mapping: it becomes an object and the change sticks.
    body = {"inbox_id": 42, "user_id": 7, "chat_id": conversation_id}
    assert drive("POST /v1/conversations/close", body) == "ok"
    kept = state.conversations[conversation_id]
    assert kept is state.conversations[conversation_id]
    assert kept.status == "closed"
    assert [m.json for m in kept.messages] == before
    # A later broadcast reaches the kept thread, and the team history shares its record.
    later = drive.broadcast(list_id, "bc-2")
    assert kept.messages[-1].json["broadcast_id"] == later
    assert drive.history(members[1])[0] == kept.messages[-1].json
    assert any(m is kept.messages[-1] for m in state.messages)


def test_individual_send_after_a_broadcast_joins_the_same_thread(drive: Driver) -> None:
    members = phones(2)
    list_id = drive.make_list(members)
    broadcast_id = drive.broadcast(list_id, "bc-1")
    [from_list] = drive.history(members[0])
    sent = drive("POST /v1/message/send", {"inbox_id": 42, "phone_number": members[0], "text": "x"})
    newest, oldest = drive.history(members[0])
    assert (newest["id"], oldest["broadcast_id"]) == (sent["id"], broadcast_id)
    assert newest["conversation"]["id"] == oldest["conversation"]["id"]
    assert oldest == from_list


def test_listing_conversations_does_not_keep_bare_threads(drive: Driver) -> None:
    members = phones(5)
    drive.broadcast(drive.make_list(members), "bc-1")
    store = drive.state.conversations
    page = drive("POST /v1/conversations", {"id": 7, "limit": 3})
    assert [c["target"] for c in page] == members[::-1][:3]
    assert drive("POST /v1/conversations/count", {}) == str(len(store))
    assert len(store) == len(store._full) + 5  # still five bare rows


def test_messages_and_stamps_stay_parallel(drive: Driver) -> None:
    drive("POST /v1/message/send", {"inbox_id": 42, "phone_number": ADA, "text": "a"})
    drive.broadcast(drive.make_list(phones(4)), "bc-1")
    drive("POST /v1/message/send", {"inbox_id": 42, "phone_number": ADA, "text": "b"})
    state = drive.state
    created = list(state.message_created)
    assert [m.created_us for m in state.messages] == created
    assert created == sorted(set(created))
    assert [m.json["date"] for m in state.messages] == [rfc3339(us) for us in created]
    assert state.messages[-2].json == state.messages[len(state.messages) - 2].json
    assert [m.id for m in state.messages[1:3]] == [state.messages[1].id, state.messages[2].id]
    assert drive("POST /v1/messages/all/count", {}) == str(len(state.messages))


# -- the ledger -----------------------------------------------------------------------------


def test_ledger_entries_of_a_broadcast_are_the_documented_values(drive: Driver) -> None:
    members = [*phones(3), ADA]
    drive("POST /v1/message/send", {"inbox_id": 42, "phone_number": ADA, "text": "x"})
    drive.state.opted_out.add(members[1])
    list_id = drive.make_list(members)
    broadcast_id = drive.broadcast(list_id, "bc-1")
    ledger = drive.state.ledger
    assert len(ledger) == 4  # one individual send, three broadcast recipients
    reached = [members[0], members[2], ADA]
    entries = list(ledger)
    assert entries == [ledger[i] for i in range(4)] == list(ledger[0:4])
    assert ledger[-1] == ledger[3]
    assert ledger[1:3] == entries[1:3]
    for offset, (entry, phone) in enumerate(zip(entries[1:], reached, strict=True)):
        assert entry == LedgerEntry(
            seq=1 + offset,
            kind=LedgerKind.LIST_BROADCAST,
            message_id=broadcast_id + 1 + offset,
            inbox_id=42,
            recipients=(phone,),
            local_id="bc-1",
            at=entry.at,
            broadcast_id=broadcast_id,
            list_id=list_id,
            request_id=entry.request_id,
        )
        assert entry.recipient == phone
        assert drive.history(phone)[0]["id"] == entry.message_id
    assert ledger.with_local_id("bc-1") == entries[1:]
    assert ledger.counts_by_recipient() == Counter({ADA: 2, members[0]: 1, members[2]: 1})
    assert ledger.counts_by_recipient(kinds=[LedgerKind.INDIVIDUAL]) == Counter({ADA: 1})
    assert ledger.duplicates() == {ADA: 2}
    assert ledger.counts_by_kind() == Counter(
        {LedgerKind.INDIVIDUAL: 1, LedgerKind.LIST_BROADCAST: 3}
    )


def test_a_retried_broadcast_commits_nothing_new(drive: Driver) -> None:
    list_id = drive.make_list(phones(3))
    first = drive.broadcast(list_id, "bc-1")
    assert drive.broadcast(list_id, "bc-1") == first
    assert len(drive.state.ledger) == 3
    assert len(drive.state.broadcasts) == 1


# -- contacts and lists ---------------------------------------------------------------------


def test_list_members_stay_bare_until_read_through_the_mapping(drive: Driver) -> None:
    members = phones(40)
    list_id = drive.make_list(members)
    state = drive.state
    ids = list(state.lists[list_id].members)
    assert [state.contacts.phone_of(i) for i in ids] == members
    assert all(state.contacts.is_bare(i) for i in ids)
    listed = drive("POST /v1/contacts", {"limit": 200})
    assert {c["phone"] for c in listed} >= set(members)
    assert all(state.contacts.is_bare(i) for i in ids)  # reading a page kept none

    contact = state.contacts_by_phone[members[5]]
    assert contact is state.contacts[ids[5]]
    assert not state.contacts.is_bare(ids[5])
    assert state.contact_json(contact) == next(c for c in listed if c["phone"] == members[5])
    body = {"first": "Zoe", "last": "Q", "phone": members[5]}
    drive("PUT /v1/contact/{id}", body, id=str(ids[5]))
    assert state.contacts_by_phone[members[5]].first == "Zoe"
    drive.broadcast(list_id, "bc-1", text="Hey {{first_name}}")
    assert drive.history(members[5])[0]["text"] == "Hey Zoe"
    assert drive.history(members[6])[0]["text"] == "Hey "


def test_deleting_a_bare_contact_takes_it_off_its_lists(drive: Driver) -> None:
    members = phones(3)
    list_id = drive.make_list(members)
    state = drive.state
    gone = state.contacts_by_phone.id_of(members[1])
    assert gone is not None
    drive("DELETE /v1/contact/{id}", id=str(gone))
    assert gone not in state.contacts
    assert members[1] not in state.contacts_by_phone
    assert [state.contacts.phone_of(i) for i in state.lists[list_id].members] == [
        members[0],
        members[2],
    ]
    # The number is free again: putting it on a list makes a new contact.
    drive("PUT /v2/lists/{id}", {"add_phones": [members[1]]}, id=str(list_id))
    assert state.contacts_by_phone.id_of(members[1]) not in (None, gone)
    with pytest.raises(KeyError):
        state.contacts[gone]


def test_list_updates_keep_order_and_refuse_oversize_without_change(drive: Driver) -> None:
    members = phones(5)
    list_id = drive.make_list(members)
    state = drive.state
    record = state.lists[list_id]
    drive(
        "PUT /v2/lists/{id}",
        {"remove_phones": [members[0]], "add_phones": [members[0], members[1]]},
        id=str(list_id),
    )
    assert [state.contacts.phone_of(i) for i in state.lists[list_id].members] == [
        *members[1:],
        members[0],
    ]
    state.team["list_size"] = 5
    with pytest.raises(ApiFailure):
        drive("PUT /v2/lists/{id}", {"add_phones": phones(1, start=99)}, id=str(list_id))
    assert len(record.members) == 5


def test_member_ids_behave_like_the_keys_of_a_dict() -> None:
    members = MemberIds([5, 3, 9, 3], base=3)
    assert list(members) == [5, 3, 9]
    assert len(members) == 3
    assert 9 in members
    assert 4 not in members
    assert "9" not in members
    twin = members.copy()
    members.discard(3)
    members.add(3)
    members.add(1)  # below the base: still works
    assert list(members) == [5, 9, 3, 1]
    assert list(twin) == [5, 3, 9]
    members.discard_many([5, 1, 42])
    assert list(members) == [9, 3]
    assert 5 not in members
    assert 1 not in members


def test_phone_keys_round_trip() -> None:
    for phone in ("15105550100", "447700900123", "999999999999999999"):
        assert phone_key(phone) == int(phone)
        assert phone_text(phone_key(phone)) == phone
    for odd in ("0123", "", "+1510", "1" * 19, "١٢٣"):
        assert phone_key(odd) == odd
        assert phone_text(odd) == odd


def test_timeline_walks_the_same_after_compaction() -> None:
    timeline = Timeline(first_id=100)
    for n in range(300):
        timeline.touch(100 + n % 50, 1_000 + n)
    timeline.remove(120)
    timeline.touch(130, 5_000)
    assert len(timeline) == 49
    newest = list(timeline.walk())
    assert newest[0] == 130
    assert 120 not in newest
    assert len(newest) == 49
    assert list(timeline.walk(after=0)) == newest[::-1]
    stamp = timeline.stamp_of(149)
    assert stamp is not None
    assert timeline.stamp_of(120) is None
    assert list(timeline.walk(before=stamp)) == newest[newest.index(149) + 1 :]
    assert timeline.count(before=stamp) == len(newest) - newest.index(149) - 1
    with pytest.raises(ValueError, match="below"):
        timeline.touch(99, 1)


# -- memory ---------------------------------------------------------------------------------


def test_list_members_and_broadcast_recipients_are_stored_compactly() -> None:
    drive = Driver()
    count = 20_000
    gc.collect()
    was_tracing = tracemalloc.is_tracing()  # e.g. python -X tracemalloc: leave it running
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        list_id = drive.make_list(phones(count))
        gc.collect()
        listed = tracemalloc.get_traced_memory()[0]
        drive.broadcast(list_id, "bc-1")
        gc.collect()
        sent = tracemalloc.get_traced_memory()[0]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert len(drive.state.ledger) == count
    # One object per member was about 950 bytes per member and 2,150 per ledger entry.
    assert (listed - start) / count < 400
    assert (sent - listed) / count < 400


def _us(date: str) -> float:
    from heymarket_async.sandbox._state import parse_rfc3339  # noqa: PLC0415

    value = parse_rfc3339(date)
    assert value is not None
    return value
