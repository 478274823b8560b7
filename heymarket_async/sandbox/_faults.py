"""Fault injection for the sandbox: what can go wrong, and when it should.

A :class:`FaultPlan` holds rules. A scripted rule counts the matching requests from the moment
it is added and fires on the ones it names ("the next 2", "the 3rd"); a random rule fires with
a probability drawn from the plan's own seeded :class:`random.Random`. Scripted rules come
first; when two are due on the same request the earlier one fires and the later one stays due
for the next matching request, so no scripted fault is ever lost.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Final, Literal

import attrs

__all__ = ["NGINX_502_HTML", "BodyFormat", "Fault", "FaultKind", "FaultPlan", "FaultRule"]

BodyFormat = Literal["json", "html", "empty"]

NGINX_502_HTML: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_SERVER_ERROR_STATUSES: Final = frozenset({500, 502, 503, 504})


class FaultKind(enum.StrEnum):
    """What an injected fault does."""

    RATE_LIMIT = "rate_limit"
    """Answer 429, with or without ``Retry-After``; nothing is processed."""
    SERVER_ERROR = "server_error"
    """Answer 500/502/503/504 with a JSON, HTML or empty body; nothing is processed."""
    LATENCY = "latency"
    """Sleep, then process and answer normally (or process first, then sleep)."""
    RESET = "reset"
    """Close the connection without answering; nothing is processed."""
    COMMIT_THEN_DROP = "commit_then_drop"
    """Process and commit the request, then close the connection before answering."""


def _check_delay(_inst: object, _attr: object, value: float | tuple[float, float]) -> None:
    low, high = value if isinstance(value, tuple) else (value, value)
    if not 0 <= low <= high:
        raise ValueError(f"delay must be >= 0 seconds (or a range low <= high), got {value!r}")


@attrs.frozen(kw_only=True)
class Fault:
    """One injected failure. Build it with the class methods, e.g. ``Fault.server_error(503)``.

    Attributes:
        kind: what happens.
        status: the HTTP status for ``RATE_LIMIT`` and ``SERVER_ERROR``.
        body: ``"json"`` (an ``{"error_code", "message"}`` object), ``"html"`` (a proxy page)
            or ``"empty"``.
        retry_after: seconds sent in ``Retry-After``, or ``None`` for no header.
        delay: seconds to sleep for ``LATENCY``, fixed or a ``(low, high)`` uniform range.
        after_commit: for ``LATENCY``, process the request first and sleep before answering
            (a slow answer to a request that already took effect).
    """

    kind: FaultKind
    status: int | None = None
    body: BodyFormat = "json"
    retry_after: float | None = None
    delay: float | tuple[float, float] = attrs.field(default=0.0, validator=_check_delay)
    after_commit: bool = False

    @classmethod
    def rate_limited(cls, *, retry_after: float | None = 1.0) -> Fault:
        """A 429 answer; ``retry_after=None`` sends no ``Retry-After`` header."""
        return cls(kind=FaultKind.RATE_LIMIT, status=429, retry_after=retry_after)

    @classmethod
    def server_error(
        cls, status: int = 500, *, body: BodyFormat = "json", retry_after: float | None = None
    ) -> Fault:
        """A 5xx answer (500, 502, 503 or 504)."""
        if status not in _SERVER_ERROR_STATUSES:
            raise ValueError(f"status must be one of 500, 502, 503, 504, got {status!r}")
        return cls(kind=FaultKind.SERVER_ERROR, status=status, body=body, retry_after=retry_after)

    @classmethod
    def bad_gateway(cls) -> Fault:
        """A 502 with an nginx-style HTML page, as a proxy in front of the API would send."""
        return cls.server_error(502, body="html")

    @classmethod
    def latency(cls, seconds: float | tuple[float, float], *, after_commit: bool = False) -> Fault:
        """A delay of ``seconds`` (or uniformly within a ``(low, high)`` range)."""
        return cls(kind=FaultKind.LATENCY, delay=seconds, after_commit=after_commit)

    @classmethod
    def reset(cls) -> Fault:
        """Drop the connection before processing: the request has no effect."""
        return cls(kind=FaultKind.RESET)

    @classmethod
    def commit_then_drop(cls) -> Fault:
        """Commit the request, then drop the connection: it took effect, the client never hears."""
        return cls(kind=FaultKind.COMMIT_THEN_DROP)

    @property
    def processes_request(self) -> bool:
        """Whether the request is processed (and its effect committed) under this fault."""
        return self.kind in {FaultKind.LATENCY, FaultKind.COMMIT_THEN_DROP}


RouteSpec = str | Iterable[str] | None


def _patterns(route: RouteSpec) -> tuple[str, ...]:
    """Normalise a route spec into ``fnmatch`` patterns over ``"METHOD /path/{template}"``."""
    if route is None:
        return ("*",)
    items = [route] if isinstance(route, str) else list(route)
    if not items:
        raise ValueError("route must name at least one route (or be None for all)")
    # A bare path ("/v1/message/send") matches every method on it.
    return tuple(f"* {item}" if item.startswith("/") else item for item in items)


class FaultRule:
    """One rule of a :class:`FaultPlan`; returned by its methods so it can be removed.

    Attributes:
        fired: how many faults this rule has injected.
    """

    def __init__(
        self,
        *,
        route: RouteSpec,
        steps: Sequence[Fault | None] = (),
        fault: Fault | None = None,
        probability: float = 0.0,
        limit: int | None = None,
    ) -> None:
        self.patterns = _patterns(route)
        self._steps = list(steps)  # scripted: one entry per matching request, None = pass
        self._fault = fault  # random: the fault to inject
        self._probability = probability
        self._limit = limit
        self._matches: dict[str, bool] = {}
        self.fired = 0

    def __repr__(self) -> str:
        if self.scripted:
            what = f"scripted, {len(self._steps)} step(s) left"
        else:
            what = f"random p={self._probability:g}"
        return f"<FaultRule {what} route={list(self.patterns)} fired={self.fired}>"

    @property
    def scripted(self) -> bool:
        return self._fault is None

    @property
    def pending(self) -> int:
        """Scripted faults this rule has still to inject (0 for a random rule)."""
        return sum(step is not None for step in self._steps)

    @property
    def exhausted(self) -> bool:
        if self.scripted:
            return not self._steps
        return self._limit is not None and self.fired >= self._limit

    def matches(self, route_key: str) -> bool:
        found = self._matches.get(route_key)
        if found is None:
            found = any(fnmatchcase(route_key, pattern) for pattern in self.patterns)
            self._matches[route_key] = found
        return found

    def advance(self, *, taken: bool) -> Fault | None:
        """Consume this request's step; a due fault stays due when ``taken`` by another rule."""
        if not self._steps:
            return None
        step = self._steps[0]
        if step is None:
            del self._steps[0]
            return None
        if taken:
            return None
        del self._steps[0]
        self.fired += 1
        return step

    def roll(self, rng: random.Random) -> Fault | None:
        if self._fault is None or self.exhausted:
            return None
        if rng.random() >= self._probability:
            return None
        self.fired += 1
        return self._fault


