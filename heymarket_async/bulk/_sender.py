"""``BatchSender``: many sends, bounded concurrency, exactly one outcome each, no duplicates.

Every failure is classified (design.md "Bulk", heymarket-api.md §4):
- certainly not sent (connect error, 429, other 4xx): resend (429, connect) or fail (4xx);
- sent (2xx): record the message id, or ``None`` when the answer cannot be read (a 2xx
  means the server accepted it: never resent);
- unknown (read timeout, reset, disconnect, 5xx, cancellation mid-request): look the
  ``local_id`` up in history first, and resend with the same ``local_id`` only if absent.
  A list broadcast the lookup cannot settle is resent with the same ``local_id`` (the API
  documents de-duplication of list broadcasts by it), unless ``resend_broadcasts=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Sequence,
)
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import attrs

from .._protocol import ApiResponse
from .._ratelimit import in_bulk_lane
from .._reconcile import find_sent, probe_members, reconciler, sent_id
from .._retry import is_ambiguous, pause, reconcile_deadline
from .._validation import check_positive_int, is_generated_local_id
from ..errors import (
    BulkSendError,
    ClientClosedError,
    ConflictError,
    HeymarketError,
    NotFoundError,
    ReconciliationError,
    RequestValidationError,
    UnexpectedResponseError,
    WrongEventLoopError,
)
from ..resources.messages import (
    Message,
    SendMessage,
    build_send_message,
    read_sent_message,
)
from ._journal import KEYLESS_JOB, JournalStore, opened

if TYPE_CHECKING:
    from .._client import HeymarketClient

logger = logging.getLogger("heymarket_async.bulk")

T = TypeVar("T")
OnUnknown = Literal["reconcile", "fail"]
ProgressHook = Callable[["Outcome"], None]

_KEY_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# How many full retry cycles (each the client's RetryPolicy) one send may use before its
# outcome is declared unknown.
DEFAULT_ROUNDS: Final = 3
# Team-history pages read at most when reconciling a list broadcast or a chat send.
RECONCILE_MAX_PAGES: Final = 200
# Team-history pages read for a list broadcast whose members are unknown, before resending
# it with the same local_id (resend_broadcasts=True): the lookup only saves relying on dedupe.
BROADCAST_LOOKUP_PAGES: Final = 3
UNREADABLE_REASON: Final = (
    "the server accepted the send (HTTP 2xx) but its answer could not be read: message id unknown"
)
DEDUPE_REASON: Final = (
    "history did not settle an ambiguous failure, so the list broadcast is sent again with "
    "the same local_id (the API de-duplicates list broadcasts by local_id)"
)
DUPLICATE_REASON: Final = (
    "the server refused a resend with the same local_id as a conflict (HTTP 409) after an "
    "earlier attempt may have gone out: read as already sent; message id unknown"
)
UNSETTLED_REASON: Final = "the send may have happened and history could not confirm it"
STOPPED_REASON: Final = (
    "the client could no longer be used (closed, or another event loop) before the send's "
    "fate was known; it stays in flight and the next run looks it up before sending"
)


class OutcomeStatus(enum.StrEnum):
    """What became of one request."""

    SENT = "sent"
    """Sent in this run (``message_id`` set), possibly confirmed by a history lookup."""
    FAILED = "failed"
    """Certainly not sent (``error`` says why, e.g. a 400 for a bad number)."""
    SKIPPED = "skipped"
    """Not sent now: already sent in an earlier run, a repeat within this job, or (with
    ``skip_opted_out``) the recipient opted out or is blocked; ``reason`` says which."""
    UNKNOWN = "unknown"
    """Could not be decided: history lookups kept failing after an ambiguous send."""


@attrs.frozen(kw_only=True)
class Outcome:
    """Exactly one per request given to a :class:`BatchSender`.

    Attributes:
        index: the request's position in the input (0-based).
        request: the request as sent, with its final ``local_id`` (``None`` only when the
            input item was not a ``SendMessage`` at all).
        status: sent, failed, skipped or unknown.
        message_id: the API's id for the send, when known.
        error: the last error for ``failed`` and ``unknown``.
        reconciled: the result came from a history lookup by ``local_id``.
        reason: a short explanation for ``skipped`` and ``unknown``, and for ``sent`` when
            the message id is unknown or a list broadcast relied on the API's dedupe.
        recipients: how many recipients this outcome covers: the phones of the list for a
            :func:`~heymarket_async.bulk.broadcast` chunk, else 1.
    """

    index: int
    request: SendMessage | None
    status: OutcomeStatus
    message_id: int | None = None
    error: HeymarketError | None = None
    reconciled: bool = False
    reason: str | None = None
    recipients: int = 1

    @property
    def local_id(self) -> str | None:
        return None if self.request is None else self.request.local_id


@attrs.frozen(kw_only=True)
class BatchReport:
    """Counts for a whole job; ``sent + failed + skipped + unknown == total``.

    Attributes:
        problems: every ``failed`` and ``unknown`` outcome, in completion order.
    """

    total: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    reconciled: int
    elapsed: float
    problems: tuple[Outcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every request ended sent or skipped."""
        return self.failed == 0 and self.unknown == 0


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise RequestValidationError(
            "key", "a job key is 1-64 characters of letters, digits and . _ : -"
        )
    return key


