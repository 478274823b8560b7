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

__all__ = [
    "FAR_FUTURE_HTTP_DATE",
    "MESSAGE_LISTING_ROUTES",
    "NGINX_502_HTML",
    "SEND_ROUTES",
    "BodyFormat",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "HiddenLocalId",
    "UnreadableBody",
]

BodyFormat = Literal["json", "html", "empty"]
UnreadableBody = Literal["text", "html", "empty", "array", "truncated"]
"""How an ``UNREADABLE_2XX`` answer looks: ``text`` is a bare ``ok`` (``text/plain``),
``html`` a web page, ``empty`` no body at all (yet ``application/json``), ``array`` the JSON
``[]``, ``truncated`` the real JSON answer cut in half."""
HiddenLocalId = Literal["absent", "null", "empty"]
"""How ``HISTORY_WITHOUT_LOCAL_ID`` hides ``local_id``: key left out, ``null``, or ``""``."""

MESSAGE_LISTING_ROUTES: Final = ("GET /v1/messages", "POST /v1/messages/all")
"""The routes that list messages: what a ``local_id`` lookup reads."""
SEND_ROUTES: Final = ("POST /v1/message/send",)
"""Where :meth:`FaultPlan.chaos` puts unreadable and oversized answers after a commit."""
FAR_FUTURE_HTTP_DATE: Final = "Fri, 31 Dec 9999 23:59:59 GMT"
DEFAULT_OVERSIZED_BYTES: Final = 17 * 1024 * 1024  # above the client's default 16 MiB cap

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
    UNREADABLE_2XX = "unreadable_2xx"
    """Process and commit the request, then answer 200 with a body that is not the answer:
    plain text ``ok``, an HTML page, an empty body, ``[]``, or the JSON cut in half."""
    HISTORY_WITHOUT_LOCAL_ID = "history_without_local_id"
    """Process normally, but answer with every ``local_id`` hidden (left out, ``null`` or
    empty). On a message listing this blinds a ``local_id`` lookup."""
    HUGE_RETRY_AFTER = "huge_retry_after"
    """Answer 429 (or 503) with an absurd ``Retry-After`` (``1e9`` seconds, ``inf``, a date
    in the year 9999); nothing is processed."""
    SLOW_DRIP = "slow_drip"
    """Process and commit the request, then send the answer one byte at a time, ``delay``
    seconds apart (a client without a deadline on the whole answer waits it out)."""
    OVERSIZED = "oversized"
    """Process and commit the request, then answer 200 with ``size`` bytes: the real JSON
    followed by whitespace (valid JSON; only its size is hostile)."""


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
        unreadable_body: for ``UNREADABLE_2XX``, what the 200 answer carries.
        hidden_local_id: for ``HISTORY_WITHOUT_LOCAL_ID``, how ``local_id`` is hidden.
        retry_after_text: for ``HUGE_RETRY_AFTER``, the ``Retry-After`` header, verbatim.
        size: for ``OVERSIZED``, the answer's length in bytes.
        max_writes: for ``SLOW_DRIP``, the most pieces an answer is cut into.
    """

    kind: FaultKind
    status: int | None = None
    body: BodyFormat = "json"
    retry_after: float | None = None
    delay: float | tuple[float, float] = attrs.field(default=0.0, validator=_check_delay)
    after_commit: bool = False
    unreadable_body: UnreadableBody = "text"
    hidden_local_id: HiddenLocalId = "absent"
    retry_after_text: str | None = None
    size: int = 0
    max_writes: int | None = None

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

    @classmethod
    def unreadable_success(cls, body: UnreadableBody = "text") -> Fault:
        """Commit the request, then answer 200 with ``body`` instead of the JSON answer."""
        if body not in {"text", "html", "empty", "array", "truncated"}:
            raise ValueError(f"body must be text, html, empty, array or truncated, got {body!r}")
        return cls(kind=FaultKind.UNREADABLE_2XX, status=200, unreadable_body=body)

    @classmethod
    def history_without_local_id(cls, how: HiddenLocalId = "absent") -> Fault:
        """Answer normally, with ``local_id`` left out (``"absent"``), ``"null"`` or ``"empty"``."""
        if how not in {"absent", "null", "empty"}:
            raise ValueError(f"how must be absent, null or empty, got {how!r}")
        return cls(kind=FaultKind.HISTORY_WITHOUT_LOCAL_ID, hidden_local_id=how)

    @classmethod
    def huge_retry_after(cls, value: str | float = "1e9", *, status: int = 429) -> Fault:
        """A 429 (or 503) whose ``Retry-After`` is ``value``, sent as written (a number of
        seconds such as ``1e9`` or ``inf``, or an HTTP date such as
        :data:`FAR_FUTURE_HTTP_DATE`)."""
        if status not in {429, 503}:
            raise ValueError(f"status must be 429 or 503, got {status!r}")
        text = value if isinstance(value, str) else f"{value:g}"
        if not text or any(ch in text for ch in "\r\n"):
            raise ValueError("the Retry-After value must be one non-empty line")
        return cls(kind=FaultKind.HUGE_RETRY_AFTER, status=status, retry_after_text=text)

    @classmethod
    def slow_drip(cls, byte_delay: float = 0.05, *, max_writes: int | None = None) -> Fault:
        """Commit the request, then send the answer a byte at a time, ``byte_delay`` apart.

        With ``max_writes``, an answer longer than that many bytes goes out in
        ``max_writes`` equal pieces instead, so the drip lasts at most about
        ``max_writes * byte_delay`` seconds.
        """
        if max_writes is not None and max_writes < 1:
            raise ValueError(f"max_writes must be positive, got {max_writes!r}")
        return cls(kind=FaultKind.SLOW_DRIP, delay=byte_delay, max_writes=max_writes)

    @classmethod
    def oversized(cls, size: int = DEFAULT_OVERSIZED_BYTES) -> Fault:
        """Commit the request, then answer 200 with ``size`` bytes (the JSON, then spaces)."""
        if isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive number of bytes, got {size!r}")
        return cls(kind=FaultKind.OVERSIZED, status=200, size=size)

    @property
    def processes_request(self) -> bool:
        """Whether the request is processed (and its effect committed) under this fault."""
        return self.kind not in {
            FaultKind.RATE_LIMIT,
            FaultKind.SERVER_ERROR,
            FaultKind.RESET,
            FaultKind.HUGE_RETRY_AFTER,
        }


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


def _within(keys: Sequence[str], route: RouteSpec) -> tuple[str, ...]:
    """The route keys among ``keys`` that ``route`` matches."""
    patterns = _patterns(route)
    return tuple(key for key in keys if any(fnmatchcase(key, p) for p in patterns))


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
        cls,
        probability: float,
        *,
        route: RouteSpec = None,
        seed: int = 0,
        max_delay: float = 0.05,
        kinds: Iterable[FaultKind | str] | None = None,
        oversized_bytes: int = DEFAULT_OVERSIZED_BYTES,
    ) -> FaultPlan:
        """A plan where each matching request fails with ``probability``, spread over every kind.

        The failure modes are weighted towards the ones clients meet most (5xx, 429), but
        include resets, commit-then-drop (the case that tests deduplication), absurd
        ``Retry-After`` values and answers dripped a byte at a time. Unreadable and
        oversized answers after a commit hit only sends (``POST /v1/message/send``), where
        "accepted, answer unreadable" has a defined outcome (sent, id unknown); script them
        with :meth:`next` or :meth:`random` for other routes. ``history_without_local_id``
        hits only message listings (the ``local_id`` lookups), on top of the other faults.
        Routes outside those subsets see slightly fewer than ``probability`` faults.

        Args:
            probability: the share of matching requests that fail, 0..1.
            route: which routes to fault (default every route).
            seed: seeds the plan's random choices.
            max_delay: the longest latency, and about the longest slow drip of an answer.
            kinds: only these kinds (default all of them), their shares scaled up to fill
                ``probability``.
            oversized_bytes: the size of an ``oversized`` answer.

        Raises:
            ValueError: an out-of-range probability or an unknown kind.
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        wanted = set(FaultKind) if kinds is None else {FaultKind(kind) for kind in kinds}
        if not wanted:
            raise ValueError("kinds must name at least one fault kind")
        # At most 100 pieces: a long listing drips within max_delay too.
        drip = Fault.slow_drip(byte_delay=max_delay / 100, max_writes=100)
        sends_only = _within(SEND_ROUTES, route)
        mix: tuple[tuple[Fault, float, RouteSpec], ...] = (
            (Fault.server_error(503), 0.15, route),
            (Fault.server_error(500), 0.08, route),
            (Fault.bad_gateway(), 0.08, route),
            (Fault.rate_limited(retry_after=0.01), 0.12, route),
            (Fault.rate_limited(retry_after=None), 0.04, route),
            (Fault.reset(), 0.12, route),
            (Fault.commit_then_drop(), 0.12, route),
            (Fault.latency((0.0, max_delay)), 0.07, route),
            (Fault.unreadable_success("text"), 0.02, sends_only),
            (Fault.unreadable_success("html"), 0.02, sends_only),
            (Fault.unreadable_success("empty"), 0.02, sends_only),
            (Fault.unreadable_success("array"), 0.02, sends_only),
            (Fault.huge_retry_after("1e9"), 0.02, route),
            (Fault.huge_retry_after(FAR_FUTURE_HTTP_DATE, status=503), 0.01, route),
            (drip, 0.03, route),
            (Fault.oversized(oversized_bytes), 0.03, sends_only),
        )
        chosen = [
            (fault, share, where)
            for fault, share, where in mix
            if fault.kind in wanted and where != ()
        ]
        total_share = sum(share for _, share, _ in chosen)
        plan = cls(seed=seed)
        fired_before = 0.0
        # Rules are tried in order, so rule i only sees the requests no earlier rule took:
        # scale its probability up so each kind ends up with its share of all requests.
        for fault, share, where in chosen:
            p = probability * share / total_share
            left = 1.0 - fired_before
            plan.random(fault, probability=min(1.0, p / left) if left > 0 else 0.0, route=where)
            fired_before += p
        if FaultKind.HISTORY_WITHOUT_LOCAL_ID in wanted:
            listings = _within(MESSAGE_LISTING_ROUTES, route)
            if listings:
                # Last: a listing request no other rule took loses its local_ids this often.
                share = 0.1 if chosen else 1.0
                plan.random(
                    Fault.history_without_local_id(),
                    probability=probability * share,
                    route=listings,
                )
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
