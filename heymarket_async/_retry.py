"""The retry policy, wrapped around tenacity once.

Rules (design.md "Retries and rate limit"): retry 429, 5xx, connection errors and timeouts;
never other 4xx. When the body may have reached the server (5xx, read timeout, reset), a
request is repeated only if it is replay-safe, or after a reconciler has looked for the
effect of the earlier attempt and found nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Final, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from ._config import RetryPolicy
from ._ratelimit import capped_wait
from .errors import (
    ClientClosedError,
    PacingTimeoutError,
    RateLimitError,
    ReconciliationError,
    ServerError,
    TransportError,
)

T = TypeVar("T")
Reconcile = Callable[[], Awaitable[T | None]]

logger = logging.getLogger("heymarket_async")

_waits_enabled = True
# The absolute (time.monotonic) deadline of the call whose reconcile hook is running, so
# the hook's lookups end with the call instead of outliving it.
_reconcile_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "heymarket_reconcile_deadline", default=None
)


def reconcile_deadline() -> float | None:
    """Inside a reconcile hook: the ``time.monotonic()`` moment its call must end by."""
    return _reconcile_deadline.get()


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def _sleep_unless_closed(seconds: float, closed: asyncio.Event) -> None:
    """Sleep like :func:`_sleep`, but end at once with ``ClientClosedError`` on close."""
    if not closed.is_set():
        sleeper = asyncio.ensure_future(_sleep(seconds))
        closing = asyncio.ensure_future(closed.wait())
        try:
            await asyncio.wait({sleeper, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            closing.cancel()
    if closed.is_set():
        raise ClientClosedError("the client was closed while this request waited to retry")


async def pause(seconds: float) -> None:
    """Sleep between higher-level retries (zero inside :func:`retry_waits_disabled`)."""
    await _sleep(seconds if _waits_enabled else 0.0)


@contextlib.contextmanager
def retry_waits_disabled() -> Iterator[None]:
    """Within this block every retry backoff is zero (for tests)."""
    global _waits_enabled  # noqa: PLW0603 - one process-wide test switch, like stamina's
    previous, _waits_enabled = _waits_enabled, False
    try:
        yield
    finally:
        _waits_enabled = previous


def is_ambiguous(exc: BaseException) -> bool:
    """Whether the failed request may nevertheless have taken effect on the server."""
    if isinstance(exc, ServerError | ReconciliationError):
        return True
    return isinstance(exc, TransportError | ClientClosedError) and exc.possibly_sent


class _Wait:
    """Exponential backoff with jitter; a server's ``Retry-After`` wins when it is given.

    Every wait is capped by ``max_wait``, and a wait that would end past the deadline is not
    taken at all (``stop_before_delay`` ends the call with the last error instead): a server
    that asks for 10**9 seconds (or ``inf``, or a date in the far future) cannot freeze a call.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, state: RetryCallState) -> float:
        if not _waits_enabled:
            return 0.0
        exc = state.outcome.exception() if state.outcome else None
        wait = None
        if isinstance(exc, RateLimitError):
            wait = capped_wait(exc.retry_after, self._policy.max_wait)
        if wait is None:
            wait = min(float(self._backoff(state)), self._policy.max_wait)
        return wait


def _should_retry_any(exc: BaseException) -> bool:
    """The retry predicate when repeating after an ambiguous failure is allowed."""
    if isinstance(exc, PacingTimeoutError):
        return False  # our own limiter already said the wait is too long
    return isinstance(exc, RateLimitError | ServerError | TransportError)


def _should_retry_unambiguous(exc: BaseException) -> bool:
    """The retry predicate when only failures that certainly sent nothing may be repeated."""
    if isinstance(exc, RateLimitError):
        return not isinstance(exc, PacingTimeoutError)
    if isinstance(exc, ServerError | TransportError):
        return not is_ambiguous(exc)
    return False


# Strategy objects are stateless (they read the RetryCallState they are given), so they are
# built once and shared; only the AsyncRetrying that carries a call's state is per call.
_RETRY_ANY: Final = retry_if_exception(_should_retry_any)
_RETRY_UNAMBIGUOUS: Final = retry_if_exception(_should_retry_unambiguous)