def _recipient(send: SendMessage) -> str:
    if send.phone_number is not None:
        return f"phone:{send.phone_number}"
    if send.chat_id is not None:
        return f"chat:{send.chat_id}"
    if send.targets:
        return "group:" + ",".join(sorted(send.targets))
    return f"list:{send.list_id}"


def derive_local_id(key: str, send: SendMessage) -> str:
    """The deterministic ``local_id`` of ``send`` within job ``key``: the key plus a digest
    of the inbox and the recipient, so a rerun of the job produces the same ids."""
    digest = hashlib.sha256(f"{send.inbox_id}|{_recipient(send)}".encode()).hexdigest()
    return f"{_check_key(key)}-{digest[:24]}"


def check_items(name: str, items: object) -> None:
    """Refuse what is not an iterable or async iterable of items (a lone string included)."""
    if isinstance(items, str | bytes | bytearray) or not isinstance(
        items, Iterable | AsyncIterable
    ):
        raise RequestValidationError(
            name, f"must be an iterable or async iterable, got {type(items).__name__}"
        )


def check_journal(journal: object) -> None:
    """Refuse a ``journal`` option that is not a journal (SQLite or Redis), a path or
    ``None``."""
    if journal is None or isinstance(journal, JournalStore | str):
        return
    if isinstance(journal, os.PathLike) and isinstance(os.fspath(journal), str):
        return
    raise RequestValidationError(
        "journal",
        "must be a Journal, a RedisJournal, a file path (str or os.PathLike) or None, "
        f"got {type(journal).__name__}",
    )


async def _aiter(
    items: Iterable[SendMessage] | AsyncIterable[SendMessage],
) -> AsyncIterator[object]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


@attrs.define
class _Tally:
    total: int = 0
    counts: dict[OutcomeStatus, int] = attrs.Factory(lambda: dict.fromkeys(OutcomeStatus, 0))
    reconciled: int = 0
    problems: list[Outcome] = attrs.Factory(list)

    def add(self, outcome: Outcome) -> None:
        self.total += 1
        self.counts[outcome.status] += 1
        self.reconciled += outcome.reconciled
        if outcome.status in {OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN}:
            self.problems.append(outcome)

    def report(self, elapsed: float) -> BatchReport:
        return BatchReport(
            total=self.total,
            sent=self.counts[OutcomeStatus.SENT],
            failed=self.counts[OutcomeStatus.FAILED],
            skipped=self.counts[OutcomeStatus.SKIPPED],
            unknown=self.counts[OutcomeStatus.UNKNOWN],
            reconciled=self.reconciled,
            elapsed=elapsed,
            problems=tuple(self.problems),
        )


