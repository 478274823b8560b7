"""What every resource module shares: the requester protocol, response helpers, base model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, TypeVar

import attrs

from .._config import USE_CLIENT_DEFAULT, Timeouts, UseClientDefault
from .._converter import MAX_ID, structure
from .._protocol import ApiRequest, ApiResponse
from .._retry import Reconcile
from ..errors import ResponseTooLargeError, UnexpectedResponseError

T = TypeVar("T")
Timeout = Timeouts | float | UseClientDefault


class Requester(Protocol):
    """Sends an :class:`ApiRequest` with auth, pacing and retries (the client implements it)."""

    async def request(
        self,
        request: ApiRequest,
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        reconcile: Reconcile[ApiResponse] | None = None,
        deadline: float | None = None,
    ) -> ApiResponse: ...


@attrs.frozen(kw_only=True)
class ResponseModel:
    """Base of models returned at the top level of an answer.

    Attributes:
        request_id: the ``X-Request-Id`` of the answer this came from.
    """

    request_id: str | None = attrs.field(default=None, eq=False)


class ResponseList(list[T]):
    """A list of models that also carries the answer's ``request_id``."""

    def __init__(self, items: Iterable[T], *, request_id: str | None) -> None:
        super().__init__(items)
        self.request_id = request_id


def unwrap(data: Any, *keys: str) -> Any:
    """The value under the first of ``keys`` when the answer is wrapped in an object."""
    if isinstance(data, dict):
        for key in keys:
            if key in data:
                return data[key]
    return data


_ACKNOWLEDGEMENTS: Final = frozenset({"ok", "success"})


def is_acknowledgement(data: object) -> bool:
    """Whether ``data`` is a bare ``ok``/``success`` (a JSON string or unquoted text)."""
    return isinstance(data, str) and data.strip().strip("\"'").lower() in _ACKNOWLEDGEMENTS


def _json_kind(data: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean"}
    if data is None:
        return "an empty body"
    kind = kinds.get(type(data), "number")
    return f"a JSON {kind}"


def describe_answer(response: ApiResponse) -> str:
    """What the answer was, for an error message (its shape, never its readable contents)."""
    if response.truncated:
        return "a body larger than the client's max_response_size (not read)"
    if not response.readable:
        excerpt = response.data if isinstance(response.data, str) else ""
        return f"a body that is not JSON ({excerpt!r})" if excerpt else "a body that is not JSON"
    return _json_kind(response.data)


def unreadable(
    response: ApiResponse, expected: str, *, local_id: str | None = None
) -> UnexpectedResponseError:
    """The error for a 2xx answer that does not hold ``expected``.

    A truncated answer gives :class:`ResponseTooLargeError`. The message states that the
    request was accepted; it shows an excerpt only of a body that is not JSON (already
    redacted by the client), never values from a JSON body.
    """
    error = ResponseTooLargeError if response.truncated else UnexpectedResponseError
    return error(
        f"the server accepted the request (HTTP {response.status}) but its answer could not "
        f"be read: expected {expected}, got {describe_answer(response)}",
        status=response.status,
        request_id=response.request_id,
        local_id=local_id,
    )


def plain_object(response: ApiResponse, wrapper: str | None = None) -> dict[str, Any] | None:
    """The JSON object :func:`read_model` would read from a readable answer, else ``None``.

    For the hand-written readers of the hottest answers: they take the common shape from
    here and leave everything else (and every error) to :func:`read_model`.
    """
    if not response.readable:
        return None
    data = response.data
    if wrapper is not None and type(data) is dict and wrapper in data:
        inner = data[wrapper]
        data = inner if isinstance(inner, dict) else data
    return data if type(data) is dict else None


def is_usable_id(value: object) -> bool:
    """Whether ``value`` is an id as an answer's reader accepts it unconverted: a JSON
    integer (never a bool) in 1..2**63-1."""
    return type(value) is int and 1 <= value <= MAX_ID


def optional_str(value: object) -> bool:
    """Whether ``value`` reads unchanged into a ``str | None`` field."""
    return value is None or type(value) is str


def read_model(
    response: ApiResponse,
    into: type[T],
    *,
    wrapper: str | None = None,
    local_id: str | None = None,
    missing: Mapping[str, object] | None = None,
) -> T:
    """Structure one object from the answer, tolerating a ``{wrapper: {...}}`` envelope.

    ``missing`` gives values for keys the answer leaves out or sets to ``null``.

    Raises:
        UnexpectedResponseError: the answer is not such an object (``ResponseTooLargeError``
            when it was too large to read); ``local_id`` is attached to the error.
    """
    data = response.data
    if wrapper is not None:
        inner = unwrap(data, wrapper)
        data = inner if isinstance(inner, dict) else data
    if not isinstance(data, dict):
        raise unreadable(response, f"a JSON object ({into.__name__})", local_id=local_id)
    is_response = issubclass(into, ResponseModel)
    if is_response or missing:
        data = {**data}  # one copy; the answer's own dict stays as it came
        if is_response:
            data["request_id"] = response.request_id
        if missing:
            for key, value in missing.items():
                if data.get(key) is None:
                    data[key] = value
    if not response.readable:
        # Filled in from what the caller knew; if that is not enough, say why.
        try:
            return structure(data, into, status=response.status, request_id=response.request_id)
        except UnexpectedResponseError as exc:
            expected = f"a JSON object ({into.__name__})"
            raise unreadable(response, expected, local_id=local_id) from exc
    return structure(
        data, into, status=response.status, request_id=response.request_id, local_id=local_id
    )


def read_list(
    response: ApiResponse, into: type[T], *, wrappers: tuple[str, ...] = ()
) -> ResponseList[T]:
    """Structure a list from a bare array or an array wrapped under one of ``wrappers``.

    Raises:
        UnexpectedResponseError: anything else, an empty body included (an answer that
            cannot be read is never taken for an empty list).
    """
    data = unwrap(response.data, *wrappers, "data") if response.readable else None
    if not isinstance(data, list):
        raise unreadable(response, f"a JSON array of {into.__name__}")
    items = structure(data, list[into], status=response.status, request_id=response.request_id)  # type: ignore[valid-type]
    return ResponseList(items, request_id=response.request_id)


class Resource:
    """Base of the service classes reached as client attributes (``hm.inboxes``...)."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
