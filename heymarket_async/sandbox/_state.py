"""The sandbox's in-memory world: team, users, inboxes, contacts and their channels, custom
fields, tags, templates, surveys, conversations, messages, lists, schedules, the ``local_id``
memory, and the ledger of every committed send.

Pure data and bookkeeping; no aiohttp and no event loop, so the handlers in ``_api*.py`` stay
plain functions. Every change that touches an index (phone, email, uuid, tag membership,
conversation key, ``updated`` order) goes through a method here, so the indexes cannot drift.

Bulk data is kept compact (see ``_compact.py``): a contact made from a bare phone number, the
thread a list broadcast starts, and the broadcast's messages and ledger entries live in
arrays and one record per broadcast, and become objects only when read or changed. A
million-recipient rehearsal costs about 200 bytes per list member and per ledger entry.
"""

from __future__ import annotations

import enum
import random
import uuid
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
from types import MappingProxyType
from typing import Any, Final, overload

import attrs

from ._compact import BroadcastRecord, MemberIds, phone_key, phone_text

__all__ = [
    "FIRST_IDS",
    "ApiFailure",
    "ChannelRecord",
    "Contact",
    "ContactStore",
    "Conversation",
    "ConversationStore",
    "Ledger",
    "LedgerEntry",
    "LedgerKind",
    "ListRecord",
    "MessageLog",
    "MessageRecord",
    "PhoneIndex",
    "SandboxState",
    "TagRecord",
    "TeamUser",
    "TemplateRecord",
    "Timeline",
    "parse_rfc3339",
    "rfc3339",
]

TEAM_ID: Final = 1001
OWNER_ID: Final = 7
DEFAULT_INBOX_ID: Final = 42
EMAIL_INBOX_ID: Final = 44
MAX_CONTACT_TAGS: Final = 5  # §2.8: a contact holds at most 5 tags
# TeamUser role_id (§2.2 gives 1 = admin and 4 = member; the owner's id is the sandbox's pick).
ROLE_IDS: Final = {"admin": 1, "owner": 2, "member": 4}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
_NO_CUSTOM: Final[Mapping[str, str]] = MappingProxyType({})


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
    """Every committed send in commit order, with counting helpers for assertions.

    A list broadcast is kept as one :class:`BroadcastRecord` however many recipients it
    reached; its entries are built when read.
    """

    def __init__(self) -> None:
        self._entries: list[LedgerEntry | BroadcastRecord] = []

    def __repr__(self) -> str:
        return f"<Ledger {len(self._entries)} entries>"

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> LedgerEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[LedgerEntry]: ...
    def __getitem__(self, index: int | slice) -> LedgerEntry | Sequence[LedgerEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._entries)))]
        item = self._entries[index]
        if isinstance(item, LedgerEntry):
            return item
        return _broadcast_entry(item, (index % len(self._entries)) - item.first_seq)

    def __iter__(self) -> Iterator[LedgerEntry]:
        for seq, item in enumerate(self._entries):
            yield (
                item
                if isinstance(item, LedgerEntry)
                else _broadcast_entry(item, seq - item.first_seq)
            )

    def record(self, **fields: Any) -> LedgerEntry:
        entry = LedgerEntry(seq=len(self._entries), **fields)
        self._entries.append(entry)
        return entry

    def record_broadcast(self, broadcast: BroadcastRecord) -> None:
        """Commit every recipient of ``broadcast`` (its ``first_seq`` must be ``len(self)``)."""
        assert broadcast.first_seq == len(self._entries)
        self._entries.extend(repeat(broadcast, len(broadcast)))

    def clear(self) -> None:
        self._entries.clear()

    def _select(self, kinds: Iterable[LedgerKind] | None) -> Iterator[LedgerEntry]:
        if kinds is None:
            return iter(self)
        wanted = frozenset(kinds)
        return (entry for entry in self if entry.kind in wanted)

    def _parts(self) -> Iterator[LedgerEntry | BroadcastRecord]:
        """Single entries, and each broadcast once."""
        seen: set[int] = set()
        for item in self._entries:
            if isinstance(item, LedgerEntry):
                yield item
            elif id(item) not in seen:
                seen.add(id(item))
                yield item

    def counts_by_recipient(self, *, kinds: Iterable[LedgerKind] | None = None) -> Counter[str]:
        """How many committed sends reached each recipient (group members count singly)."""
        wanted = None if kinds is None else frozenset(kinds)
        counts: Counter[str] = Counter()
        for part in self._parts():
            if wanted is not None and part.kind not in wanted:
                continue
            if isinstance(part, LedgerEntry):
                counts.update(part.recipients)
            else:
                counts.update(map(str, filter(None, part.phones)))
                counts.update(part.odd_phones.values())
        return counts

    def counts_by_kind(self) -> Counter[LedgerKind]:
        """How many entries of each kind."""
        counts: Counter[LedgerKind] = Counter()
        for part in self._parts():
            counts[part.kind] += 1 if isinstance(part, LedgerEntry) else len(part)
        return counts

    def duplicates(self, *, kinds: Iterable[LedgerKind] | None = None) -> dict[str, int]:
        """Recipients reached more than once, with their counts (empty means no duplicates)."""
        return {r: n for r, n in self.counts_by_recipient(kinds=kinds).items() if n > 1}

    def with_local_id(self, local_id: str) -> list[LedgerEntry]:
        """The entries committed under ``local_id``."""
        found: list[LedgerEntry] = []
        for part in self._parts():
            if part.local_id != local_id:
                continue
            if isinstance(part, LedgerEntry):
                found.append(part)
            else:
                found.extend(_broadcast_entry(part, i) for i in range(len(part)))
        found.sort(key=lambda entry: entry.seq)
        return found


def _broadcast_entry(broadcast: BroadcastRecord, index: int) -> LedgerEntry:
    return LedgerEntry(
        seq=broadcast.first_seq + index,
        kind=broadcast.kind,
        message_id=broadcast.first_message_id + index,
        inbox_id=broadcast.inbox_id,
        recipients=(broadcast.phone(index),),
        local_id=broadcast.local_id,
        at=broadcast.at,
        broadcast_id=broadcast.id,
        list_id=broadcast.list_id,
        request_id=broadcast.request_id,
    )