class Delivery:
    """Sends one journaled request until its fate is known (shared with ``broadcast``)."""

    def __init__(
        self,
        client: HeymarketClient,
        journal: JournalStore,
        *,
        run_id: str,
        on_unknown: OnUnknown,
        rounds: int = DEFAULT_ROUNDS,
        resend_broadcasts: bool = True,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._journal = journal
        self._run_id = run_id
        self._on_unknown = on_unknown
        self._rounds = rounds
        self._resend_broadcasts = resend_broadcasts
        self._on_note = on_note

    def _note(self, text: str) -> None:
        logger.info("%s", text)
        if self._on_note is not None:
            self._on_note(text)

    async def deliver(
        self, index: int, send: SendMessage, *, members: Sequence[str] = (), recipients: int = 1
    ) -> Outcome:
        """Claim ``send`` in the journal, then send or reconcile it; never raises for one
        recipient's failure (only for cancellation or a broken journal).

        ``members`` names a few phones of a list broadcast's list: the lookup reads their
        conversations instead of team history. ``recipients`` is copied to the outcome.
        """
        prior, first_attempt = await self._journal.claim(send.local_id, run_id=self._run_id)
        if prior is not None and prior.state == "sent":
            return Outcome(
                index=index,
                request=send,
                status=OutcomeStatus.SKIPPED,
                message_id=prior.message_id,
                reason="sent in an earlier run",
                recipients=recipients,
            )
        if prior is not None and prior.run_id == self._run_id:
            return Outcome(
                index=index,
                request=send,
                status=OutcomeStatus.SKIPPED,
                reason="repeats an earlier request of this job (same local_id)",
                recipients=recipients,
            )
        # An entry left in flight by an earlier run may have been sent: look before sending.
        earlier_run = prior is not None and prior.state == "inflight"
        if earlier_run:
            self._note(f"reconciling {send.local_id}, left in flight by an earlier run")
        outcome = await self._send(
            index, send, must_look=earlier_run, first_attempt=first_attempt, members=members
        )
        return attrs.evolve(outcome, recipients=recipients)

    async def look(
        self, send: SendMessage, first_attempt: float, *, members: Sequence[str] = ()
    ) -> int | None:
        """The message id carrying ``send.local_id`` in history, or ``None`` to send it
        (absent, or an unsettled list broadcast under the resend policy).

        Raises:
            HeymarketError: the lookup failed or could not decide.
        """
        found = await self._lookup(send, datetime.fromtimestamp(first_attempt, UTC), members)
        return None if found is None else sent_id(found, send)

    async def _lookup(
        self,
        send: SendMessage,
        since: datetime,
        members: Sequence[str],
        deadline: float | None = None,
    ) -> Message | None:
        def on_page(pages: int) -> None:
            if pages % 10 == 0:
                self._note(f"reconciling {send.local_id}: {pages} history pages read")

        if send.is_broadcast and self._resend_broadcasts:
            try:
                if members:
                    found = await probe_members(
                        self._client,
                        send,
                        members,
                        since=since,
                        on_page=on_page,
                        deadline=deadline,
                    )
                else:
                    found = await find_sent(
                        self._client,
                        send,
                        since=since,
                        max_pages=BROADCAST_LOOKUP_PAGES,
                        on_page=on_page,
                        deadline=deadline,
                    )
            except ReconciliationError:
                found = None
            if found is None:
                self._note(f"{send.local_id}: not settled by history; {DEDUPE_REASON}")
            return found
        if send.is_broadcast and members:
            found = await probe_members(
                self._client, send, members, since=since, on_page=on_page, deadline=deadline
            )
            if found is not None:
                return found
        # Strict: only a walk back to the first attempt proves absence.
        return await find_sent(
            self._client,
            send,
            since=since,
            max_pages=RECONCILE_MAX_PAGES,
            on_page=on_page,
            deadline=deadline,
        )

    async def _send(
        self,
        index: int,
        send: SendMessage,
        *,
        must_look: bool,
        first_attempt: float,
        members: Sequence[str] = (),
    ) -> Outcome:
        # The client's own replay of a list broadcast would lean on server dedupe; here every
        # resend after an ambiguous failure goes through the history lookup instead.
        request = attrs.evolve(build_send_message(send), replay_safe=False)
        since = datetime.fromtimestamp(first_attempt, UTC)
        found_by_hook: list[Message] = []
        resent_blind = False

        async def lookup() -> Message | None:
            nonlocal resent_blind
            # Inside the client's reconcile hook, bounded by the send's own deadline.
            found = await self._lookup(send, since, members, reconcile_deadline())
            # Under the resend policy not finding a broadcast is no proof: say so.
            resent_blind = resent_blind or (
                found is None and send.is_broadcast and self._resend_broadcasts
            )
            return found

        reconcile = reconciler(
            self._client, send, since=since, on_found=found_by_hook.append, lookup=lookup
        )

        last_error: HeymarketError | None = None
        # Refuses (BulkSendError) once another run took the job over: nothing goes out then.
        guard = functools.partial(self._journal.ensure_lease, self._run_id)
        for round_number in range(self._rounds):
            await guard()
            if must_look:
                try:
                    found = await lookup()
                except HeymarketError as exc:
                    last_error = exc
                    if self._on_unknown == "fail" or isinstance(
                        exc, ClientClosedError | WrongEventLoopError
                    ):
                        break
                    await pause(min(2.0**round_number, 30.0))
                    continue
                if found is not None:
                    found_id = sent_id(found, send)
                    await self._journal.finish(
                        send.local_id, "sent", run_id=self._run_id, message_id=found_id
                    )
                    # Found before this run sent anything: an earlier run delivered it.
                    status = OutcomeStatus.SKIPPED if round_number == 0 else OutcomeStatus.SENT
                    return Outcome(
                        index=index,
                        request=send,
                        status=status,
                        message_id=found_id,
                        reconciled=True,
                        reason="found in history by local_id" if round_number == 0 else None,
                    )
                must_look = False
            try:
                response = await self._client.request(
                    request, reconcile=reconcile, before_send=guard
                )
            except BulkSendError:
                raise  # the lease guard refused: the entry stays in flight, the job stops
            except HeymarketError as exc:
                last_error = exc
                if isinstance(exc, ClientClosedError | WrongEventLoopError):
                    # Nothing more can be sent or looked up with this client; an earlier
                    # attempt may have gone out, so the entry stays in flight for a lookup.
                    break
                if is_ambiguous(exc):
                    must_look = True
                    continue
                if resent_blind and isinstance(exc, ConflictError):
                    # A same-local_id resend refused as a duplicate: the first one went out.
                    return await self._accepted(
                        index, send, exc.request_id, reason=DUPLICATE_REASON
                    )
                if resent_blind:
                    # An earlier attempt may have gone out and nothing disproved it: this
                    # error says nothing about that one.
                    break
                await self._journal.finish(
                    send.local_id, "failed", run_id=self._run_id, error=_describe(exc)
                )
                return Outcome(index=index, request=send, status=OutcomeStatus.FAILED, error=exc)
            if found_by_hook:
                message_id: int | None = sent_id(found_by_hook[-1], send)
            else:
                message_id = _read_id(response, send)
                if message_id is None:
                    return await self._accepted(index, send, response.request_id)
            await self._journal.finish(
                send.local_id, "sent", run_id=self._run_id, message_id=message_id
            )
            return Outcome(
                index=index,
                request=send,
                status=OutcomeStatus.SENT,
                message_id=message_id,
                reconciled=bool(found_by_hook),
                reason=DEDUPE_REASON if resent_blind and not found_by_hook else None,
            )
        # Left in flight in the journal: a later run looks it up again before sending.
        return Outcome(
            index=index,
            request=send,
            status=OutcomeStatus.UNKNOWN,
            error=last_error,
            reason=(
                STOPPED_REASON
                if isinstance(last_error, ClientClosedError | WrongEventLoopError)
                else UNSETTLED_REASON
            ),
        )

    async def _accepted(
        self,
        index: int,
        send: SendMessage,
        request_id: str | None,
        *,
        reason: str = UNREADABLE_REASON,
    ) -> Outcome:
        logger.warning("local_id %s: %s (request id %s)", send.local_id, reason, request_id)
        await self._journal.finish(send.local_id, "sent", run_id=self._run_id)
        return Outcome(index=index, request=send, status=OutcomeStatus.SENT, reason=reason)


def _read_id(response: ApiResponse, send: SendMessage) -> int | None:
    """The message id of a 2xx send answer, or ``None`` when the answer cannot be read."""
    try:
        return read_sent_message(response, send).id
    except UnexpectedResponseError:  # the readers' one error for an accepted answer
        return None


def _describe(exc: HeymarketError) -> str:
    return f"{type(exc).__name__}: {exc}"


async def opt_out_reason(client: HeymarketClient, phone: str) -> str | None:
    """Why ``phone`` must not be messaged (``"opted out"`` or ``"blocked"``), else ``None``.

    Reads ``POST /v1/contact/status``; a contact the API does not know (404) never opted out.

    Raises:
        HeymarketError: the status could not be read.
    """
    try:
        status = await client.contacts.status(phone=phone)
    except NotFoundError:
        return None
    if status.is_opted_out:
        return "opted out"
    return "blocked" if status.blocked else None


async def _screen(client: HeymarketClient, index: int, send: SendMessage) -> Outcome | None:
    """The outcome of a single send that must not go out (its recipient opted out or is
    blocked, or the status could not be read), or ``None`` to send it."""
    if send.phone_number is None:
        return None  # chat, group and list sends name no single phone to check
    try:
        reason = await opt_out_reason(client, send.phone_number)
    except HeymarketError as exc:
        return Outcome(
            index=index,
            request=send,
            status=OutcomeStatus.FAILED,
            error=exc,
            reason="not sent: the opt-out status could not be read",
        )
    if reason is None:
        return None
    return Outcome(index=index, request=send, status=OutcomeStatus.SKIPPED, reason=reason)


class BatchSender:
    """Sends many :class:`~heymarket_async.SendMessage` requests safely.

    Guarantees: exactly one :class:`Outcome` per request; no request sent twice (each has a
    deterministic ``local_id``, committed to the journal before sending and reused on every
    attempt; ambiguous failures are reconciled by history lookup before any resend); at most
    ``concurrency`` requests in flight, under the client's rate limit; inputs are streamed.

    Args:
        client: an open :class:`~heymarket_async.HeymarketClient`.
        concurrency: most requests in flight at once.
        journal: a SQLite file path (or :class:`Journal`, or a
            ``heymarket_async.redis.RedisJournal`` shared by many machines) that makes the
            job resumable after a crash; ``None`` keeps the bookkeeping in a temporary file
            for this run only.
        on_unknown: ``"reconcile"`` keeps looking up an ambiguous send (several rounds with
            backoff) until history answers; ``"fail"`` gives up at the first failed lookup
            and reports ``unknown``.
        key: a job key; when given, each request's ``local_id`` is derived from it and the
            recipient (the requests' own ``local_id`` is then ignored, except for list
            broadcasts, which always carry the caller's). Without a key the requests'
            ``local_id`` values are used: make them stable if you want to resume.
        on_outcome: called with every outcome as it is decided (progress display).
        skip_opted_out: before each ``phone_number`` send, read the recipient's status
            (``POST /v1/contact/status``, one request per send) and report an opted-out or
            blocked recipient as ``skipped`` with the reason instead of sending; an unknown
            contact (404) is sent to, and a status that cannot be read makes the send
            ``failed`` (never sent). Chat, group and list sends are not checked.
        resend_broadcasts: after an ambiguous failure of a list broadcast (``list_id``)
            that a short history lookup does not settle, send it again with the same
            ``local_id``, relying on the API's documented de-duplication of list broadcasts
            (heymarket-api §4). ``False`` walks team history back to the first attempt
            instead (its cost grows with what the team sent since) and reports ``unknown``
            when that cannot decide. Single sends never rely on dedupe.

    A send the server accepts (2xx) with an answer that cannot be read is ``sent`` with
    ``message_id=None`` and a ``reason`` saying so; it is never sent again.
    """

    def __init__(
        self,
        client: HeymarketClient,
        *,
        concurrency: int = 8,
        journal: JournalStore | str | os.PathLike[str] | None = None,
        on_unknown: OnUnknown = "reconcile",
        key: str | None = None,
        on_outcome: ProgressHook | None = None,
        rounds: int = DEFAULT_ROUNDS,
        skip_opted_out: bool = False,
        resend_broadcasts: bool = True,
    ) -> None:
        check_positive_int("concurrency", concurrency)
        if on_unknown not in {"reconcile", "fail"}:
            raise RequestValidationError("on_unknown", "must be 'reconcile' or 'fail'")
        check_positive_int("rounds", rounds)
        if not isinstance(skip_opted_out, bool):
            raise RequestValidationError("skip_opted_out", "must be True or False")
        if not isinstance(resend_broadcasts, bool):
            raise RequestValidationError("resend_broadcasts", "must be True or False")
        check_journal(journal)
        if on_outcome is not None and not callable(on_outcome):
            raise RequestValidationError("on_outcome", "must be a callable or None")
        self._client = client
        self.concurrency = concurrency
        self._journal = journal
        self._resumable = journal is not None and not (
            not isinstance(journal, str | os.PathLike) and journal.is_temporary
        )
        self._on_unknown: OnUnknown = on_unknown
        self._key = None if key is None else _check_key(key)
        self._on_outcome = on_outcome
        self._rounds = rounds
        self._skip_opted_out = skip_opted_out
        self._resend_broadcasts = resend_broadcasts

    def __repr__(self) -> str:
        return f"<BatchSender concurrency={self.concurrency} key={self._key!r}>"

    def _prepare(self, index: int, item: object) -> SendMessage | Outcome:
        if not isinstance(item, SendMessage):
            error = RequestValidationError(
                None, f"request #{index} is a {type(item).__name__}, not a SendMessage"
            )
            return Outcome(
                index=index,
                request=None,
                status=OutcomeStatus.FAILED,
                error=error,
                reason=str(error),
            )
        if self._key is not None and not item.is_broadcast:
            return attrs.evolve(item, local_id=derive_local_id(self._key, item))
        if self._resumable and is_generated_local_id(item.local_id):
            error = RequestValidationError(
                "local_id",
                f"request #{index} has a generated local_id, which changes on every run, so a "
                "resumed job could send it twice: pass key= to BatchSender, or give each "
                "SendMessage a local_id you keep",
            )
            return Outcome(
                index=index,
                request=item,
                status=OutcomeStatus.FAILED,
                error=error,
                reason=str(error),
            )
        return item

    async def stream(
        self, requests: Iterable[SendMessage] | AsyncIterable[SendMessage]
    ) -> AsyncGenerator[Outcome]:
        """Yield one :class:`Outcome` per request, in completion order.

        Closing the iterator early (or cancelling its consumer) cancels the requests in
        flight; their journal entries stay ``inflight`` and are reconciled on the next run.

        Raises:
            RequestValidationError: ``requests`` is not an iterable (nothing was sent).
        """
        check_items("requests", requests)
        queue: asyncio.Queue[Outcome | None] = asyncio.Queue(maxsize=self.concurrency)
        producer = asyncio.create_task(self._produce(requests, queue))
        try:
            while (outcome := await queue.get()) is not None:
                if self._on_outcome is not None:
                    self._on_outcome(outcome)
                yield outcome
            await producer  # re-raise a failure of the machinery itself
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def _produce(
        self,
        requests: Iterable[SendMessage] | AsyncIterable[SendMessage],
        queue: asyncio.Queue[Outcome | None],
    ) -> None:
        try:
            await self._produce_outcomes(requests, queue)
        except asyncio.CancelledError:
            raise  # the consumer closed the stream; nobody waits for the end marker
        except BaseExceptionGroup as group:
            await queue.put(None)  # wake the consumer, which re-raises via `await producer`
            # One failure of the machinery (e.g. the journal) is clearer unwrapped.
            first = group.exceptions[0]
            if all(type(e) is type(first) for e in group.exceptions):
                raise first from group
            raise
        except BaseException:
            await queue.put(None)
            raise
        await queue.put(None)

    @in_bulk_lane
    async def _produce_outcomes(
        self,
        requests: Iterable[SendMessage] | AsyncIterable[SendMessage],
        queue: asyncio.Queue[Outcome | None],
    ) -> None:
        run_id = uuid.uuid4().hex
        slots = asyncio.Semaphore(self.concurrency)
        job = KEYLESS_JOB if self._key is None else self._key
        async with opened(self._journal) as journal, journal.lease(job, run_id=run_id):
            delivery = Delivery(
                self._client,
                journal,
                run_id=run_id,
                on_unknown=self._on_unknown,
                rounds=self._rounds,
                resend_broadcasts=self._resend_broadcasts,
            )

            async def work(index: int, send: SendMessage) -> None:
                try:
                    outcome = None
                    if self._skip_opted_out:
                        outcome = await _screen(self._client, index, send)
                    if outcome is None:
                        outcome = await delivery.deliver(index, send)
                    await queue.put(outcome)
                finally:
                    slots.release()  # only after the outcome is queued: memory stays bounded

            async with asyncio.TaskGroup() as group:
                index = 0
                async for item in _aiter(requests):
                    prepared = self._prepare(index, item)
                    if isinstance(prepared, Outcome):
                        await queue.put(prepared)
                    else:
                        await slots.acquire()
                        group.create_task(work(index, prepared))
                    index += 1

    async def send_all(
        self, requests: Iterable[SendMessage] | AsyncIterable[SendMessage]
    ) -> BatchReport:
        """Send every request and return the counts (see :meth:`stream` for each outcome).

        Raises:
            BulkSendError: the journal could not be used.
            asyncio.CancelledError: propagated promptly; a later run finishes the job.
        """
        started = time.perf_counter()
        tally = _Tally()
        async with contextlib.aclosing(self.stream(requests)) as outcomes:
            async for outcome in outcomes:
                tally.add(outcome)
        return tally.report(time.perf_counter() - started)
