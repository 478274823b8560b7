"""Compact columns for the sandbox's bulk data, so a million-recipient rehearsal stays small.

A phone put on a list becomes a contact, and a list broadcast stores one message, one
conversation and one ledger entry per recipient. Kept as Python objects that is kilobytes
per recipient; here the untouched majority lives in typed arrays and shared records, and
full objects are built only when something reads (views) or changes (promotion) one of them.

Phones are E.164 digits, so they are kept as integers (:func:`phone_key`); anything else
keeps its text and the full-object path.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any

__all__ = ["BroadcastRecord", "MemberIds", "phone_key", "phone_text"]


def phone_key(phone: str) -> int | str:
    """An E.164 number as an int (it round-trips exactly); other text unchanged."""
    if phone.isdigit() and phone.isascii() and len(phone) <= 18 and phone[0] != "0":
        return int(phone)
    return phone


def phone_text(key: int | str) -> str:
    return key if isinstance(key, str) else str(key)


class MemberIds:
    """A list's contact ids in insertion order (like the keys of a dict), one bit each for
    membership: 8 bytes and a bit per member instead of a dict entry."""

    __slots__ = ("_base", "_bits", "_order")

    def __init__(self, ids: Iterable[int] = (), *, base: int = 0) -> None:
        self._base = base
        self._order = array("q")
        self._bits = bytearray()
        self.update(ids)

    def __repr__(self) -> str:
        return f"<MemberIds {len(self._order)}>"

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order)

    def __contains__(self, contact_id: object) -> bool:
        if not isinstance(contact_id, int):
            return False
        offset = contact_id - self._base
        if offset < 0 or (offset >> 3) >= len(self._bits):
            return False
        return bool(self._bits[offset >> 3] & (1 << (offset & 7)))

    def add(self, contact_id: int) -> None:
        offset = contact_id - self._base
        if offset < 0:  # below the id range: shift the bitmap down (never in practice)
            self._rebase(contact_id)
            offset = 0
        byte = offset >> 3
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 1 + len(bits) // 8))
        mask = 1 << (offset & 7)
        if not bits[byte] & mask:
            bits[byte] |= mask
            self._order.append(contact_id)

    def update(self, ids: Iterable[int]) -> None:
        for contact_id in ids:
            self.add(contact_id)

    def discard_many(self, ids: Iterable[int]) -> None:
        gone = {i for i in ids if i in self}
        if not gone:
            return
        for contact_id in gone:
            offset = contact_id - self._base
            self._bits[offset >> 3] &= ~(1 << (offset & 7)) & 0xFF
        if len(gone) == 1:
            self._order.remove(next(iter(gone)))
        else:
            self._order = array("q", [i for i in self._order if i not in gone])

    def discard(self, contact_id: int) -> None:
        self.discard_many((contact_id,))

    def copy(self) -> MemberIds:
        twin = MemberIds(base=self._base)
        twin._order = array("q", self._order)
        twin._bits = bytearray(self._bits)
        return twin

    def _rebase(self, base: int) -> None:
        order = self._order
        self._base, self._order, self._bits = base, array("q"), bytearray()
        self.update(order)


class BroadcastRecord:
    """One list broadcast: what its messages share, plus a column per recipient.

    Recipient ``i`` got message ``first_message_id + i``, created at ``first_stamp + i``
    (the handler commits the whole broadcast at once, so both run without gaps), in
    conversation ``conversations[i]``, and is ledger entry ``first_seq + i``.
    """

    __slots__ = (
        "_order",
        "at",
        "author",
        "conversations",
        "first_message_id",
        "first_position",
        "first_seq",
        "first_stamp",
        "id",
        "inbox_id",
        "kept",
        "kind",
        "list_id",
        "local_id",
        "media",
        "message_type",
        "odd_phones",
        "phones",
        "private",
        "request_id",
        "text",
        "texts",
        "user",
    )

    def __init__(
        self,
        *,
        id: int,  # noqa: A002 - the broadcast id, named as in the ledger
        inbox_id: int,
        list_id: int,
        local_id: str | None,
        request_id: str | None,
        at: float,
        kind: Any,
        user: int,
        text: str | None,
        media: str | None,
        author: str | None,
        private: bool,
        message_type: str,
        first_message_id: int,
        first_stamp: int,
        first_seq: int,
        first_position: int,
    ) -> None:
        self.id = id
        self.inbox_id = inbox_id
        self.list_id = list_id
        self.local_id = local_id
        self.request_id = request_id
        self.at = at
        self.kind = kind  # a LedgerKind
        self.user = user
        self.text = text  # merged for a contact with no names
        self.media = media
        self.author = author
        self.private = private
        self.message_type = message_type
        self.first_message_id = first_message_id
        self.first_stamp = first_stamp
        self.first_seq = first_seq
        self.first_position = first_position
        self.phones = array("q")  # phone_key ints; 0 = see odd_phones
        self.conversations = array("q")
        self.odd_phones: dict[int, str] = {}
        self.texts: dict[int, str | None] = {}  # only where the merged text differs
        # Messages built for threads kept as objects, so both places share one record.
        self.kept: dict[int, Any] = {}
        self._order: array[int] | None = None

    def __len__(self) -> int:
        return len(self.phones)

    def add(self, phone: str, conversation_id: int, text: str | None) -> None:
        key = phone_key(phone)
        if isinstance(key, str):
            self.odd_phones[len(self.phones)] = key
            key = 0
        if text != self.text:
            self.texts[len(self.phones)] = text
        self.phones.append(key)
        self.conversations.append(conversation_id)

    def phone(self, index: int) -> str:
        key = self.phones[index]
        return str(key) if key else self.odd_phones[index]

    def position_of(self, conversation_id: int) -> int | None:
        """The recipient index whose message went to this conversation, if any."""
        conversations = self.conversations
        if self._order is None:
            ordered = all(a < b for a, b in pairwise(conversations))
            self._order = (
                array("q")
                if ordered
                else array("q", sorted(range(len(conversations)), key=conversations.__getitem__))
            )
        if not self._order:  # conversation ids ascend with the recipients
            index = bisect_left(conversations, conversation_id)
        else:
            at = bisect_left(self._order, conversation_id, key=conversations.__getitem__)
            index = self._order[at] if at < len(self._order) else len(conversations)
        if index < len(conversations) and conversations[index] == conversation_id:
            return index
        return None