class _StopBefore(stop_base):
    """Stop when the next try would start past an absolute ``time.monotonic()`` deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep >= self._deadline


@functools.lru_cache(maxsize=32)
def _stop_and_wait(policy: RetryPolicy) -> tuple[stop_base, _Wait]:
    """The stop and wait strategies of ``policy`` (frozen and hashable, so cacheable)."""
    stop = stop_after_attempt(policy.attempts) | stop_before_delay(policy.deadline)
    return stop, _Wait(policy)


async def retry_after_failure(
    first_failure: Exception,
    attempt: Callable[[], Awaitable[T]],
    *,
    started: float,
    policy: RetryPolicy,
    replay_safe: bool,
    reconcile: Reconcile[T] | None = None,
    description: str = "request",
    closed: asyncio.Event | None = None,
    deadline: float | None = None,
) -> T:
    """After attempt 1 failed with ``first_failure``, run ``attempt`` again until it
    succeeds or the policy gives up; re-raise the last error.

    The caller runs attempt 1 itself: most calls succeed at once, and tenacity's
    bookkeeping costs more CPU than the rest of a request's Python work.

    Args:
        first_failure: what attempt 1 raised.
        attempt: one try of the request.
        started: the ``time.monotonic()`` moment attempt 1 started (the policy's deadline
            counts from it).
        policy: attempts, deadline and backoff.
        replay_safe: repeating the request after an ambiguous failure cannot duplicate it.
        reconcile: for requests that are not replay-safe, a lookup run before each repeat
            that follows an ambiguous failure; a non-``None`` result ends the call with it.
        description: names the request in DEBUG logs (no secrets, no bodies).
        closed: set when the caller's client closes; a backoff under way then ends at once
            with ``ClientClosedError`` instead of retrying on a closed client.
        deadline: an absolute ``time.monotonic()`` moment after which no new try starts
            (besides the policy's own deadline); ``reconcile`` reads it through
            :func:`reconcile_deadline` to bound its lookups.
    """
    must_reconcile = isinstance(first_failure, ServerError | TransportError) and is_ambiguous(
        first_failure
    )
    pending: BaseException | None = first_failure
    ambiguous = first_failure if must_reconcile else None  # the last attempt that may have sent

    def log_retry(state: RetryCallState) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            exc = state.outcome.exception() if state.outcome else None
            logger.debug(
                "retrying %s after attempt %d failed with %s; waiting %.2fs",
                description,
                state.attempt_number,
                type(exc).__name__,
                state.upcoming_sleep,
            )

    stop, wait = _stop_and_wait(policy)
    if deadline is not None:
        stop = stop | _StopBefore(deadline)
    # A fresh AsyncRetrying per call (a shared one would mix up calls' attempt counts).
    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=_RETRY_ANY if replay_safe or reconcile is not None else _RETRY_UNAMBIGUOUS,
        before_sleep=log_retry,
        reraise=True,
        # Read at each call, so tests can replace _sleep.
        sleep=_sleep if closed is None else functools.partial(_sleep_unless_closed, closed=closed),
    )
    try:
        async for try_ in retrying:
            if pending is not None:
                state = try_.retry_state
                state.start_time = started  # the deadline counts from attempt 1
                state.set_exception((type(pending), pending, pending.__traceback__))
                pending = None
                continue
            # What `with try_:` does, minus recording a result on success: we return at once,
            # so tenacity never reads it (and recording it costs a lock-guarded Future).
            try:
                if must_reconcile and reconcile is not None and not replay_safe:
                    token = _reconcile_deadline.set(deadline)
                    try:
                        found = await reconcile()
                    finally:
                        _reconcile_deadline.reset(token)
                    if found is not None:
                        return found
                try:
                    return await attempt()
                except (ServerError, TransportError) as exc:
                    if is_ambiguous(exc):
                        must_reconcile, ambiguous = True, exc
                    raise
            except BaseException as exc:  # noqa: BLE001 - recorded; tenacity re-raises it
                try_.retry_state.set_exception((type(exc), exc, exc.__traceback__))
    except ClientClosedError as exc:
        if ambiguous is None or exc.possibly_sent:
            raise
        # The close ended the wait after an attempt whose fate is unknown: say so.
        raise ClientClosedError(
            f"the client was closed while this request waited to retry after an attempt "
            f"that may have reached the server ({type(ambiguous).__name__}): it may have "
            "taken effect; look it up before sending it again",
            possibly_sent=True,
        ) from ambiguous
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