class FaultPlan:
    """Which requests fail, and how; change it while the sandbox runs.

    Routes are named ``"METHOD /path/template"`` (``"POST /v1/message/send"``,
    ``"GET /v1/schedule/{id}"``), a bare path for every method on it, an ``fnmatch`` pattern
    (``"POST /v2/*"``), a list of those, or ``None`` for every API route.

    Example::

        plan = FaultPlan(seed=7)
        plan.next(Fault.server_error(503), route="POST /v1/message/send", times=2)
        plan.next(Fault.commit_then_drop(), route="POST /v1/message/send", after=2)
        plan.random(Fault.bad_gateway(), probability=0.05)
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int = 0) -> None:
        self.rules: list[FaultRule] = list(rules)
        self.rng = random.Random(seed)
        self.injected: Counter[FaultKind] = Counter()

    def __repr__(self) -> str:
        return f"<FaultPlan rules={len(self.rules)} injected={dict(self.injected)}>"

    def __bool__(self) -> bool:
        return bool(self.rules)

    def add(self, rule: FaultRule) -> FaultRule:
        """Append ``rule`` and return it."""
        self.rules.append(rule)
        return rule

    def next(
        self, fault: Fault, *, route: RouteSpec = None, times: int = 1, after: int = 0
    ) -> FaultRule:
        """The next ``times`` matching requests get ``fault``, after ``after`` pass untouched.

        ``after=2`` with ``times=1`` means "the 3rd matching request from now".
        """
        if times < 1 or after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        return self.sequence([None] * after + [fault] * times, route=route)

    def sequence(self, steps: Sequence[Fault | None], *, route: RouteSpec = None) -> FaultRule:
        """One step per matching request from now on: a :class:`Fault`, or ``None`` to pass."""
        return self.add(FaultRule(route=route, steps=steps))

    def random(
        self,
        fault: Fault,
        *,
        probability: float,
        route: RouteSpec = None,
        limit: int | None = None,
    ) -> FaultRule:
        """Each matching request gets ``fault`` with ``probability``, at most ``limit`` times."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        return self.add(FaultRule(route=route, fault=fault, probability=probability, limit=limit))

    @classmethod
    def chaos(
        cls, probability: float, *, route: RouteSpec = None, seed: int = 0, max_delay: float = 0.05
    ) -> FaultPlan:
        """A plan where each matching request fails with ``probability``, spread over every kind.

        The failure modes are weighted towards the ones clients meet most (5xx, 429), but
        include resets and commit-then-drop, the case that tests deduplication.
        """
        mix: tuple[tuple[Fault, float], ...] = (
            (Fault.server_error(503), 0.2),
            (Fault.server_error(500), 0.1),
            (Fault.bad_gateway(), 0.1),
            (Fault.rate_limited(retry_after=0.01), 0.15),
            (Fault.rate_limited(retry_after=None), 0.05),
            (Fault.reset(), 0.15),
            (Fault.commit_then_drop(), 0.15),
            (Fault.latency((0.0, max_delay)), 0.1),
        )
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        plan = cls(seed=seed)
        fired_before = 0.0
        # Rules are tried in order, so rule i only sees the requests no earlier rule took:
        # scale its probability up so each kind ends up with its share of all requests.
        for fault, share in mix:
            p = probability * share
            plan.random(fault, probability=min(1.0, p / (1.0 - fired_before)), route=route)
            fired_before += p
        return plan

    def remove(self, rule: FaultRule) -> None:
        """Stop applying ``rule``."""
        self.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule (the injection counts stay)."""
        self.rules.clear()

    @property
    def pending(self) -> int:
        """Scripted faults not injected yet (handy to assert a script was used up)."""
        return sum(rule.pending for rule in self.rules if rule.scripted)

    def pick(self, route_key: str) -> Fault | None:
        """The fault for this request to ``route_key``, or ``None``; advances the scripts."""
        if not self.rules:
            return None
        chosen: Fault | None = None
        spent = False
        for rule in self.rules:
            if rule.scripted and rule.matches(route_key):
                fault = rule.advance(taken=chosen is not None)
                chosen = chosen or fault
                spent = spent or rule.exhausted
        if chosen is None:
            for rule in self.rules:
                if not rule.scripted and rule.matches(route_key):
                    chosen = rule.roll(self.rng)
                    if chosen is not None:
                        break
        if spent:
            self.rules = [rule for rule in self.rules if not (rule.scripted and rule.exhausted)]
        if chosen is not None:
            self.injected[chosen.kind] += 1
        return chosen
