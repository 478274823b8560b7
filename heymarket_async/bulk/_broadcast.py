"""``broadcast()``: identical content to many phones through list broadcasts.

Phones are split into lists of at most ``team.list_size``; each list is created and sent to
with deterministic ``local_id``s derived from the job key and the list's members, so a
million recipients cost a few hundred requests and a rerun sends nothing twice.

An ambiguous failure of a list broadcast is settled by reading the conversations of a few of
the list's members (a list broadcast writes one message per member), so it costs a bounded
number of requests however much the team has sent; what that cannot settle is sent again
with the same ``local_id``, which the API de-duplicates for list broadcasts (unless
``resend_broadcasts=False``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._ratelimit import in_bulk_lane
from .._reconcile import PROBE_MEMBERS
from .._validation import check_phone, check_positive_int, normalize_phone
from ..errors import (
    BulkSendError,
    HeymarketError,
    RequestValidationError,
    UnexpectedResponseError,
)
from ..resources._base import unwrap
from ..resources.messages import SendMessage
from ..resources.team import build_get_team
from ._journal import ChunkRecord, JournalStore, opened
from ._sender import (
    Delivery,
    OnUnknown,
    Outcome,
    OutcomeStatus,
    _aiter,
    _check_key,
    check_items,
    check_journal,
    opt_out_reason,
)

if TYPE_CHECKING:
    from .._client import HeymarketClient

# Phones looked up in the journal per query: bounds memory and keeps queries short.
_LOOKUP_BATCH: Final = 500
# Contact status requests in flight at once with skip_opted_out.
_STATUS_CONCURRENCY: Final = 8
UNKNOWN_LIST_REASON: Final = (
    "not sent: the list was created (HTTP 2xx) but its id could not be read from the "
    "answer, so nothing was sent to it"
)


@attrs.frozen(kw_only=True)
class InvalidRecipient:
    """An input phone that could not be used; ``index`` is its 0-based input position."""

    index: int
    value: str
    reason: str


@attrs.frozen(kw_only=True)
class ExcludedRecipient:
    """A phone ``skip_opted_out`` kept off the lists; ``index`` is its 0-based input position.

    ``reason`` is ``"opted out"`` or ``"blocked"`` (counted as skipped), or says the status
    could not be read (counted as failed, with the ``error``).
    """

    index: int
    phone: str
    reason: str
    error: HeymarketError | None = None


@attrs.frozen(kw_only=True)
class BroadcastProgress:
    """Where a running :func:`broadcast` stands, counted in recipients.

    Attributes:
        recipients: input items read so far.
        sent, skipped, failed, unknown: recipients decided so far, as in the report.
        lists_created: lists created so far in this run.
        note: what is happening now, when worth saying (e.g. a history lookup under way).
    """

    recipients: int
    sent: int
    skipped: int
    failed: int
    unknown: int
    lists_created: int
    note: str | None = None

    @property
    def done(self) -> int:
        """Recipients decided so far."""
        return self.sent + self.skipped + self.failed + self.unknown


@attrs.frozen(kw_only=True)
class BroadcastReport:
    """What a :func:`broadcast` did, counted in recipients.

    ``sent + skipped + failed + unknown == recipients``, where ``recipients`` counts every
    input item (invalid ones included, as ``failed``).

    Attributes:
        recipients: input items read.
        sent: recipients covered by a list broadcast sent in this run.
        skipped: recipients sent in an earlier run of the job, repeated in the input, or
            (with ``skip_opted_out``) opted out or blocked.
        failed: invalid phones, recipients of chunks that certainly were not sent, and
            (with ``skip_opted_out``) phones whose status could not be read.
        unknown: recipients of chunks whose send could not be confirmed either way.
        lists_created: lists created in this run.
        chunks: one outcome per list broadcast attempted in this run (its ``recipients``
            says how many phones it covered), including those an earlier run left undecided
            and this run settled first (their phones count as ``skipped``).
        invalid: the invalid inputs, with their positions.
        excluded: the phones ``skip_opted_out`` kept off the lists, with the reason.
    """

    recipients: int
    sent: int
    skipped: int
    failed: int
    unknown: int
    lists_created: int
    elapsed: float
    chunks: tuple[Outcome, ...] = ()
    invalid: tuple[InvalidRecipient, ...] = ()
    excluded: tuple[ExcludedRecipient, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every recipient was sent to (now or earlier) or was a repeat."""
        return self.failed == 0 and self.unknown == 0


def _probe_sample(phones: Sequence[str]) -> list[str]:
    """A few members spread over the list, whose conversations a lookup may read."""
    if len(phones) <= PROBE_MEMBERS:
        return list(phones)
    step = (len(phones) - 1) / (PROBE_MEMBERS - 1)
    return [phones[round(i * step)] for i in range(PROBE_MEMBERS)]


