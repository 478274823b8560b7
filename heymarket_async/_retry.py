"""The retry policy, wrapped around tenacity once.

Rules (design.md "Retries and rate limit"): retry 429, 5xx, connection errors and timeouts;
never other 4xx. When the body may have reached the server (5xx, read timeout, reset), a
request is repeated only if it is replay-safe, or after a reconciler has looked for the
effect of the earlier attempt and found nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from ._config import RetryPolicy
from .errors import RateLimitError, ReconciliationError, ServerError, TransportError

T = TypeVar("T")
Reconcile = Callable[[], Awaitable[T | None]]

logger = logging.getLogger("heymarket_async")

_waits_enabled = True


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


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
    return isinstance(exc, TransportError) and exc.possibly_sent


class _Wait:
    """Exponential backoff with jitter; a server's ``Retry-After`` wins when it is given."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, state: RetryCallState) -> float:
        if not _waits_enabled:
            return 0.0
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return min(exc.retry_after, self._policy.max_wait)
        return float(self._backoff(state))


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    replay_safe: bool,
    reconcile: Reconcile[T] | None = None,
    description: str = "request",
) -> T:
    """Run ``attempt`` until it succeeds or the policy gives up; re-raise the last error.

    Args:
        attempt: one try of the request.
        policy: attempts, deadline and backoff.
        replay_safe: repeating the request after an ambiguous failure cannot duplicate it.
        reconcile: for requests that are not replay-safe, a lookup run before each repeat
            that follows an ambiguous failure; a non-``None`` result ends the call with it.
        description: names the request in DEBUG logs (no secrets, no bodies).
    """
    can_repeat_ambiguous = replay_safe or reconcile is not None

    def should_retry(exc: BaseException) -> bool:
        if isinstance(exc, RateLimitError):
            return True
        if isinstance(exc, ServerError | TransportError):
            return can_repeat_ambiguous or not is_ambiguous(exc)
        return False

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

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.deadline),
        wait=_Wait(policy),
        retry=retry_if_exception(should_retry),
        before_sleep=log_retry,
        reraise=True,
        sleep=_sleep,  # read at each call, so tests can replace it
    )
    must_reconcile = False
    async for try_ in retrying:
        with try_:
            if must_reconcile and reconcile is not None and not replay_safe:
                found = await reconcile()
                if found is not None:
                    return found
            try:
                return await attempt()
            except (ServerError, TransportError) as exc:
                must_reconcile = must_reconcile or is_ambiguous(exc)
                raise
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
