"""Bulk sending with exactly one outcome per request and no duplicate sends.

::

    from heymarket_async.bulk import BatchSender, broadcast

    sender = BatchSender(hm, concurrency=8, journal="april.sqlite3", key="april-2026")
    report = await sender.send_all(requests)  # iterable or async iterable of SendMessage

    report = await broadcast(hm, inbox_id=42, creator_id=7, phones=phones,
                             text="Hi {{first_name}}", key="april-2026")
"""

from __future__ import annotations

from ._broadcast import (
    BroadcastProgress,
    BroadcastReport,
    ExcludedRecipient,
    InvalidRecipient,
    broadcast,
)
from ._journal import Journal, JournalEntry, JournalStore
from ._sender import BatchReport, BatchSender, Outcome, OutcomeStatus, derive_local_id

__all__ = [
    "BatchReport",
    "BatchSender",
    "BroadcastProgress",
    "BroadcastReport",
    "ExcludedRecipient",
    "InvalidRecipient",
    "Journal",
    "JournalEntry",
    "JournalStore",
    "Outcome",
    "OutcomeStatus",
    "broadcast",
    "derive_local_id",
]