def _chunk_ids(key: str, phones: list[str]) -> ChunkRecord:
    digest = hashlib.sha256("\n".join(phones).encode()).hexdigest()[:24]
    return ChunkRecord(
        send_local_id=f"{key}-b-{digest}",
        list_local_id=f"{key}-l-{digest}",
        list_id=None,
        size=len(phones),
    )


@attrs.define
class _Run:
    client: HeymarketClient
    journal: JournalStore
    delivery: Delivery
    key: str
    run_id: str
    list_size: int
    list_title: str
    content: dict[str, object]
    inbox_id: int
    creator_id: int
    on_chunk: Callable[[Outcome], None] | None
    on_progress: Callable[[BroadcastProgress], None] | None = None
    skip_opted_out: bool = False
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    lists_created: int = 0
    chunks: list[Outcome] = attrs.Factory(list)
    invalid: list[InvalidRecipient] = attrs.Factory(list)
    excluded: list[ExcludedRecipient] = attrs.Factory(list)
    buffer: list[str] = attrs.Factory(list)
    pending: list[tuple[int, str]] = attrs.Factory(list)  # (input position, phone)

    def progress(self, note: str | None = None) -> None:
        """Tell the caller's ``on_progress`` where the job stands."""
        if self.on_progress is not None:
            self.on_progress(
                BroadcastProgress(
                    recipients=self.recipients,
                    sent=self.sent,
                    skipped=self.skipped,
                    failed=self.failed,
                    unknown=self.unknown,
                    lists_created=self.lists_created,
                    note=note,
                )
            )

    async def settle_earlier_chunks(self) -> None:
        """Decide every chunk an earlier run left unsent, before anything new is sent.

        A chunk whose broadcast was in flight is finished now: looked up, and sent (with its
        ``local_id``) if the lookup says so. Its phones then count as skipped when the input
        reaches them; the chunk's outcome is in ``chunks``.
        """
        for chunk in await self.journal.chunks(self.key):
            entry = await self.journal.get(chunk.send_local_id)
            if entry is not None and entry.state == "sent":
                continue
            if entry is not None and entry.state == "inflight" and chunk.list_id is not None:
                members = await self.journal.chunk_phones(chunk.send_local_id, limit=PROBE_MEMBERS)
                self.progress(
                    f"settling list broadcast {chunk.send_local_id} ({chunk.size} recipients) "
                    "left in flight by an earlier run"
                )
                outcome = await self.delivery.deliver(
                    len(self.chunks),
                    self._send_for(chunk, chunk.list_id),
                    members=members,
                    recipients=chunk.size,
                )
                if outcome.status is OutcomeStatus.UNKNOWN:
                    raise BulkSendError(
                        f"an earlier run left list broadcast {chunk.send_local_id} undecided "
                        f"and history could not settle it ({outcome.error}); nothing new was "
                        "sent, run again"
                    ) from outcome.error
                if outcome.status is not OutcomeStatus.FAILED:
                    self._record(outcome)
                    continue
            # Never sent (no list, never claimed, failed, or absent from history).
            await self.journal.release_chunk(chunk.send_local_id)

    def _send_for(self, chunk: ChunkRecord, list_id: int) -> SendMessage:
        return SendMessage(
            inbox_id=self.inbox_id,
            creator_id=self.creator_id,
            list_id=list_id,
            local_id=chunk.send_local_id,
            **self.content,  # type: ignore[arg-type]
        )

    async def add(self, index: int, phone: str) -> None:
        self.pending.append((index, phone))
        if len(self.pending) >= _LOOKUP_BATCH:
            await self.sort_pending()

    async def sort_pending(self) -> None:
        """Drop phones already handled (earlier run, or a repeat) and queue the rest."""
        batch, self.pending = self.pending, []
        phones = [phone for _, phone in batch]
        known = await self.journal.recipient_states(self.key, phones, run_id=self.run_id)
        unseen: list[tuple[int, str]] = []
        seen: set[str] = set()
        for index, phone in batch:
            if phone in known or phone in seen:
                self.skipped += 1
            else:
                seen.add(phone)
                unseen.append((index, phone))
        if self.skip_opted_out:
            unseen = await self.drop_unsendable(unseen)
        fresh = [phone for _, phone in unseen]
        if fresh:
            await self.journal.claim_recipients(self.key, fresh, run_id=self.run_id)
        self.buffer.extend(fresh)
        self.progress()
        while len(self.buffer) >= self.list_size:
            chunk, self.buffer = self.buffer[: self.list_size], self.buffer[self.list_size :]
            await self.flush(chunk)

    async def drop_unsendable(self, batch: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Read each phone's status (a bounded number at a time) and keep, in input order,
        those that may be messaged; the others are counted and listed in ``excluded``."""
        reasons: list[str | HeymarketError | None] = [None] * len(batch)
        slots = asyncio.Semaphore(_STATUS_CONCURRENCY)

        async def check(position: int, phone: str) -> None:
            async with slots:
                try:
                    reasons[position] = await opt_out_reason(self.client, phone)
                except HeymarketError as exc:
                    reasons[position] = exc

        async with asyncio.TaskGroup() as group:
            for position, (_, phone) in enumerate(batch):
                group.create_task(check(position, phone))
        kept: list[tuple[int, str]] = []
        for (index, phone), reason in zip(batch, reasons, strict=True):
            if reason is None:
                kept.append((index, phone))
            elif isinstance(reason, HeymarketError):
                self.failed += 1
                self.excluded.append(
                    ExcludedRecipient(
                        index=index,
                        phone=phone,
                        reason="not sent: the opt-out status could not be read",
                        error=reason,
                    )
                )
            else:
                self.skipped += 1
                self.excluded.append(ExcludedRecipient(index=index, phone=phone, reason=reason))
        return kept

    async def flush(self, phones: list[str]) -> None:
        """Create one list for ``phones`` and send the broadcast to it."""
        record = _chunk_ids(self.key, phones)
        await self.journal.record_chunk(self.key, record, phones, run_id=self.run_id)
        try:
            created = await self.client.lists.create(
                title=f"{self.list_title} ({record.list_local_id[-8:]})",
                local_id=record.list_local_id,
                phones=phones,
            )
        except HeymarketError as exc:
            # No broadcast went out: the phones are certainly not sent.
            await self.journal.release_chunk(record.send_local_id)
            self.failed += len(phones)
            self._record(
                Outcome(
                    index=len(self.chunks),
                    request=None,
                    status=OutcomeStatus.FAILED,
                    error=exc,
                    reason=UNKNOWN_LIST_REASON
                    if isinstance(exc, UnexpectedResponseError)
                    else None,
                    recipients=len(phones),
                )
            )
            return
        self.lists_created += 1
        await self.journal.set_chunk_list(record.send_local_id, created.id)
        outcome = await self.delivery.deliver(
            len(self.chunks),
            self._send_for(record, created.id),
            members=_probe_sample(phones),
            recipients=len(phones),
        )
        if outcome.status is OutcomeStatus.SENT:
            self.sent += len(phones)
        elif outcome.status is OutcomeStatus.SKIPPED:
            self.skipped += len(phones)
        elif outcome.status is OutcomeStatus.FAILED:
            await self.journal.release_chunk(record.send_local_id)
            self.failed += len(phones)
        else:
            self.unknown += len(phones)
        self._record(outcome)

    def _record(self, outcome: Outcome) -> None:
        self.chunks.append(outcome)
        if self.on_chunk is not None:
            self.on_chunk(outcome)
        self.progress()


async def _team_list_size(client: HeymarketClient) -> int:
    """``team.list_size`` as the API sent it, refused unless a positive whole number."""
    response = await client.request(build_get_team())
    team: Any = unwrap(response.data, "team")
    value = team.get("list_size") if isinstance(team, dict) else None
    # Read raw: the Team model accepts a quoted "100"; lists are sized by a JSON integer only.
    if type(value) is not int or value <= 0:
        # Never echo what the answer holds at length (it could be megabytes, or a secret).
        shown = repr(value) if isinstance(value, int | float | None) else type(value).__name__
        raise BulkSendError(
            f"the team's list_size is {shown:.40}, not a positive whole number, so lists "
            "cannot be sized; pass list_size="
        )
    return value


@in_bulk_lane
async def broadcast(
    client: HeymarketClient,
    *,
    inbox_id: int,
    creator_id: int,
    phones: Iterable[str] | AsyncIterable[str],
    key: str,
    text: str | None = None,
    template_id: int | None = None,
    media_url: str | None = None,
    list_size: int | None = None,
    list_title: str | None = None,
    journal: JournalStore | str | os.PathLike[str] | None = None,
    normalize: bool = False,
    on_unknown: OnUnknown = "reconcile",
    on_chunk: Callable[[Outcome], None] | None = None,
    skip_opted_out: bool = False,
    resend_broadcasts: bool = True,
    on_progress: Callable[[BroadcastProgress], None] | None = None,
) -> BroadcastReport:
    """Send identical content to many phones through list broadcasts.

    Reads ``team.list_size`` (unless ``list_size`` is given), splits the valid, de-duplicated
    phones into lists of at most that size, creates each list and sends to it, with
    ``local_id``s derived from ``key`` and the list's members. Running it again with the same
    key and journal sends nothing twice; without a journal a rerun relies on the API's
    documented ``local_id`` deduplication of lists and broadcasts.

    Args:
        phones: E.164 digits without ``+``; with ``normalize=True`` common formats such as
            ``+1 (510) 555-3344`` are accepted. Invalid items are reported, never sent.
        key: names the job (1-64 of ``A-Z a-z 0-9 . _ : -``); reuse it to resume.
        journal: a SQLite path (or a :class:`Journal`, or a
            ``heymarket_async.redis.RedisJournal``) making the job resumable after a crash.
        on_chunk: called with each list broadcast's outcome (``outcome.recipients`` says
            how many phones it covered).
        on_progress: called with a :class:`BroadcastProgress` whenever recipients are
            decided, and with a ``note`` while history is read to settle a list broadcast.
        resend_broadcasts: after an ambiguous failure (timeout, reset, 5xx) of a list
            broadcast, the SDK reads the conversations of up to 3 of the list's members
            (at most 6 requests). When that does not show the broadcast, it is sent again
            with the same ``local_id``, relying on the API's documented de-duplication of
            list broadcasts. ``False`` instead walks team history back to the first attempt
            (a cost that grows with what the team sent since) and reports ``unknown`` when
            that cannot decide.
        skip_opted_out: before chunking, read each new phone's status
            (``POST /v1/contact/status``, 8 at a time, in batches of 500) so lists hold only
            phones that may be messaged; opted-out and blocked phones are counted as skipped
            and listed in ``report.excluded`` with the reason, an unknown contact (404) is
            kept, and a status that cannot be read counts as failed (kept off the lists).
            It costs one request per distinct new phone under the client's rate limit (the
            API's 500 a minute), where the broadcast itself costs two per list. Excluded
            phones are checked again on a rerun. Use a journal: without one a rerun is safe
            only if it rebuilds identical lists, and a status change in between reshapes them.

    Raises:
        RequestValidationError: the content, ids or key are invalid (nothing was sent).
        BulkSendError: the journal is unusable, an earlier run's broadcast is undecided, or
            the team's ``list_size`` is not a positive whole number (nothing was sent).
    """
    key = _check_key(key)
    check_items("phones", phones)
    check_journal(journal)
    content: dict[str, object] = {
        name: value
        for name, value in (("text", text), ("template_id", template_id), ("media_url", media_url))
        if value is not None
    }
    # Validates ids and content up front, before anything goes on the wire.
    SendMessage(inbox_id=inbox_id, creator_id=creator_id, list_id=1, local_id=key, **content)  # type: ignore[arg-type]
    if list_size is not None:
        check_positive_int("list_size", list_size)
    flags = {"skip_opted_out": skip_opted_out, "resend_broadcasts": resend_broadcasts}
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise RequestValidationError(name, "must be True or False")
    started = time.perf_counter()
    if list_size is None:
        list_size = await _team_list_size(client)
    run_id = uuid.uuid4().hex
    run: _Run | None = None

    def note(text: str) -> None:
        if run is not None:
            run.progress(text)

    async with opened(journal) as book, book.lease(key, run_id=run_id):
        run = _Run(
            client=client,
            journal=book,
            delivery=Delivery(
                client,
                book,
                run_id=run_id,
                on_unknown=on_unknown,
                resend_broadcasts=resend_broadcasts,
                on_note=note,
            ),
            key=key,
            run_id=run_id,
            list_size=list_size,
            list_title=list_title or f"Broadcast {key}",
            content=content,
            inbox_id=inbox_id,
            creator_id=creator_id,
            on_chunk=on_chunk,
            on_progress=on_progress,
            skip_opted_out=skip_opted_out,
        )
        await run.settle_earlier_chunks()
        index = 0
        async for raw in _aiter(phones):  # type: ignore[arg-type]
            run.recipients += 1
            try:
                if not isinstance(raw, str):
                    raise RequestValidationError("phones", f"not a string: {raw!r}")
                phone = normalize_phone(raw) if normalize else raw
                check_phone("phones", phone)
            except RequestValidationError as exc:
                run.invalid.append(InvalidRecipient(index=index, value=str(raw), reason=exc.reason))
                run.failed += 1
            else:
                await run.add(index, phone)
            index += 1
        await run.sort_pending()
        if run.buffer:
            await run.flush(run.buffer)
            run.buffer = []
    return BroadcastReport(
        recipients=run.recipients,
        sent=run.sent,
        skipped=run.skipped,
        failed=run.failed,
        unknown=run.unknown,
        lists_created=run.lists_created,
        elapsed=time.perf_counter() - started,
        chunks=tuple(run.chunks),
        invalid=tuple(run.invalid),
        excluded=tuple(run.excluded),
    )
