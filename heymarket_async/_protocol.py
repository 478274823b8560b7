"""The sans-I/O core: request values, path quoting, and what a response means.

Nothing here touches the network or the event loop, so every rule is testable with literals.
"""

from __future__ import annotations

import email.utils
import html
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from . import _json
from ._validation import check_positive_int, check_text
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ServerError,
)

Method = Literal["GET", "POST", "PUT", "DELETE"]

REQUEST_ID_HEADER: Final = "X-Request-Id"
_KEPT_ERROR_HEADERS: Final = ("retry-after", "x-request-id", "content-type")
_MAX_MESSAGE_CHARS: Final = 300
_MAX_CODE_CHARS: Final = 200
_ERROR_CODE_RE: Final = re.compile(r"[a-z0-9_.]{1,100}")
_STATUS_ERRORS: Final[Mapping[int, type[APIError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}


def _replay_default(request: ApiRequest) -> bool:
    # GET, PUT and DELETE repeat harmlessly; a POST only when the builder says so.
    return request.method != "POST"


@attrs.frozen(kw_only=True)
class ApiRequest:
    """One API call, fully decided before any I/O.

    Attributes:
        method: HTTP method.
        path: path below the base URL, already quoted (build it with :func:`path`).
        query: query parameters.
        json: the JSON body (a GET may carry one: ``GET /v1/users/get``).
        idempotency_key: the ``local_id`` this request carries, if any.
        replay_safe: whether the request may be sent again after an ambiguous failure
            (the body may have reached the server) without risking a duplicate effect.
    """

    method: Method
    path: str
    query: Mapping[str, str] | None = None
    json: Any = None
    idempotency_key: str | None = None
    replay_safe: bool = attrs.field(default=attrs.Factory(_replay_default, takes_self=True))

    def body_bytes(self) -> bytes | None:
        """The JSON body as compact UTF-8 bytes, or ``None`` when there is no body.

        Raises:
            RequestValidationError: the body is not strict JSON (NaN, infinities, lone
                surrogates, values JSON cannot hold).
        """
        if self.json is None:
            return None
        try:
            return _json.dumps(self.json)
        except (ValueError, TypeError, RecursionError) as exc:
            # NaN/Infinity (not JSON), a lone surrogate (not UTF-8), an int too long to
            # print, an object JSON cannot hold, or a cycle: nothing is sent.
            raise RequestValidationError(
                None, f"the request body cannot be sent as JSON: {exc}"
            ) from exc


@attrs.frozen(kw_only=True)
class ApiResponse:
    """A 2xx answer: the server accepted the request.

    Attributes:
        status: the HTTP status (2xx).
        data: the decoded JSON (any JSON type, or ``None`` for an empty body); for an
            unreadable body, a short excerpt of its text (``None`` when truncated).
        request_id: the ``X-Request-Id`` response header.
        readable: whether the body was JSON the SDK could decode.
        truncated: the body was larger than the client's ``max_response_size`` and was
            not read (then ``readable`` is ``False`` and ``data`` is ``None``).
    """

    status: int
    data: Any
    request_id: str | None
    readable: bool = True
    truncated: bool = False


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The slot setter of each of ``names``, which must be all of the attrs class
    ``cls``'s fields: for the hand-written readers of the hottest answers, which fill a
    ``cls.__new__`` instance with values they checked (half the cost of the generated
    ``__init__`` of a frozen class, which sets each field through ``object.__setattr__``).

    Raises:
        TypeError: ``names`` are not exactly the fields (a field added to the model must be
            added to its reader too).
    """
    fields = [field.name for field in attrs.fields(cls)]
    if sorted(names) != sorted(fields):
        raise TypeError(f"{cls.__name__} has the fields {fields}, not {list(names)}")
    return tuple(getattr(cls, name).__set__ for name in names)


def path(template: str, *params: str | int) -> str:
    """Fill ``{}`` placeholders in ``template`` with URL-quoted path parameters.

    Each parameter is one path segment (see :func:`path_segment`): ints must be positive
    ids, strings are percent-encoded whole (``/``, ``?``, ``#`` and ``%`` included).

    Raises:
        RequestValidationError: a parameter is empty, a dot segment, or not a valid id.
    """
    return template.format(*(path_segment(param) for param in params))


# RFC 3986 §5.2.4: clients and yarl resolve these segments, so they would rewrite the path
# (a DELETE of ".." would hit the parent collection); quoting leaves dots as they are.
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def path_segment(value: object, *, name: str = "id") -> str:
    """One URL path segment, percent-encoded, from an id given as an ``int`` or a ``str``.

    Raises:
        RequestValidationError: ``value`` is a bool, an int below 1 or above 2**63 - 1, an
            empty or blank string, ``.`` or ``..``, a string with a lone surrogate, or of
            another type.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        check_positive_int(name, value)
        return str(value)
    if not isinstance(value, str):
        raise RequestValidationError(
            name, f"a path parameter must be an int or a str, got {type(value).__name__}"
        )
    if not value.strip():
        raise RequestValidationError(name, "a path parameter must not be empty")
    if value in _DOT_SEGMENTS:
        raise RequestValidationError(
            name, f"{value!r} is a dot segment, which would change the path"
        )
    check_text(name, value)
    return quote(value, safe="")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts as well as multidicts."""
    value = headers.get(name)
    if value is not None or isinstance(headers, CIMultiDictProxy | CIMultiDict):
        return value  # a multidict's get already ignores case: absent means absent
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns ``None`` when the value is absent or unreadable; never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


# Error pages are excerpted from their start only, so the work per answer is bounded.
EXCERPT_WINDOW: Final = 64 * 1024
REDACTED: Final = "[redacted]"
_MAX_JSON_MESSAGE_CHARS: Final = 2000
_HIDDEN_ELEMENTS: Final = ("script", "style")
# A secret cut by the excerpt window is hidden when at least this much of it shows.
_MIN_PARTIAL_SECRET: Final = 4


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_cut_tail(text: str, secrets: Iterable[str]) -> str:
    # The window may end inside a secret: hide a tail that is the start of one.
    for secret in secrets:
        longest = min(len(secret) - 1, len(text))
        for size in range(longest, _MIN_PARTIAL_SECRET - 1, -1):
            if text.endswith(secret[:size]):
                return text[:-size] + REDACTED
    return text


def _tag_name_at(lowered: str, start: int) -> str | None:
    """The hidden element (script/style) whose opening tag starts at ``lowered[start]``."""
    for name in _HIDDEN_ELEMENTS:
        end = start + 1 + len(name)
        if lowered.startswith(name, start + 1) and not lowered[end : end + 1].isalnum():
            return name
    return None


def strip_tags(text: str) -> str:
    """``text`` without HTML tags and without the contents of ``script``/``style``.

    One forward scan with ``str.find``: linear in the length of ``text`` whatever its
    shape (an unclosed ``<`` or ``<script>`` is searched past at most once).
    """
    lowered = text.lower()
    pieces: list[str] = []
    unclosed: set[str] = set()  # hidden elements known to have no closing tag ahead
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            pieces.append(text[position:])
            break
        end = text.find(">", start + 1)
        if end < 0:  # no tag can close any more: the rest is text
            pieces.append(text[position:])
            break
        pieces.append(text[position:start])
        pieces.append(" ")
        position = end + 1
        name = _tag_name_at(lowered, start)
        if name is not None and name not in unclosed:
            closing = lowered.find("</" + name, position)
            if closing < 0:
                unclosed.add(name)
                continue
            after = text.find(">", closing)
            position = len(text) if after < 0 else after + 1
    return "".join(pieces)


def text_excerpt(body: bytes, secrets: Iterable[str] = ()) -> str:
    """A short one-line excerpt of a body that is not JSON (an HTML error page, plain text).

    Only the first :data:`EXCERPT_WINDOW` bytes are read; tags are dropped, entities
    decoded, whitespace collapsed, ``secrets`` redacted, and the result cut to 300 chars.
    """
    window = body[:EXCERPT_WINDOW]
    text = window.decode("utf-8", errors="replace")
    if secrets:
        text = redact(text, secrets)  # first too: dropping tags could cut one with < or >
    if "<" in text and ">" in text:  # an HTML error page from a proxy
        text = html.unescape(strip_tags(text))
    text = " ".join(text.split())
    if secrets:
        text = redact(text, secrets)
        if len(body) >= EXCERPT_WINDOW:  # cut here, or by the transport at that size
            text = _redact_cut_tail(text, secrets)
    return _clip(text, _MAX_MESSAGE_CHARS)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _read_error_body(body: bytes, secrets: Iterable[str]) -> tuple[str | None, str | None]:
    """(code, message) from an error body of unknown shape; never raises."""
    try:
        data = _json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):  # not JSON, bad UTF-8, or nested too deep
        return None, text_excerpt(body, secrets) or None
    if isinstance(data, str):
        return None, data or None
    if not isinstance(data, dict):
        return None, text_excerpt(body, secrets) or None
    nested = data.get("error")
    if isinstance(nested, dict):  # {"error": {"code": ..., "message": ...}}
        data = {**data, **nested}
    code = _first_str(data, "error_code", "code")
    message = _first_str(data, "message", "detail", "error_description")
    error = data.get("error")
    if isinstance(error, str) and error:
        # "error" is a code when it looks like one (bad_data), else a message.
        if code is None and _ERROR_CODE_RE.fullmatch(error):
            code = error
        elif message is None:
            message = error
    if message is None and code is None:
        message = text_excerpt(body, secrets)
    return code, message


def _clean(text: str | None, secrets: Iterable[str], limit: int) -> str | None:
    return None if text is None else _clip(redact(text, secrets), limit)


_new: Final = object.__new__
(
    _SET_RESPONSE_STATUS,
    _SET_RESPONSE_DATA,
    _SET_RESPONSE_REQUEST_ID,
    _SET_RESPONSE_READABLE,
    _SET_RESPONSE_TRUNCATED,
) = slot_setters(ApiResponse, "status", "data", "request_id", "readable", "truncated")


def decipher_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    truncated: bool = False,
    secrets: Collection[str] = (),
) -> ApiResponse:
    """Decide what an HTTP answer means.

    A 2xx never raises: the server accepted the request, whatever its body says. A body
    that is not JSON gives ``readable=False`` with an excerpt of its text as ``data`` (a
    bare ``ok`` arrives as ``"ok"``); a ``truncated`` body gives ``readable=False,
    truncated=True, data=None``. The readers in ``resources`` decide what they can use.

    Args:
        status: the HTTP status.
        headers: the response headers.
        body: the body, or its first bytes when ``truncated``.
        truncated: the body was cut at the client's ``max_response_size``.
        secrets: strings (API key, secret key, current JWT) that must not appear in
            anything built from the body or headers; they become ``[redacted]``.

    Returns:
        the decoded JSON (object, array, bare string, or ``None`` for an empty body).

    Raises:
        APIError: a subclass chosen by status for any non-2xx answer.
    """
    request_id = header(headers, REQUEST_ID_HEADER)
    if 200 <= status < 300:
        if secrets and request_id is not None:
            request_id = redact(request_id, secrets)
        if truncated:
            return ApiResponse(
                status=status, data=None, request_id=request_id, readable=False, truncated=True
            )
        if not body or body.isspace():  # as `not body.strip()`, without copying the body
            return ApiResponse(status=status, data=None, request_id=request_id)
        try:
            data = _json.loads(body)
        except (ValueError, RecursionError):  # not JSON, bad UTF-8, or nested too deep
            excerpt = text_excerpt(body, secrets)
            return ApiResponse(status=status, data=excerpt, request_id=request_id, readable=False)
        # ApiResponse(status=status, data=data, request_id=request_id) at half the cost.
        response = _new(ApiResponse)
        _SET_RESPONSE_STATUS(response, status)
        _SET_RESPONSE_DATA(response, data)
        _SET_RESPONSE_REQUEST_ID(response, request_id)
        _SET_RESPONSE_READABLE(response, True)  # noqa: FBT003 - a slot setter takes no keywords
        _SET_RESPONSE_TRUNCATED(response, False)  # noqa: FBT003
        return response

    code, message = _read_error_body(body, secrets)
    message = message or code or f"HTTP {status} with an empty body"
    kept = {
        name: redact(v, secrets)
        for name in _KEPT_ERROR_HEADERS
        if (v := header(headers, name)) is not None
    }
    common: dict[str, Any] = {
        "status": status,
        "code": _clean(code, secrets, _MAX_CODE_CHARS),
        "message": _clean(message, secrets, _MAX_JSON_MESSAGE_CHARS),
        "request_id": _clean(request_id, secrets, _MAX_CODE_CHARS),
        "headers": kept,
    }
    if status == 429:
        raise RateLimitError(retry_after=parse_retry_after(kept.get("retry-after")), **common)
    if status >= 500:
        raise ServerError(**common)
    raise _STATUS_ERRORS.get(status, APIError)(**common)
