"""The sandbox's in-memory world: team, inboxes, contacts, conversations, messages, lists,
schedules, the ``local_id`` memory, and the ledger of every committed send.

Pure data and bookkeeping; no aiohttp and no event loop, so the handlers in ``_api.py`` stay
plain functions.
"""

from __future__ import annotations

import enum
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, overload

import attrs

__all__ = [
    "ApiFailure",
    "Contact",
    "Conversation",
    "Ledger",
    "LedgerEntry",
    "LedgerKind",
    "ListRecord",
    "MessageRecord",
    "SandboxState",
    "parse_rfc3339",
    "rfc3339",
]

TEAM_ID: Final = 1001
OWNER_ID: Final = 7
DEFAULT_INBOX_ID: Final = 42
EMAIL_INBOX_ID: Final = 44
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)


def rfc3339(us: int) -> str:
    """Unix microseconds as RFC 3339 UTC with microseconds, like the API's own dates."""
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> int | None:
    """Unix microseconds from an RFC 3339 string (an offset is required), or ``None``."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    # Integer microseconds, so a date we printed parses back to exactly the same instant.
    return (when - _EPOCH) // _ONE_US


def to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


class ApiFailure(Exception):  # noqa: N818 - an answer, not a bug: it becomes an HTTP error
    """Raised by a handler to answer with an error status and an ``{error_code, message}`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def bad_data(cls, field: str, why: str) -> ApiFailure:
        """400 ``bad_data`` with the ``"<field>: <why>"`` message the API uses (§1.5)."""
        return cls(400, "bad_data", f"{field}: {why}")

    @classmethod
    def not_found(cls, what: str) -> ApiFailure:
        """404 for an unknown id in the path."""
        return cls(404, "not_found", f"{what} not found")

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


class LedgerKind(enum.StrEnum):
    """How a committed send reached its recipients."""

    INDIVIDUAL = "individual"
    LIST_BROADCAST = "list_broadcast"
    GROUP = "group"
    EMAIL = "email"
    PRIVATE_NOTE = "private_note"


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One committed send: ground truth that tests compare with what the client believes.

    Attributes:
        seq: position in the ledger (0-based).
        kind: individual SMS/MMS, one recipient of a list broadcast, group MMS, email, or a
            private note (which reaches nobody outside the team).
        message_id: the id of the stored message.
        inbox_id: the sending inbox.
        recipients: phone numbers (E.164 without ``+``) or email addresses.
        local_id: the request's ``local_id`` (a broadcast's, for its fan-out).
        at: commit time, sandbox clock, Unix seconds.
        broadcast_id: the id answered for a list broadcast.
        list_id: the list of a list broadcast.
        request_id: the ``X-Request-Id`` of the request that committed it.
    """

    seq: int
    kind: LedgerKind
    message_id: int
    inbox_id: int
    recipients: tuple[str, ...]
    local_id: str | None
    at: float
    broadcast_id: int | None = None
    list_id: int | None = None
    request_id: str | None = None

    @property
    def recipient(self) -> str:
        """The single recipient, or the recipients joined with commas for a group or email."""
        return ",".join(self.recipients)


class Ledger(Sequence[LedgerEntry]):
    """Every committed send in commit order, with counting helpers for assertions."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []

    def __repr__(self) -> str:
        return f"<Ledger {len(self._entries)} entries>"

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> LedgerEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[LedgerEntry]: ...
    def __getitem__(self, index: int | slice) -> LedgerEntry | Sequence[LedgerEntry]:
        return self._entries[index]

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self._entries)

    def record(self, **fields: Any) -> LedgerEntry:
        entry = LedgerEntry(seq=len(self._entries), **fields)
        self._entries.append(entry)
        return entry

    def clear(self) -> None:
        self._entries.clear()

    def _select(self, kinds: Iterable[LedgerKind] | None) -> Iterator[LedgerEntry]:
        if kinds is None:
            return iter(self._entries)
        wanted = frozenset(kinds)
        return (entry for entry in self._entries if entry.kind in wanted)

    def counts_by_recipient(self, *, kinds: Iterable[LedgerKind] | None = None) -> Counter[str]:
        """How many committed sends reached each recipient (group members count singly)."""
        counts: Counter[str] = Counter()
        for entry in self._select(kinds):
            counts.update(entry.recipients)
        return counts

    def duplicates(self, *, kinds: Iterable[LedgerKind] | None = None) -> dict[str, int]:
        """Recipients reached more than once, with their counts (empty means no duplicates)."""
        return {r: n for r, n in self.counts_by_recipient(kinds=kinds).items() if n > 1}

    def with_local_id(self, local_id: str) -> list[LedgerEntry]:
        """The entries committed under ``local_id``."""
        return [entry for entry in self._entries if entry.local_id == local_id]


@attrs.define(kw_only=True)
class Contact:
    """A contact; every phone or email put on a list becomes one (§2.5)."""

    id: int
    phone: str | None = None
    email: str | None = None
    first: str = ""
    last: str = ""
    created_us: int = 0

    def to_json(self) -> dict[str, Any]:
        date = rfc3339(self.created_us)
        name = f"{self.first} {self.last}".strip()
        return {
            "id": self.id,
            "first": self.first,
            "last": self.last,
            "display_name": name or self.phone or self.email or "",
            "phone": self.phone,
            "email": self.email,
            "custom": {},
            "team_id": TEAM_ID,
            "creator_id": OWNER_ID,
            "shared": True,
            "created": date,
            "updated": date,
            "rev": 1,
            "tags": [],
            "is_opted_out": False,
        }


@attrs.define(kw_only=True, eq=False)
class MessageRecord:
    """A stored message; ``json`` is the Message object exactly as the API returns it."""

    id: int
    created_us: int
    conversation_id: int
    json: dict[str, Any]


@attrs.define(kw_only=True, eq=False)
class Conversation:
    """A thread between an inbox and a phone, a group of phones, or email addresses."""

    id: int
    inbox_id: int
    target: str
    channel: str  # "sms" or "email"
    type: str  # "individual", "group" or "email"
    recipients: tuple[str, ...]
    created_us: int
    title: str | None = None
    messages: list[MessageRecord] = attrs.Factory(list)
    created: list[int] = attrs.Factory(list)  # parallel to messages, for bisect

    def summary(self) -> dict[str, Any]:
        """The Conversation object embedded in each Message (§2.3)."""
        date = rfc3339(self.created_us)
        return {
            "id": self.id,
            "inbox": self.inbox_id,
            "target": self.target,
            "channel": self.channel,
            "type": self.type,
            "name": self.title,
            "status": "open",
            "created": date,
            "creator": OWNER_ID,
        }


@attrs.define(kw_only=True, eq=False)
class ListRecord:
    """A v2 list: an ordered set of contact ids."""

    id: int
    title: str
    local_id: str
    uuid: str
    type: str | None
    creator_id: int
    created_us: int
    updated_us: int
    rev: int = 1
    members: dict[int, None] = attrs.Factory(dict)


def _inbox(
    inbox_id: int, name: str, phone: str | None, members: list[int], channel: str
) -> dict[str, Any]:
    return {
        "id": inbox_id,
        "name": name,
        "phone": phone,
        "phones": [phone] if phone else [],
        "members": members,
        "invited": [],
        "team": TEAM_ID,
        "allowed_domains": [],
        "auto_assignable": False,
        "bco_chats": False,
        "forward_number": None,
        "widget_code": None,
        "op": "u",
        "rev": 1,
        "channel": channel,
    }


_SEED_CONTACTS: Final = (
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
)


class SandboxState:
    """All sandbox data; handlers read and change it, tests inspect it.

    Attributes:
        team: the Team object of ``GET /v1/team``.
        inboxes: Inbox objects by id (``channel`` is ``"sms"`` or ``"email"``).
        contacts: contacts by id.
        conversations: conversations by id.
        messages: every message in creation order (creation times strictly increase).
        lists: v2 lists by id.
        schedules: Scheduled objects by id, as ``GET /v1/schedule/{id}`` returns them.
        ledger: every committed send.
        opted_out: phones that refuse messages (sends answer 400 ``unsubscribed_number``).
    """

    def __init__(self, *, seed: int = 0, list_size: int = 10_000, start_us: int = 0) -> None:
        self.rng = random.Random(seed)
        self.team: dict[str, Any] = {
            "id": TEAM_ID,
            "name": "Sandbox Team",
            "list_size": list_size,
            "members": [
                {"id": OWNER_ID, "name": "Olive Owner", "role": "owner"},
                {"id": 8, "name": "Adam Admin", "role": "admin"},
                {"id": 9, "name": "Mia Member", "role": "member"},
            ],
        }
        self.inboxes: dict[int, dict[str, Any]] = {
            DEFAULT_INBOX_ID: _inbox(DEFAULT_INBOX_ID, "Main", "14155550142", [7, 8, 9], "sms"),
            43: _inbox(43, "Support", "14155550143", [7, 9], "sms"),
            EMAIL_INBOX_ID: _inbox(EMAIL_INBOX_ID, "Email", None, [7, 8], "email"),
        }
        self.contacts: dict[int, Contact] = {}
        self.contacts_by_phone: dict[str, Contact] = {}
        self.contacts_by_email: dict[str, Contact] = {}
        self.conversations: dict[int, Conversation] = {}
        self._conversation_index: dict[tuple[int, str], Conversation] = {}
        self._conversations_by_target: dict[str, list[Conversation]] = {}
        self.messages: list[MessageRecord] = []
        self.message_created: list[int] = []  # parallel to messages, for bisect
        self.lists: dict[int, ListRecord] = {}
        self.schedules: dict[int, dict[str, Any]] = {}
        self.schedule_requests: dict[int, dict[str, Any]] = {}  # the merged request bodies
        self.ledger = Ledger()
        self.opted_out: set[str] = set()
        # local_id memory per endpoint family (§4): local_id -> the original answer.
        self.sent_by_local_id: dict[str, dict[str, Any]] = {}
        self.email_by_local_id: dict[str, dict[str, Any]] = {}
        self.list_by_local_id: dict[str, int] = {}
        self.schedule_by_local_id: dict[str, int] = {}
        # Distinct id ranges per object type make a mixed-up id fail loudly in tests.
        self._next_id = {
            "message": 100_001,
            "conversation": 500_001,
            "contact": 300_001,
            "list": 700_001,
            "schedule": 900_001,
        }
        self._last_message_us = 0
        for index, (first, last) in enumerate(_SEED_CONTACTS):
            contact = self.contact_for_phone(f"1510555{index + 100:04d}", start_us)
            contact.first, contact.last = first, last

    # ids and time

    def new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def message_stamp(self, now_us: int) -> int:
        """A creation time after every earlier message's, so date cursors never tie."""
        stamp = max(now_us, self._last_message_us + 1)
        self._last_message_us = stamp
        return stamp

    # lookups

    @property
    def member_ids(self) -> frozenset[int]:
        return frozenset(member["id"] for member in self.team["members"])

    def contact_for_phone(self, phone: str, now_us: int) -> Contact:
        contact = self.contacts_by_phone.get(phone)
        if contact is None:
            contact = Contact(id=self.new_id("contact"), phone=phone, created_us=now_us)
            self.contacts[contact.id] = contact
            self.contacts_by_phone[phone] = contact
        return contact

    def contact_for_email(self, email: str, now_us: int) -> Contact:
        key = email.lower()
        contact = self.contacts_by_email.get(key)
        if contact is None:
            contact = Contact(id=self.new_id("contact"), email=email, created_us=now_us)
            self.contacts[contact.id] = contact
            self.contacts_by_email[key] = contact
        return contact

    def conversation_for(
        self,
        *,
        inbox_id: int,
        target: str,
        recipients: tuple[str, ...],
        channel: str,
        kind: str,
        now_us: int,
        title: str | None = None,
        reuse: bool = True,
    ) -> Conversation:
        key = (inbox_id, target)
        found = self._conversation_index.get(key) if reuse else None
        if found is not None:
            return found
        conversation = Conversation(
            id=self.new_id("conversation"),
            inbox_id=inbox_id,
            target=target,
            channel=channel,
            type=kind,
            recipients=recipients,
            created_us=now_us,
            title=title,
        )
        self.conversations[conversation.id] = conversation
        if reuse:
            self._conversation_index[key] = conversation
            self._conversations_by_target.setdefault(target, []).append(conversation)
        return conversation

    def conversation_with(self, inbox_id: int, target: str) -> Conversation | None:
        return self._conversation_index.get((inbox_id, target))

    def conversations_with_target(self, target: str) -> list[Conversation]:
        return list(self._conversations_by_target.get(target, ()))

    # writes

    def add_message(
        self,
        *,
        conversation: Conversation,
        now_us: int,
        user: int,
        text: str | None,
        kind: str,
        local_id: str | None,
        media: str | None = None,
        broadcast_id: int | None = None,
        author: str | None = None,
        private: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> MessageRecord:
        """Store one message in its conversation and in the team-wide history."""
        stamp = self.message_stamp(now_us)
        message_id = self.new_id("message")
        date = rfc3339(stamp)
        phone = conversation.recipients[0] if conversation.type == "individual" else None
        body: dict[str, Any] = {
            "id": message_id,
            "date": date,
            "updated": date,
            "local_id": local_id,
            "phone": phone,
            "target": conversation.target,
            "text": text,
            "media": media,
            "status": "sent",
            "type": kind,
            "user": user,
            "author": author,
            "broadcast_id": broadcast_id,
            "private": private,
            "flagged": False,
            "support": False,
            "link_url": None,
            "conversation": conversation.summary(),
        }
        if extra:
            body.update(extra)
        record = MessageRecord(
            id=message_id, created_us=stamp, conversation_id=conversation.id, json=body
        )
        self.messages.append(record)
        self.message_created.append(stamp)
        conversation.messages.append(record)
        conversation.created.append(stamp)
        return record
