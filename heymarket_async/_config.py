"""Frozen configuration values and their defaults."""

from __future__ import annotations

import enum
import math
from typing import Any, Final, TypeGuard

import attrs

from .errors import ConfigurationError

DEFAULT_BASE_URL: Final = "https://api.heymarket.com"
DEFAULT_RATE_LIMIT_PER_MINUTE: Final = 500  # heymarket-api.md §1.3
DEFAULT_TOKEN_LIFETIME: Final = 240.0
DEFAULT_LEASE_TTL: Final = 30.0
"""Seconds a bulk job's lease on its journal lasts without a heartbeat (renewed every third)."""
MAX_TOKEN_LIFETIME: Final = 300.0  # the server rejects a JWT 5 minutes after its iat (§1.2)


def _positive_or_none(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if not is_finite_seconds(value) or not value > 0:
        raise ConfigurationError(
            f"{attribute.name} must be a positive, finite number of seconds, or None for "
            f"no limit; got {value!r}"
        )


def is_finite_seconds(value: object) -> TypeGuard[float]:
    """A real number of seconds (not a bool) that a float can hold and that is finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigurationError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ConfigurationError(f"{attribute.name} must not be negative, got {value!r}")


def _finite_non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    # The cap on every server-chosen wait: it must be a real bound.
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigurationError(
            f"{attribute.name} must be a finite number of seconds >= 0, got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Timeouts:
    """Per-request time limits in seconds.

    ``connect`` covers getting a connection (a failure there means nothing was sent);
    ``read`` bounds the wait for the complete answer: an attempt without its whole answer
    ``connect + read`` seconds after it started fails, even while bytes keep coming
    (with ``connect=None``, connecting has no limit and ``read`` bounds each wait for
    bytes of the answer instead); ``total`` bounds the whole attempt.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=None, validator=_positive_or_none)


DEFAULT_TIMEOUTS: Final = Timeouts()


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed requests are retried.

    Retried: 429, 5xx, connection errors and timeouts; never other 4xx. A request whose body
    may have reached the server is repeated only when that cannot duplicate its effect.

    Attributes:
        attempts: total tries including the first (1 disables retries).
        deadline: seconds from the first try after which no new try starts; the wait for
            a pacing slot and every backoff count against it.
        initial_wait: first backoff in seconds; doubles each retry.
        max_wait: cap on one backoff, on an honoured ``Retry-After``, and on the pause the
            rate limiter takes after a 429, whatever the server asks for.
        jitter: up to this many random seconds added to each backoff.
    """

    attempts: int = attrs.field(default=4)
    deadline: float = attrs.field(default=120.0, validator=_positive)
    initial_wait: float = attrs.field(default=0.5, validator=_non_negative)
    max_wait: float = attrs.field(default=30.0, validator=_finite_non_negative)
    jitter: float = attrs.field(default=0.5, validator=_non_negative)

    @attempts.validator
    def _check_attempts(self, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"attempts must be an integer >= 1, got {value!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)


DEFAULT_RETRY: Final = RetryPolicy()


class UseClientDefault(enum.Enum):
    """Marker for a per-call option left to the client's setting (distinct from ``None``)."""

    token = "USE_CLIENT_DEFAULT"  # noqa: S105 - a sentinel name, not a secret


USE_CLIENT_DEFAULT: Final = UseClientDefault.token
