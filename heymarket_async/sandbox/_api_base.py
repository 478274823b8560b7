"""What every emulated endpoint shares: the :class:`Call` a handler gets, the :class:`Route`
table entry, and the field readers and checks that answer 400 ``bad_data`` naming the field.

The route modules (``_api.py``, ``_api_contacts.py``, ``_api_more.py``) build on this one and
never on each other, so imports only point down.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from ._state import ApiFailure, Contact, SandboxState, Timeline, parse_rfc3339, to_us

__all__ = [
    "E164_RE",
    "PAGE_DEFAULT",
    "PAGE_MAX",
    "UUID_RE",
    "Call",
    "Handler",
    "Route",
    "body_object",
    "check_email",
    "check_member",
    "check_phone",
    "get_bool",
    "get_emails",
    "get_int",
    "get_ints",
    "get_list",
    "get_local_id",
    "get_phones",
    "get_str",
    "merge_text",
    "one_target",
    "path_id",
    "read_cursor",
    "read_limit",
    "refuse_opted_out",
    "require_int",
    "require_str",
    "show",
    "sms_inbox",
    "walk",
]

E164_RE: Final = re.compile(r"[1-9][0-9]{7,14}")
_EMAIL_RE: Final = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
_MERGE_RE: Final = re.compile(r"\{\{\s*(first_name|last_name)\s*\}\}")
UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
PAGE_DEFAULT: Final = 30  # §3: 30 items per page unless `limit` says otherwise
PAGE_MAX: Final = 200  # the real cap is unknown; larger limits are clamped, as for messages


class Call:
    """What a handler gets besides the state: the parsed request and the sandbox switches."""

    __slots__ = (
        "body",
        "dedupe_individual_sends",
        "method",
        "now",
        "params",
        "query",
        "request_id",
    )

    def __init__(
        self,
        *,
        method: str,
        params: Mapping[str, str],
        query: Mapping[str, str],
        body: Any,
        now: float,
        request_id: str,
        dedupe_individual_sends: bool = True,
    ) -> None:
        self.method = method
        self.params = params
        self.query = query
        self.body = body
        self.now = now
        self.request_id = request_id
        self.dedupe_individual_sends = dedupe_individual_sends

    @property
    def now_us(self) -> int:
        return to_us(self.now)


Handler = Callable[[SandboxState, Call], Any]


@attrs.frozen
class Route:
    """``method`` + ``path`` (``{name}`` segments become ``call.params``) -> ``handler``."""

    method: str
    path: str
    handler: Handler

    @property
    def key(self) -> str:
        """The name used in stats and fault plans, e.g. ``"GET /v1/schedule/{id}"``."""
        return f"{self.method} {self.path}"


# -- field readers: each raises ApiFailure.bad_data naming the field ---------------------


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def body_object(call: Call) -> dict[str, Any]:
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise ApiFailure.bad_data("body", "must be a JSON object")
    return call.body


def get_int(body: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiFailure.bad_data(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiFailure.bad_data(name, f"must be an integer, got {show(value)}")
    return value


def require_int(body: Mapping[str, Any], name: str) -> int:
    value = get_int(body, name, required=True)
    assert value is not None
    return value


def require_str(body: Mapping[str, Any], name: str) -> str:
    value = get_str(body, name, required=True)
    assert value is not None
    return value


def get_str(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiFailure.bad_data(name, "is required")
        return None
    if not isinstance(value, str):
        raise ApiFailure.bad_data(name, f"must be a string, got {show(value)}")
    if required and not value.strip():
        raise ApiFailure.bad_data(name, "must not be empty")
    return value


def get_bool(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiFailure.bad_data(name, f"must be true or false, got {show(value)}")
    return value


def get_list(body: Mapping[str, Any], name: str) -> list[Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, list):
        raise ApiFailure.bad_data(name, f"must be an array, got {show(value)}")
    return value


def get_local_id(body: Mapping[str, Any]) -> str | None:
    local_id = get_str(body, "local_id")
    if local_id is not None and not local_id.strip():
        raise ApiFailure.bad_data("local_id", "must not be empty")
    return local_id


def check_phone(name: str, value: object) -> str:
    """E.164 digits without ``+`` (§1.1)."""
    if not isinstance(value, str) or not E164_RE.fullmatch(value):
        raise ApiFailure.bad_data(
            name, f"must be E.164 digits without '+', e.g. 15105553344; got {show(value)}"
        )
    return value


def check_email(name: str, value: object) -> str:
    if not isinstance(value, str) or not _EMAIL_RE.fullmatch(value.strip()):
        raise ApiFailure.bad_data(name, f"must be an email address, got {show(value)}")
    return value.strip()


def get_phones(body: Mapping[str, Any], name: str) -> list[str]:
    return [check_phone(name, item) for item in get_list(body, name) or ()]


def get_emails(body: Mapping[str, Any], name: str) -> list[str]:
    return [check_email(name, item) for item in get_list(body, name) or ()]


def get_ints(body: Mapping[str, Any], name: str) -> list[int]:
    items = get_list(body, name) or []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ApiFailure.bad_data(name, f"must be an array of integers, got {show(item)}")
    return items


def path_id(call: Call, what: str) -> int:
    raw = call.params["id"]
    if not raw.isdigit():
        raise ApiFailure.not_found(f"{what} {raw!r}")
    return int(raw)


def one_target(body: Mapping[str, Any], families: tuple[str, ...]) -> str:
    """The single target family present; the API requires exactly one (§2.1, §2.6)."""
    present = [name for name in families if body.get(name) is not None]
    if not present:
        raise ApiFailure.bad_data(families[0], f"give one target: {', '.join(families)}")
    if len(present) > 1:
        raise ApiFailure.bad_data(
            present[1], f"give exactly one target family, got {', '.join(present)}"
        )
    return present[0]


def sms_inbox(state: SandboxState, name: str, inbox_id: int) -> dict[str, Any]:
    inbox = state.inboxes.get(inbox_id)
    if inbox is None:
        raise ApiFailure.bad_data(name, f"no inbox {inbox_id} in this team")
    if inbox["channel"] != "sms":
        raise ApiFailure.bad_data(name, f"inbox {inbox_id} cannot send SMS/MMS")
    return inbox


def check_member(state: SandboxState, name: str, user_id: int, inbox: dict[str, Any] | None) -> int:
    allowed = inbox["members"] if inbox is not None else state.member_ids
    if user_id not in allowed:
        where = f"inbox {inbox['id']}" if inbox is not None else "the team"
        raise ApiFailure.bad_data(name, f"user {user_id} is not a member of {where}")
    return user_id


def refuse_opted_out(state: SandboxState, name: str, phone: str) -> None:
    if phone in state.opted_out:
        raise ApiFailure(400, "unsubscribed_number", f"{name}: {phone} has opted out")
    if phone in state.blocked:  # blocked: no messages in either direction
        raise ApiFailure(400, "blocked_number", f"{name}: {phone} is blocked")


def merge_text(text: str | None, contact: Contact | None) -> str | None:
    """Fill ``{{first_name}}``/``{{last_name}}``; other tokens stay as sent."""
    if text is None or "{{" not in text:
        return text
    first = contact.first if contact else ""
    last = contact.last if contact else ""
    return _MERGE_RE.sub(lambda m: first if m.group(1) == "first_name" else last, text)


# -- paging (§3) -------------------------------------------------------------


def read_limit(body: Mapping[str, Any], default: int = PAGE_DEFAULT) -> int:
    limit = get_int(body, "limit")
    if limit is None:
        return default
    if limit < 1:
        raise ApiFailure.bad_data("limit", "must be at least 1")
    return min(limit, PAGE_MAX)


def read_cursor(body: Mapping[str, Any], name: str = "date") -> int | None:
    raw = get_str(body, name)
    if raw is None:
        return None
    cursor = parse_rfc3339(raw)
    if cursor is None:
        raise ApiFailure.bad_data(name, "must be an RFC 3339 date-time with an offset")
    return cursor


def walk(timeline: Timeline, cursor: int | None, *, ascending: bool = False) -> Iterator[int]:
    """Ids newest first, updated strictly before ``cursor``; ascending: oldest first, strictly
    after it. Stamps never tie, so a cursor never skips or repeats an item (§3)."""
    if ascending:
        return timeline.walk(after=-1 if cursor is None else cursor)
    return timeline.walk(before=cursor)
