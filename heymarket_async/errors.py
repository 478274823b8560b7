"""Every exception the SDK raises.

::

    HeymarketError
    ├── ConfigurationError        (also ValueError) bad client options, raised at construction
    ├── ClientClosedError         (also RuntimeError) the client was used after it was closed
    ├── WrongEventLoopError       (also RuntimeError) a client used from a second event loop
    ├── RequestValidationError    (also ValueError) an invalid request, raised before the wire
    ├── TransportError            no HTTP answer; ``possibly_sent`` says if the body may have
    │   │                         reached the server
    │   ├── NetworkError          connect failure, reset, server disconnect
    │   ├── TransportTimeoutError (also TimeoutError) connect or read timeout
    │   └── RateLimiterUnavailableError  the shared rate limiter (Redis) could not be
    │                             reached in time; nothing was sent
    ├── APIError                  the server answered with an error status
    │   ├── BadRequestError       400 (the API's ``bad_data``)
    │   ├── AuthenticationError   401
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── ConflictError         409
    │   ├── RateLimitError        429, with ``retry_after`` in seconds when the server sent it
    │   │   └── PacingTimeoutError  the client's own limiter would wait past the time limit
    │   └── ServerError           5xx
    ├── UnexpectedResponseError   a 2xx answer the SDK could not read: the request WAS
    │   │                         accepted and took effect; do not resend it
    │   └── ResponseTooLargeError a 2xx answer larger than the client's ``max_response_size``
    ├── ReconciliationError       after an ambiguous failure, history could not tell whether
    │                             the send happened (it may have; it was not resent)
    └── BulkSendError             the bulk machinery itself failed (never a per-recipient outcome)

Errors carry evidence (status, code, message, request id) and never secrets: no request
headers, tokens or request bodies appear in their text or repr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BulkSendError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "HeymarketError",
    "NetworkError",
    "NotFoundError",
    "PacingTimeoutError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ReconciliationError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "TransportTimeoutError",
    "UnexpectedResponseError",
    "WrongEventLoopError",
]


class HeymarketError(Exception):
    """Root of every exception raised by ``heymarket_async``."""


class ConfigurationError(HeymarketError, ValueError):
    """A client option is invalid (raised when the client is constructed)."""


class ClientClosedError(HeymarketError, RuntimeError):
    """The client was used after ``aclose()`` or after its ``async with`` block ended.

    Attributes:
        possibly_sent: ``True`` when the close stopped a request whose earlier attempt may
            have reached the server (it failed ambiguously and was waiting to retry): the
            request may have taken effect, so do not resend it blindly.
    """

    def __init__(self, message: str, *, possibly_sent: bool = False) -> None:
        self.possibly_sent = possibly_sent
        super().__init__(message)


class RequestValidationError(HeymarketError, ValueError):
    """A request is invalid; nothing was sent.

    Attributes:
        field: the request field at fault (``None`` when the rule spans several fields).
        reason: what is wrong and, where possible, how to fix it.
    """

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class TransportError(HeymarketError):
    """No HTTP answer arrived.

    Attributes:
        possibly_sent: ``True`` when the request body may have reached the server (read
            timeout, reset, disconnect), ``False`` when it certainly did not (connect failure).
    """

    def __init__(self, message: str, *, possibly_sent: bool) -> None:
        self.possibly_sent = possibly_sent
        super().__init__(message)


class NetworkError(TransportError):
    """The connection failed, was reset, or the server hung up."""


class TransportTimeoutError(TransportError, TimeoutError):
    """Connecting or reading the answer took longer than the configured timeout."""


class RateLimiterUnavailableError(TransportError):
    """The shared rate limiter's store (Redis) did not answer within the call's time limit.

    Raised before anything is sent (``possibly_sent`` is ``False``): without a slot from the
    shared limiter the client does not send at all, rather than send unpaced.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, possibly_sent=False)


class APIError(HeymarketError):
    """The API answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: the API's machine-readable error code (e.g. ``bad_data``), if it sent one.
        message: the API's human message, or an excerpt of the body.
        request_id: the ``X-Request-Id`` response header; quote it to Heymarket support.
        headers: selected response headers (never request headers).
    """

    def __init__(
        self,
        *,
        status: int,
        message: str,
        code: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" {self.code}" if self.code else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"HTTP {self.status}{code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )


class BadRequestError(APIError):
    """400: the API rejected a field (``bad_data``); retrying unchanged will not help."""


class AuthenticationError(APIError):
    """401: missing, invalid or expired credentials."""


class PermissionDeniedError(APIError):
    """403: the credentials are valid but may not perform this action."""


class NotFoundError(APIError):
    """404: the object does not exist."""


class ConflictError(APIError):
    """409: the request conflicts with the current state."""


class RateLimitError(APIError):
    """429: over the API's rate limit (500 requests per minute).

    Attributes:
        retry_after: seconds to wait, from the ``Retry-After`` header, or ``None``.
    """

    def __init__(
        self,
        *,
        status: int = 429,
        message: str,
        code: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            status=status, message=message, code=code, request_id=request_id, headers=headers
        )


class ServerError(APIError):
    """5xx: a Heymarket-side (or proxy) failure; the request may or may not have taken effect."""


class UnexpectedResponseError(HeymarketError):
    """The server accepted the request (HTTP 2xx) but its answer could not be read.

    The request took effect: do not send it again. Raised only for 2xx answers (a body
    that is not JSON, the wrong shape, or too large); an error status is an :class:`APIError`.

    Attributes:
        status: the HTTP status code (always 2xx).
        request_id: the ``X-Request-Id`` response header.
        local_id: the ``local_id`` the accepted request carried, when it had one; look it
            up in the message history to learn the message's id.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None,
        local_id: str | None = None,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.local_id = local_id
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{message}{rid}")

    @property
    def accepted(self) -> bool:
        """Always ``True``: the server answered 2xx, so the request took effect."""
        return True


class ResponseTooLargeError(UnexpectedResponseError):
    """A 2xx answer was larger than the client's ``max_response_size`` and was not read.

    The request was accepted and took effect; only its answer is missing.
    """


class ReconciliationError(HeymarketError):
    """After an ambiguous failure, history could not show whether the send happened.

    The send may or may not have reached the recipient; it was not sent again. Look its
    ``local_id`` up later, or resend with the same ``local_id`` once you are sure.
    """


class BulkSendError(HeymarketError):
    """The bulk machinery itself failed (for example, the journal is unusable, or another
    run holds the job's lease).

    Attributes:
        inflight: the ``local_id``s this run claimed whose outcome the journal does not hold
            (unknown, or not recorded when the job stopped). Each stays in flight there and
            the next run looks it up in history before sending anything.
    """

    def __init__(self, message: str, *, inflight: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.inflight = tuple(inflight)


class PacingTimeoutError(RateLimitError):
    """The client's own rate limiter would hold the request past the call's time limit.

    Raised before anything is sent (``status`` is 429, ``request_id`` is ``None``); it is
    never retried into a further wait.

    Attributes:
        wait: seconds the request would at least have waited for a pacing slot.
    """

    def __init__(self, *, wait: float, allowed: float) -> None:
        self.wait = wait
        super().__init__(
            message=(
                f"the client's rate limiter would hold this request for at least {wait:.1f} s, "
                f"longer than the {max(allowed, 0.0):.1f} s its time limit leaves; nothing was sent"
            ),
            code="client_pacing",
            retry_after=wait,
        )


class WrongEventLoopError(HeymarketError, RuntimeError):
    """A client was used from an event loop other than the one it was first used in.

    A client's connection pool, locks and limiter belong to one event loop; create one
    client per loop.
    """