class Timeline:
    """Record ids ordered by a strictly increasing ``updated`` stamp, for ``date`` cursors (§3).

    :meth:`touch` gives a record a stamp later than every earlier one and moves it last, so
    no two records ever share a stamp and a cursor never skips or repeats one. Entries left
    behind by a touch or :meth:`remove` are dropped lazily and compacted once they
    outnumber the live ones, so every change is amortised O(1) and a cursor lookup is a
    binary search. Ids are dense from ``first_id`` up, so each record's current stamp sits
    in an array at ``id - first_id`` (0 = not live): about 24 bytes per record.
    """

    __slots__ = ("_first", "_ids", "_last", "_live", "_size", "_stamps")

    def __init__(self, first_id: int = 0) -> None:
        self._stamps = array("q")  # ascending
        self._ids = array("q")  # parallel to _stamps
        self._live = array("q")  # id - first_id -> its current stamp, 0 = none
        self._first = first_id
        self._size = 0
        self._last = 0

    def __len__(self) -> int:
        return self._size

    def stamp_of(self, record_id: int) -> int | None:
        """The record's current stamp, or ``None`` when it is not in the timeline."""
        offset = record_id - self._first
        if 0 <= offset < len(self._live):
            return self._live[offset] or None
        return None

    def touch(self, record_id: int, now_us: int) -> int:
        """Stamp ``record_id`` as updated now (or just after the latest stamp) and return it."""
        stamp = self._last + 1
        stamp = max(stamp, now_us)
        self._last = stamp
        offset = record_id - self._first
        if offset < 0:
            raise ValueError(f"id {record_id} is below this timeline's first id {self._first}")
        live = self._live
        if offset >= len(live):  # grow ahead (ids arrive in order), so this is rare
            live.frombytes(bytes(8 * (offset - len(live) + 1 + len(live) // 8)))
        if not live[offset]:
            self._size += 1
        live[offset] = stamp
        stamps = self._stamps
        stamps.append(stamp)
        self._ids.append(record_id)
        if len(stamps) > 2 * self._size + 64:  # stale entries outnumber live ones
            self._compact()
        return stamp

    def skip(self, now_us: int) -> None:
        """Use up the stamp :meth:`touch` would give now, without recording anything."""
        self._last = max(now_us, self._last + 1)

    def remove(self, record_id: int) -> None:
        offset = record_id - self._first
        if 0 <= offset < len(self._live) and self._live[offset]:
            self._live[offset] = 0
            self._size -= 1
        if len(self._stamps) > 2 * self._size + 64:
            self._compact()

    def _compact(self) -> None:
        live, first = self._live, self._first
        kept = [
            (t, i) for t, i in zip(self._stamps, self._ids, strict=True) if live[i - first] == t
        ]
        self._stamps = array("q", [t for t, _ in kept])
        self._ids = array("q", [i for _, i in kept])

    def walk(self, *, before: int | None = None, after: int | None = None) -> Iterator[int]:
        """Live ids newest first, strictly before ``before``; with ``after``, oldest first,
        strictly after it. (Give at most one of the two.)"""
        stamps, ids, live, first = self._stamps, self._ids, self._live, self._first
        if after is not None:
            indexes: Iterable[int] = range(bisect_right(stamps, after), len(stamps))
        else:
            end = len(stamps) if before is None else bisect_left(stamps, before)
            indexes = range(end - 1, -1, -1)
        for index in indexes:
            record_id = ids[index]
            if live[record_id - first] == stamps[index]:
                yield record_id

    def count(self, *, before: int | None = None, after: int | None = None) -> int:
        """How many live ids :meth:`walk` would yield."""
        if before is None and after is None:
            return self._size
        if len(self._stamps) != self._size:
            self._compact()
        if after is not None:
            return len(self._stamps) - bisect_right(self._stamps, after)
        assert before is not None
        return bisect_left(self._stamps, before)


@attrs.define(kw_only=True, eq=False)
class ChannelRecord:
    """One way to reach a contact (§2.4 ContactChannel); at most one per ``channel_type``."""

    id: str
    type: str
    value: str
    handle: Any = None
    info: Any = None
    created_us: int
    updated_us: int


@attrs.define(kw_only=True, eq=False)
class Contact:
    """A contact; every phone or email put on a list becomes one (§2.5).

    ``phone`` and ``email`` mirror the ``phone``/``email`` entries of ``channels``; change
    them only through :class:`SandboxState` so the lookup indexes follow.
    """

    id: int
    uuid: str = ""
    phone: str | None = None
    email: str | None = None
    first: str = ""
    last: str = ""
    display_name: str | None = None  # set explicitly; None = derived from names/phone/email
    avatar: str | None = None
    # Replaced, never changed in place: the shared empty defaults keep a new contact cheap.
    custom: Mapping[str, str] = _NO_CUSTOM  # field id (as a string) -> value
    tags: tuple[int, ...] = ()
    assigned_user_id: int | None = None
    created_us: int = 0
    updated_us: int = 0
    rev: int = 1
    channels: dict[str, ChannelRecord] = attrs.Factory(dict)

    @property
    def shown_name(self) -> str:
        if self.display_name:
            return self.display_name
        name = f"{self.first} {self.last}".strip()
        return name or self.phone or self.email or ""


@attrs.define(kw_only=True, eq=False)
class TagRecord:
    """A tag (§2.8)."""

    id: int
    tag: str
    color: str | None
    uuid: str
    created_us: int
    updated_us: int
    rev: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tag": self.tag,
            "color": self.color,
            "team_id": TEAM_ID,
            "created": rfc3339(self.created_us),
            "updated": rfc3339(self.updated_us),
            "rev": self.rev,
        }


@attrs.define(kw_only=True, eq=False)
class TemplateRecord:
    """A message template (§2.7); requests call its title ``title``, the object ``name``."""

    id: int
    name: str
    content: dict[str, Any]
    local_id: str | None
    uuid: str
    archived: bool
    creator_id: int
    created_us: int
    updated_us: int
    rev: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "local_id": self.local_id,
            "content": self.content,
            "team_id": TEAM_ID,
            "creator_id": self.creator_id,
            "shared": True,
            "created": rfc3339(self.created_us),
            "updated": rfc3339(self.updated_us),
            "rev": self.rev,
            "archived": self.archived,
        }


@attrs.define(kw_only=True, eq=False)
class TeamUser:
    """A team membership as ``/v1/users/get`` returns it (§2.2); ``id`` is the member id."""

    id: int
    first: str
    last: str
    phone: str | None
    email: str | None
    role_id: int
    created_us: int
    updated_us: int

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()

    def to_json(self) -> dict[str, Any]:
        created, updated = rfc3339(self.created_us), rfc3339(self.updated_us)
        return {
            "id": self.id,
            "phone": self.phone,
            "name": self.name,
            "email": self.email,
            "role_id": self.role_id,
            "team_id": TEAM_ID,
            "created_at": created,
            "updated_at": updated,
            "user_created_at": created,
            "user_updated_at": updated,
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
    status: str = "open"  # "open" or "closed"
    assigned: int | None = None
    unread: bool = False
    updated_us: int = 0

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
            "status": self.status,
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
    members: MemberIds = attrs.Factory(lambda: MemberIds(base=FIRST_IDS["contact"]))


class ContactStore(MutableMapping[int, Contact]):
    """Contacts by id. A contact made from a bare phone number (a list member, say) is kept
    as three array cells (phone, stamp, channel serial) until it is first read through this
    mapping, which turns it into a :class:`Contact` for good, so changes to it stick.
    :meth:`peek` reads one without that."""

    def __init__(self, first_id: int, contact_prefix: str, channel_prefix: str) -> None:
        self._full: dict[int, Contact] = {}
        self._first = first_id
        self._phone = array("q")  # id - first -> phone key of a bare contact, 0 = none
        self._stamp = array("q")
        self._channel = array("q")
        self._bare = 0
        self._contact_prefix = contact_prefix
        self._channel_prefix = channel_prefix

    def __repr__(self) -> str:
        return f"<ContactStore {len(self)} contacts>"

    def __len__(self) -> int:
        return len(self._full) + self._bare

    def _offset(self, contact_id: int) -> int | None:
        offset = contact_id - self._first
        if 0 <= offset < len(self._phone) and self._phone[offset]:
            return offset
        return None

    def __contains__(self, contact_id: object) -> bool:
        if not isinstance(contact_id, int):
            return False
        return contact_id in self._full or self._offset(contact_id) is not None

    def __iter__(self) -> Iterator[int]:
        first = self._first
        bare = (first + offset for offset, key in enumerate(self._phone) if key)
        return iter(sorted([*self._full, *bare]))

    def __getitem__(self, contact_id: int) -> Contact:
        contact = self._full.get(contact_id)
        if contact is not None:
            return contact
        contact = self.peek(contact_id)
        self[contact_id] = contact
        return contact

    # Mapping.get would raise and catch a KeyError on every miss; sends look up often.
    def get(  # type: ignore[override]
        self, contact_id: int, default: Contact | None = None
    ) -> Contact | None:
        contact = self._full.get(contact_id)
        if contact is not None:
            return contact
        return self[contact_id] if self._offset(contact_id) is not None else default

    def __setitem__(self, contact_id: int, contact: Contact) -> None:
        self._forget_bare(contact_id)
        self._full[contact_id] = contact

    def __delitem__(self, contact_id: int) -> None:
        if self._full.pop(contact_id, None) is None:
            if self._offset(contact_id) is None:
                raise KeyError(contact_id)
            self._forget_bare(contact_id)

    def _forget_bare(self, contact_id: int) -> None:
        offset = self._offset(contact_id)
        if offset is not None:
            self._phone[offset] = 0
            self._bare -= 1

    def add_bare(self, contact_id: int, phone: int, stamp: int, channel_serial: int) -> None:
        """A contact with only this phone channel, created and updated at ``stamp``."""
        offset = contact_id - self._first
        missing = offset + 1 - len(self._phone)
        if missing > 0:
            for column in (self._phone, self._stamp, self._channel):
                column.frombytes(bytes(8 * missing))
        self._phone[offset] = phone
        self._stamp[offset] = stamp
        self._channel[offset] = channel_serial
        self._bare += 1

    def phone_of(self, contact_id: int) -> str | None:
        """The contact's phone without building it (``KeyError`` if there is no such contact)."""
        offset = self._offset(contact_id)
        if offset is not None:
            return str(self._phone[offset])
        return self._full[contact_id].phone

    def is_bare(self, contact_id: int) -> bool:
        return contact_id not in self._full and self._offset(contact_id) is not None

    def peek(self, contact_id: int) -> Contact:
        """The contact, read-only: a bare one is built afresh and not kept."""
        contact = self._full.get(contact_id)
        if contact is not None:
            return contact
        offset = self._offset(contact_id)
        if offset is None:
            raise KeyError(contact_id)
        phone, stamp = str(self._phone[offset]), self._stamp[offset]
        channel = ChannelRecord(
            id=f"{self._channel_prefix}-{self._channel[offset]:012x}",
            type="phone",
            value=phone,
            created_us=stamp,
            updated_us=stamp,
        )
        return Contact(
            id=contact_id,
            uuid=f"{self._contact_prefix}-{contact_id:012x}",
            phone=phone,
            created_us=stamp,
            updated_us=stamp,
            channels={"phone": channel},
        )


class PhoneIndex(Mapping[str, Contact]):
    """The contact holding each phone number; reading one gives the kept :class:`Contact`."""

    def __init__(self, contacts: ContactStore) -> None:
        self._ids: dict[int | str, int] = {}
        self._contacts = contacts

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return map(phone_text, self._ids)

    def __contains__(self, phone: object) -> bool:
        return isinstance(phone, str) and phone_key(phone) in self._ids

    def __getitem__(self, phone: str) -> Contact:
        return self._contacts[self._ids[phone_key(phone)]]

    def get(  # type: ignore[override] # without Mapping.get's KeyError on a miss
        self, phone: str, default: Contact | None = None
    ) -> Contact | None:
        contact_id = self._ids.get(phone_key(phone))
        return default if contact_id is None else self._contacts[contact_id]

    def id_of(self, phone: str) -> int | None:
        return self._ids.get(phone_key(phone))

    def link(self, phone: str, contact_id: int) -> None:
        self._ids[phone_key(phone)] = contact_id

    def unlink(self, phone: str, contact_id: int) -> None:
        key = phone_key(phone)
        if self._ids.get(key) == contact_id:
            del self._ids[key]


class MessageLog(Sequence[MessageRecord]):
    """Every message in creation order; a broadcast's messages are built when read."""

    def __init__(self, build: Callable[[BroadcastRecord, int], MessageRecord]) -> None:
        self._items: list[MessageRecord | BroadcastRecord] = []
        self._build = build

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> MessageRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[MessageRecord]: ...
    def __getitem__(self, index: int | slice) -> MessageRecord | Sequence[MessageRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        item = self._items[index]
        if isinstance(item, MessageRecord):
            return item
        return self._build(item, (index % len(self._items)) - item.first_position)

    def __iter__(self) -> Iterator[MessageRecord]:
        for index in range(len(self._items)):
            yield self[index]

    def append(self, record: MessageRecord) -> None:
        self._items.append(record)

    def append_broadcast(self, broadcast: BroadcastRecord) -> None:
        assert broadcast.first_position == len(self._items)
        self._items.extend(repeat(broadcast, len(broadcast)))


class ConversationStore(MutableMapping[int, Conversation]):
    """Conversations by id. An individual SMS thread a list broadcast started is kept as a
    row of arrays (id, inbox, phone, created) until it is first read through this mapping;
    its messages are then gathered from the broadcasts. :meth:`peek` reads without that."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._full: dict[int, Conversation] = {}
        self._row_id = array("q")  # ascending
        self._row_inbox = array("q")
        self._row_phone = array("q")
        self._row_created = array("q")
        self._row_gone = bytearray()
        self._bare = 0
        self._by_inbox: dict[int, dict[int, int]] = {}  # inbox -> phone key -> id

    def __repr__(self) -> str:
        return f"<ConversationStore {len(self)} conversations>"

    def __len__(self) -> int:
        return len(self._full) + self._bare

    @property
    def bare_count(self) -> int:
        """How many conversations are still rows."""
        return self._bare

    def _row(self, conversation_id: int) -> int | None:
        if not self._bare:
            return None
        row = bisect_left(self._row_id, conversation_id)
        if row < len(self._row_id) and self._row_id[row] == conversation_id:
            return None if self._row_gone[row] else row
        return None

    def __contains__(self, conversation_id: object) -> bool:
        if not isinstance(conversation_id, int):
            return False
        return conversation_id in self._full or self._row(conversation_id) is not None

    def __iter__(self) -> Iterator[int]:
        bare = (i for row, i in enumerate(self._row_id) if not self._row_gone[row])
        return iter(sorted([*self._full, *bare]))

    def __getitem__(self, conversation_id: int) -> Conversation:
        found = self._full.get(conversation_id)
        if found is not None:
            return found
        return self._state._keep_conversation(self.peek(conversation_id))

    def get(  # type: ignore[override] # without Mapping.get's KeyError on a miss
        self, conversation_id: int, default: Conversation | None = None
    ) -> Conversation | None:
        found = self._full.get(conversation_id)
        if found is not None:
            return found
        return self[conversation_id] if self._row(conversation_id) is not None else default

    def __setitem__(self, conversation_id: int, conversation: Conversation) -> None:
        if self._bare:
            self._forget_bare(conversation_id)
        self._full[conversation_id] = conversation

    def __delitem__(self, conversation_id: int) -> None:
        if self._full.pop(conversation_id, None) is None:
            if self._row(conversation_id) is None:
                raise KeyError(conversation_id)
            self._forget_bare(conversation_id)

    def _forget_bare(self, conversation_id: int) -> None:
        row = self._row(conversation_id)
        if row is not None:
            self._row_gone[row] = 1
            self._bare -= 1
            del self._by_inbox[self._row_inbox[row]][self._row_phone[row]]

    def add_bare(self, conversation_id: int, inbox_id: int, phone: int, created_us: int) -> None:
        assert not self._row_id or conversation_id > self._row_id[-1]
        self._row_id.append(conversation_id)
        self._row_inbox.append(inbox_id)
        self._row_phone.append(phone)
        self._row_created.append(created_us)
        self._row_gone.append(0)
        self._bare += 1
        self._by_inbox.setdefault(inbox_id, {})[phone] = conversation_id

    def bare_with(self, inbox_id: int, phone: str) -> int | None:
        """The id of the bare conversation between this inbox and phone, if any."""
        by_phone = self._by_inbox.get(inbox_id)
        if not by_phone:
            return None
        key = phone_key(phone)
        return by_phone.get(key) if isinstance(key, int) else None

    def bare_inboxes(self) -> list[int]:
        return list(self._by_inbox)

    def peek(self, conversation_id: int) -> Conversation:
        """The conversation, read-only: a bare one is built afresh (without its messages)."""
        found = self._full.get(conversation_id)
        if found is not None:
            return found
        row = self._row(conversation_id)
        if row is None:
            raise KeyError(conversation_id)
        phone = str(self._row_phone[row])
        return Conversation(
            id=conversation_id,
            inbox_id=self._row_inbox[row],
            target=phone,
            channel="sms",
            type="individual",
            recipients=(phone,),
            created_us=self._row_created[row],
            updated_us=self._state.conversation_timeline.stamp_of(conversation_id) or 0,
        )

    def summary(self, conversation_id: int) -> dict[str, Any]:
        """What a message embeds about its conversation (§2.3)."""
        return self.peek(conversation_id).summary()


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
# (member id, first, last, phone, email); names and roles match the team's members.
_SEED_USERS: Final = (
    (OWNER_ID, "Olive", "Owner", "14155550107", "olive@sandbox.example"),
    (8, "Adam", "Admin", "14155550108", "adam@sandbox.example"),
    (9, "Mia", "Member", "14155550109", "mia@sandbox.example"),
)
_SEED_FIELDS: Final = ("Company", "Birthday", "Plan")
_SEED_TAGS: Final = (("VIP", "#d32f2f"), ("Newsletter", "#1976d2"), ("Wholesale", "#388e3c"))
_SEED_TEMPLATES: Final = (
    ("Welcome", "Hi {{first_name}}, welcome aboard!", False),
    ("Appointment reminder", "Hi {{first_name}}, see you tomorrow at 10:00.", False),
    ("Spring sale 2025", "20% off everything this week.", True),
)
_SEED_SURVEYS: Final = (
    ("Net Promoter", "nps", "How likely are you to recommend us to a friend? Reply 0-10."),
    ("Support satisfaction", "csat", "How satisfied are you with our help today? Reply 1-5."),
    ("Delivery follow-up", "csat", "How happy are you with your delivery? Reply 1-5."),
)
_HEX12: Final = frozenset("0123456789abcdef")


# Distinct id ranges per object type make a mixed-up id fail loudly in tests.
FIRST_IDS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "message": 100_001,
        "template": 200_001,
        "contact": 300_001,
        "conversation": 500_001,
        "tag": 600_001,
        "list": 700_001,
        "survey": 800_001,
        "schedule": 900_001,
        "field": 201,
        "channel": 1,
    }
)


def _uuid_prefix(rng: random.Random) -> str:
    """The first four groups of a version-4 UUID; ids fill the last group."""
    a, b, c, d = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12)
    return f"{a:08x}-{b:04x}-4{c:03x}-{8 | (d >> 10):x}{d & 0x3FF:03x}"


class SandboxState:
    """All sandbox data; handlers read and change it, tests inspect it.

    Attributes:
        team: the Team object of ``GET /v1/team``.
        users: team memberships (``/v1/users/*``) by member id, in step with ``team``.
        inboxes: Inbox objects by id (``channel`` is ``"sms"`` or ``"email"``).
        contacts: contacts by id (a :class:`ContactStore`: bare phone-only contacts stay in
            arrays until read through it).
        contacts_by_phone: the contact holding each phone (a :class:`PhoneIndex`).
        custom_fields: custom contact field titles by field id.
        tags: tags by id.
        templates: message templates by id.
        surveys: Survey objects by id.
        conversations: conversations by id (a :class:`ConversationStore`: threads a list
            broadcast started stay array rows until read through it).
        messages: every message in creation order (creation times strictly increase; a
            :class:`MessageLog`, which builds a broadcast's messages when read).
        message_created: the creation stamps of ``messages``, for bisect.
        broadcasts: every list broadcast, one :class:`BroadcastRecord` each.
        lists: v2 lists by id.
        schedules: Scheduled objects by id, as ``GET /v1/schedule/{id}`` returns them.
        ledger: every committed send.
        opted_out: phones that refuse messages (sends answer 400 ``unsubscribed_number``).
        admin_opted_out: the subset of ``opted_out`` the team unsubscribed (``set_status``).
        blocked: blocked phones (``set_status``).
        contact_timeline, conversation_timeline, tag_timeline, template_timeline: ids in
            ``updated`` order, for the ``date`` cursors.
    """

    def __init__(self, *, seed: int = 0, list_size: int = 10_000, start_us: int = 0) -> None:
        self.rng = random.Random(seed)
        # A separate generator, so adding contacts does not shift the UUIDs drawn from rng.
        self._id_rng = random.Random(f"sandbox-ids:{seed}")
        self._contact_uuid_prefix = _uuid_prefix(self._id_rng)
        self._channel_uuid_prefix = _uuid_prefix(self._id_rng)
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
        self.users: dict[int, TeamUser] = {}
        self.contacts = ContactStore(
            FIRST_IDS["contact"], self._contact_uuid_prefix, self._channel_uuid_prefix
        )
        self.contacts_by_phone = PhoneIndex(self.contacts)
        self.contacts_by_email: dict[str, Contact] = {}
        self.contact_timeline = Timeline(FIRST_IDS["contact"])
        self.custom_fields: dict[int, str] = {}
        self.tags: dict[int, TagRecord] = {}
        self.tag_members: dict[int, set[int]] = {}  # tag id -> contact ids
        self.tag_timeline = Timeline(FIRST_IDS["tag"])
        self.templates: dict[int, TemplateRecord] = {}
        self.template_by_local_id: dict[str, int] = {}
        self.template_timeline = Timeline(FIRST_IDS["template"])
        self.surveys: dict[int, dict[str, Any]] = {}
        self.conversations = ConversationStore(self)
        self._conversation_index: dict[tuple[int, str], Conversation] = {}
        self._conversations_by_target: dict[str, list[Conversation]] = {}
        self.conversation_timeline = Timeline(FIRST_IDS["conversation"])
        self.messages = MessageLog(self._broadcast_message)
        self.message_created = array("q")  # parallel to messages, for bisect
        self.broadcasts: list[BroadcastRecord] = []
        self.lists: dict[int, ListRecord] = {}
        self.schedules: dict[int, dict[str, Any]] = {}
        self.schedule_requests: dict[int, dict[str, Any]] = {}  # the merged request bodies
        self.ledger = Ledger()
        self.opted_out: set[str] = set()
        self.admin_opted_out: set[str] = set()
        self.blocked: set[str] = set()
        # local_id memory per endpoint family (§4): local_id -> the original answer.
        self.sent_by_local_id: dict[str, dict[str, Any]] = {}
        self.email_by_local_id: dict[str, dict[str, Any]] = {}
        self.list_by_local_id: dict[str, int] = {}
        self.schedule_by_local_id: dict[str, int] = {}
        self._next_id = dict(FIRST_IDS)
        self._last_message_us = 0
        self._seed(start_us)

    def _seed(self, start_us: int) -> None:
        for member_id, first, last, phone, email in _SEED_USERS:
            role = next(m["role"] for m in self.team["members"] if m["id"] == member_id)
            self.users[member_id] = TeamUser(
                id=member_id,
                first=first,
                last=last,
                phone=phone,
                email=email,
                role_id=ROLE_IDS[role],
                created_us=start_us,
                updated_us=start_us,
            )
        field_ids = [self.add_custom_field(title) for title in _SEED_FIELDS]
        tag_ids = [
            self.add_tag(tag, color, self._seed_uuid(), start_us).id for tag, color in _SEED_TAGS
        ]
        for index, (first, last) in enumerate(_SEED_CONTACTS):
            contact = self.contact_for_phone(f"1510555{index + 100:04d}", start_us)
            contact.first, contact.last = first, last
        ada, grace = self.contacts_by_phone["15105550100"], self.contacts_by_phone["15105550102"]
        self.set_channel(ada, "email", "ada@sandbox.example", start_us)
        ada.custom = {str(field_ids[0]): "Analytical Engines Ltd", str(field_ids[2]): "gold"}
        self.set_contact_tags(ada, [tag_ids[0]])
        self.set_contact_tags(grace, [tag_ids[0], tag_ids[1]])
        for name, text, archived in _SEED_TEMPLATES:
            self.add_template(
                name=name,
                content={"text": text, "gallery": []},
                local_id=None,
                uuid=self._seed_uuid(),
                archived=archived,
                now_us=start_us,
            )
        for offset, (name, kind, question) in enumerate(_SEED_SURVEYS):
            survey_id = self.new_id("survey")
            date = rfc3339(start_us + offset)
            self.surveys[survey_id] = {
                "id": survey_id,
                "name": name,
                "type": kind,
                "question": question,
                "created": date,
                "updated": date,
            }

    # ids and time

    def new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _seed_uuid(self) -> str:
        # Not from rng, so seeding leaves the UUIDs the API hands out unchanged.
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

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
        return self.contacts[self.contact_id_for_phone(phone, now_us)]

    def contact_id_for_phone(self, phone: str, now_us: int) -> int:
        """The id of the contact holding ``phone``; a new bare contact if there is none."""
        found = self.contacts_by_phone.id_of(phone)
        if found is not None:
            return found
        key = phone_key(phone)
        if isinstance(key, str):
            contact = self.new_contact(now_us)
            self.set_channel(contact, "phone", phone, contact.created_us)
            return contact.id
        contact_id = self.new_id("contact")
        stamp = self.contact_timeline.touch(contact_id, now_us)
        self.contacts.add_bare(contact_id, key, stamp, self.new_id("channel"))
        self.contacts_by_phone.link(phone, contact_id)
        return contact_id

    def contact_for_email(self, email: str, now_us: int) -> Contact:
        contact = self.contacts_by_email.get(email.lower())
        if contact is None:
            contact = self.new_contact(now_us)
            self.set_channel(contact, "email", email, contact.created_us)
        return contact

    def contact_by_uuid(self, text: str) -> Contact | None:
        """The contact whose v2 id is ``text`` (case-insensitive), if any."""
        text = text.lower()
        prefix = self._contact_uuid_prefix
        if len(text) != 36 or not text.startswith(prefix) or text[23] != "-":
            return None
        tail = text[24:]
        if not _HEX12.issuperset(tail):
            return None
        return self.contacts.get(int(tail, 16))

    def channel_owner(self, channel_type: str, value: str) -> Contact | None:
        """The contact holding this phone or email (other channel types are not unique)."""
        if channel_type == "phone":
            return self.contacts_by_phone.get(value)
        if channel_type == "email":
            return self.contacts_by_email.get(value.lower())
        return None

    # contacts

    def new_contact(self, now_us: int) -> Contact:
        """A contact with no channels yet, stamped after every other contact."""
        contact_id = self.new_id("contact")
        stamp = self.contact_timeline.touch(contact_id, now_us)
        contact = Contact(
            id=contact_id,
            uuid=f"{self._contact_uuid_prefix}-{contact_id:012x}",
            created_us=stamp,
            updated_us=stamp,
        )
        self.contacts[contact_id] = contact
        return contact

    def touch_contact(self, contact: Contact, now_us: int) -> None:
        """Record a change: a new ``updated`` stamp (the contact pages first) and ``rev``."""
        contact.updated_us = self.contact_timeline.touch(contact.id, now_us)
        contact.rev += 1

    def set_channel(
        self,
        contact: Contact,
        channel_type: str,
        value: str,
        now_us: int,
        *,
        handle: Any = None,
        info: Any = None,
    ) -> ChannelRecord:
        """Add or replace the contact's channel of this type (the caller checked ownership)."""
        record = contact.channels.get(channel_type)
        if record is None:
            serial = self.new_id("channel")
            record = ChannelRecord(
                id=f"{self._channel_uuid_prefix}-{serial:012x}",
                type=channel_type,
                value=value,
                handle=handle,
                info=info,
                created_us=now_us,
                updated_us=now_us,
            )
            contact.channels[channel_type] = record
        else:
            self._unindex(contact, channel_type)
            record.value, record.handle, record.info = value, handle, info
            record.updated_us = now_us
        if channel_type == "phone":
            contact.phone = value
            self.contacts_by_phone.link(value, contact.id)
        elif channel_type == "email":
            contact.email = value
            self.contacts_by_email[value.lower()] = contact
        return record

    def drop_channel(self, contact: Contact, channel_type: str) -> None:
        if channel_type not in contact.channels:
            return
        self._unindex(contact, channel_type)
        del contact.channels[channel_type]
        if channel_type == "phone":
            contact.phone = None
        elif channel_type == "email":
            contact.email = None

    def _unindex(self, contact: Contact, channel_type: str) -> None:
        if channel_type == "phone" and contact.phone is not None:
            self.contacts_by_phone.unlink(contact.phone, contact.id)
        elif channel_type == "email" and contact.email is not None:
            key = contact.email.lower()
            if self.contacts_by_email.get(key) is contact:
                del self.contacts_by_email[key]

    def set_contact_tags(self, contact: Contact, tag_ids: Iterable[int]) -> None:
        for tag_id in contact.tags:
            self.tag_members.get(tag_id, set()).discard(contact.id)
        contact.tags = tuple(dict.fromkeys(tag_ids))
        for tag_id in contact.tags:
            self.tag_members.setdefault(tag_id, set()).add(contact.id)

    def delete_contact(self, contact: Contact) -> None:
        """Forget the contact everywhere: indexes, tags and list memberships. Conversations
        and messages with its numbers stay, as they belong to the inbox."""
        for channel_type in list(contact.channels):
            self.drop_channel(contact, channel_type)
        self.set_contact_tags(contact, ())
        for record in self.lists.values():
            record.members.discard(contact.id)
        self.contact_timeline.remove(contact.id)
        del self.contacts[contact.id]

    def contact_json(self, contact: Contact, *, v2: bool = False) -> dict[str, Any]:
        """The Contact object (§2.4); v2 endpoints name contacts by ``uuid`` in ``id``."""
        tags = self.tags
        return {
            "id": contact.uuid if v2 else contact.id,
            "uuid": contact.uuid,
            "first": contact.first,
            "last": contact.last,
            "display_name": contact.shown_name,
            "phone": contact.phone,
            "email": contact.email,
            "avatar": contact.avatar,
            "custom": dict(contact.custom),
            "team_id": TEAM_ID,
            "creator_id": OWNER_ID,
            "shared": True,
            "created": rfc3339(contact.created_us),
            "updated": rfc3339(contact.updated_us),
            "rev": contact.rev,
            "op": "i" if contact.rev == 1 else "u",
            "assigned_user_id": contact.assigned_user_id,
            # Each tag carries tag_id, the write format, so a read-modify-write keeps it.
            "tags": [
                {"tag_id": t, "tag": tags[t].tag, "color": tags[t].color} for t in contact.tags
            ],
            "is_opted_out": contact.phone is not None and contact.phone in self.opted_out,
        }

    def channel_json(self, contact: Contact, record: ChannelRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "team_id": TEAM_ID,
            "contact_id": contact.uuid,
            "channel_type": record.type,
            "channel_id": record.value,
            "info_channel": record.info,
            "channel_handle": record.handle,
            "created": rfc3339(record.created_us),
            "updated": rfc3339(record.updated_us),
        }

    def add_custom_field(self, title: str) -> int:
        field_id = self.new_id("field")
        self.custom_fields[field_id] = title
        return field_id

    # tags and templates

    def add_tag(self, tag: str, color: str | None, uuid: str, now_us: int) -> TagRecord:
        tag_id = self.new_id("tag")
        stamp = self.tag_timeline.touch(tag_id, now_us)
        record = TagRecord(
            id=tag_id, tag=tag, color=color, uuid=uuid, created_us=stamp, updated_us=stamp
        )
        self.tags[tag_id] = record
        return record

    def delete_tag(self, record: TagRecord, now_us: int) -> None:
        """Remove the tag, and from every contact holding it (each counts as changed)."""
        for contact_id in sorted(self.tag_members.pop(record.id, ())):
            contact = self.contacts[contact_id]
            contact.tags = tuple(t for t in contact.tags if t != record.id)
            self.touch_contact(contact, now_us)
        del self.tags[record.id]
        self.tag_timeline.remove(record.id)

    def add_template(
        self,
        *,
        name: str,
        content: dict[str, Any],
        local_id: str | None,
        uuid: str,
        archived: bool,
        now_us: int,
    ) -> TemplateRecord:
        template_id = self.new_id("template")
        stamp = self.template_timeline.touch(template_id, now_us)
        record = TemplateRecord(
            id=template_id,
            name=name,
            content=content,
            local_id=local_id,
            uuid=uuid,
            archived=archived,
            creator_id=OWNER_ID,
            created_us=stamp,
            updated_us=stamp,
        )
        self.templates[template_id] = record
        if local_id is not None:
            self.template_by_local_id[local_id] = template_id
        return record

    # users

    def update_user(
        self,
        user: TeamUser,
        *,
        first: str | None,
        last: str | None,
        role_id: int | None,
        now_us: int,
    ) -> None:
        """Change a membership, and the matching ``GET /v1/team`` member with it."""
        if first is not None:
            user.first = first
        if last is not None:
            user.last = last
        if role_id is not None:
            user.role_id = role_id
        user.updated_us = now_us
        roles = {number: name for name, number in ROLE_IDS.items()}
        for member in self.team["members"]:
            if member["id"] == user.id:
                member["name"] = user.name
                member["role"] = roles[user.role_id]

    # conversations

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
        found = self.conversation_with(inbox_id, target) if reuse else None
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
        self.touch_conversation(conversation, now_us)
        if reuse:
            self._conversation_index[key] = conversation
            self._conversations_by_target.setdefault(target, []).append(conversation)
        return conversation

    def conversation_with(self, inbox_id: int, target: str) -> Conversation | None:
        found = self._conversation_index.get((inbox_id, target))
        if found is None and self.conversations.bare_count:
            bare = self.conversations.bare_with(inbox_id, target)
            if bare is not None:
                return self.conversations[bare]
        return found

    def _keep_conversation(self, conversation: Conversation) -> Conversation:
        """Make a bare conversation (built by ``peek``) a kept one, with its messages."""
        found = [
            (broadcast.first_stamp + index, broadcast, index)
            for broadcast in self.broadcasts
            if (index := broadcast.position_of(conversation.id)) is not None
        ]
        found.sort(key=lambda item: item[0])
        conversation.messages = [self._broadcast_message(b, i) for _, b, i in found]
        for (_, broadcast, index), message in zip(found, conversation.messages, strict=True):
            broadcast.kept[index] = message
        conversation.created = [stamp for stamp, _, _ in found]
        self.conversations[conversation.id] = conversation
        self._conversation_index[(conversation.inbox_id, conversation.target)] = conversation
        self._conversations_by_target.setdefault(conversation.target, []).append(conversation)
        return conversation

    def conversations_with_target(self, target: str) -> list[Conversation]:
        return list(self._conversations_by_target.get(target, ()))

    def touch_conversation(self, conversation: Conversation, now_us: int) -> None:
        """A new ``updated`` stamp: the conversation pages first again (§2.3)."""
        conversation.updated_us = self.conversation_timeline.touch(conversation.id, now_us)

    def move_conversation(self, conversation: Conversation, inbox_id: int, now_us: int) -> None:
        """Transfer to another inbox (the caller checked the destination is free)."""
        old_key = (conversation.inbox_id, conversation.target)
        if self._conversation_index.get(old_key) is conversation:
            del self._conversation_index[old_key]
            self._conversation_index[(inbox_id, conversation.target)] = conversation
        conversation.inbox_id = inbox_id
        self.touch_conversation(conversation, now_us)

    def conversation_json(self, conversation: Conversation) -> dict[str, Any]:
        """The full Conversation object (§2.3) of ``GET /v1/conversations/{id}``."""
        inbox = self.inboxes.get(conversation.inbox_id)
        names = {member["id"]: member["name"] for member in self.team["members"]}
        member_ids = inbox["members"] if inbox is not None else []
        return {
            **conversation.summary(),
            "updated": rfc3339(conversation.updated_us),
            "assigned": conversation.assigned,
            "blocked": conversation.target in self.blocked,
            "email_noti": False,
            "last_inbound": None,  # the sandbox never receives messages
            "local_id": None,
            "members": [{"id": m, "name": names.get(m)} for m in member_ids],
            "muted": False,
            "noreply": None,
            "op": "u",
            "read": 0 if conversation.unread else 1,
            "replied": False,
            "snooze_till": None,
            "super": None,
            "support": False,
        }

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
        self.touch_conversation(conversation, stamp)
        return record

    def broadcast(
        self,
        *,
        record: ListRecord,
        broadcast_id: int,
        inbox_id: int,
        now_us: int,
        at: float,
        kind: LedgerKind,
        user: int,
        text: str | None,
        merge: Callable[[str | None, Contact | None], str | None],
        message_type: str,
        local_id: str | None,
        media: str | None,
        author: str | None,
        private: bool,
        request_id: str | None,
    ) -> BroadcastRecord:
        """Send one one-to-one message to every list member with a phone that has not opted
        out, all under ``broadcast_id``, and commit each to the ledger.

        Stored as one :class:`BroadcastRecord`: recipient ``i`` gets the next message id and
        creation stamp in turn, and a new thread stays a bare conversation row.
        """
        plain_text = merge(text, None)
        first_stamp = self.message_stamp(now_us)
        broadcast = BroadcastRecord(
            id=broadcast_id,
            inbox_id=inbox_id,
            list_id=record.id,
            local_id=local_id,
            request_id=request_id,
            at=at,
            kind=kind,
            user=user,
            text=plain_text,
            media=media,
            author=author,
            private=private,
            message_type=message_type,
            first_message_id=self._next_id["message"],
            first_stamp=first_stamp,
            first_seq=len(self.ledger),
            first_position=len(self.messages),
        )
        contacts, opted_out, conversations = self.contacts, self.opted_out, self.conversations
        timeline = self.conversation_timeline
        merging = text is not None and "{{" in text
        stamp = first_stamp
        for contact_id in record.members:
            phone = contacts.phone_of(contact_id)
            # Opted-out members are skipped, as the app's broadcast does; email-only ones too.
            if phone is None or phone in opted_out:
                continue
            message_text = plain_text
            if merging and not contacts.is_bare(contact_id):
                message_text = merge(text, contacts.peek(contact_id))
            full = self._conversation_index.get((inbox_id, phone))
            if full is not None:
                conversation_id = full.id
            else:
                bare = conversations.bare_with(inbox_id, phone)
                key = phone_key(phone)
                if bare is not None:
                    conversation_id = bare
                elif isinstance(key, int):
                    conversation_id = self.new_id("conversation")
                    conversations.add_bare(conversation_id, inbox_id, key, now_us)
                    # A thread object is stamped when made and again by its first message.
                    timeline.skip(now_us)
                else:
                    full = self.conversation_for(
                        inbox_id=inbox_id,
                        target=phone,
                        recipients=(phone,),
                        channel="sms",
                        kind="individual",
                        now_us=now_us,
                    )
                    conversation_id = full.id
            index = len(broadcast)
            broadcast.add(phone, conversation_id, message_text)
            if full is not None:
                message = self._broadcast_message(broadcast, index)
                broadcast.kept[index] = message
                full.messages.append(message)
                full.created.append(stamp)
                full.updated_us = timeline.touch(conversation_id, stamp)
            else:
                timeline.touch(conversation_id, stamp)
            stamp += 1
        count = len(broadcast)
        self._next_id["message"] += count
        self._last_message_us = max(self._last_message_us, first_stamp + count - 1)
        self.message_created.extend(range(first_stamp, first_stamp + count))
        self.messages.append_broadcast(broadcast)
        self.ledger.record_broadcast(broadcast)
        self.broadcasts.append(broadcast)
        return broadcast

    def _broadcast_message(self, broadcast: BroadcastRecord, index: int) -> MessageRecord:
        """Recipient ``index`` of ``broadcast`` as the stored message it stands for."""
        kept = broadcast.kept.get(index)
        if kept is not None:
            return kept  # type: ignore[no-any-return]
        stamp = broadcast.first_stamp + index
        date = rfc3339(stamp)
        phone = broadcast.phone(index)
        conversation_id = broadcast.conversations[index]
        body: dict[str, Any] = {
            "id": broadcast.first_message_id + index,
            "date": date,
            "updated": date,
            "local_id": broadcast.local_id,
            "phone": phone,
            "target": phone,
            "text": broadcast.texts.get(index, broadcast.text),
            "media": broadcast.media,
            "status": "sent",
            "type": broadcast.message_type,
            "user": broadcast.user,
            "author": broadcast.author,
            "broadcast_id": broadcast.id,
            "private": broadcast.private,
            "flagged": False,
            "support": False,
            "link_url": None,
            "conversation": self.conversations.summary(conversation_id),
        }
        return MessageRecord(
            id=body["id"], created_us=stamp, conversation_id=conversation_id, json=body
        )

    def thread_messages(
        self, phone: str, inbox_id: int | None, *, before: int | None, limit: int
    ) -> list[MessageRecord]:
        """The ``limit`` newest messages created before ``before`` in the individual or
        group threads keyed by ``phone``, in one inbox or every inbox, newest first."""
        if inbox_id is not None:
            found = self._conversation_index.get((inbox_id, phone))
            full = [found] if found is not None else []
            inboxes = [inbox_id]
        else:  # some clients omit inboxID (§2.1): search every inbox
            full = self.conversations_with_target(phone)
            inboxes = self.conversations.bare_inboxes()
        picked: list[MessageRecord] = []
        for conversation in full:
            end = (
                len(conversation.messages)
                if before is None
                else bisect_left(conversation.created, before)
            )
            picked.extend(conversation.messages[max(0, end - limit) : end])
        lazy: list[tuple[int, BroadcastRecord, int]] = []
        for inbox in inboxes if self.conversations.bare_count else ():
            bare = self.conversations.bare_with(inbox, phone)
            if bare is None:
                continue
            for broadcast in self.broadcasts:
                index = broadcast.position_of(bare)
                if index is not None and (before is None or broadcast.first_stamp + index < before):
                    lazy.append((broadcast.first_stamp + index, broadcast, index))
        lazy.sort(key=lambda item: item[0], reverse=True)
        picked.extend(self._broadcast_message(b, i) for _, b, i in lazy[:limit])
        picked.sort(key=lambda m: m.created_us, reverse=True)
        return picked[:limit]
