"""What every resource module shares: the requester protocol, response helpers, base model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import attrs

from .._config import USE_CLIENT_DEFAULT, Timeouts, UseClientDefault
from .._converter import structure
from .._protocol import ApiRequest, ApiResponse
from .._retry import Reconcile
from ..errors import UnexpectedResponseError

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


def read_model(response: ApiResponse, into: type[T], *, wrapper: str | None = None) -> T:
    """Structure one object from the answer, tolerating a ``{wrapper: {...}}`` envelope."""
    data = response.data
    if wrapper is not None:
        inner = unwrap(data, wrapper)
        data = inner if isinstance(inner, dict) else data
    if not isinstance(data, dict):
        raise UnexpectedResponseError(
            f"expected a JSON object for {into.__name__}, got {type(data).__name__}",
            status=response.status,
            request_id=response.request_id,
        )
    if issubclass(into, ResponseModel):
        data = {**data, "request_id": response.request_id}
    return structure(data, into, status=response.status, request_id=response.request_id)


def read_list(
    response: ApiResponse, into: type[T], *, wrappers: tuple[str, ...] = ()
) -> ResponseList[T]:
    """Structure a list from a bare array or an array wrapped under one of ``wrappers``."""
    data = unwrap(response.data, *wrappers, "data") if response.data is not None else []
    if not isinstance(data, list):
        raise UnexpectedResponseError(
            f"expected a JSON array of {into.__name__}, got {type(data).__name__}",
            status=response.status,
            request_id=response.request_id,
        )
    items = structure(data, list[into], status=response.status, request_id=response.request_id)  # type: ignore[valid-type]
    return ResponseList(items, request_id=response.request_id)


class Resource:
    """Base of the service classes reached as client attributes (``hm.inboxes``...)."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
