from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from heymarket_async._protocol import (
    ApiRequest,
    ApiResponse,
    decipher_response,
    parse_retry_after,
    path,
)
from heymarket_async.errors import (
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

RID = {"X-Request-Id": "rid-123"}

NGINX_502 = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>"""


def test_object_body_is_decoded_with_request_id() -> None:
    """A 200 JSON object comes back decoded with the X-Request-Id."""
    response = decipher_response(200, RID, b'{"id": 5}')
    assert response.data == {"id": 5}
    assert response.request_id == "rid-123"
    assert response.status == 200


def test_array_body_is_decoded() -> None:
    """A 200 JSON array is returned as a list."""
    assert decipher_response(200, {}, b"[1, 2]").data == [1, 2]


def test_bare_json_string_is_decoded() -> None:
    """Action endpoints answer with a bare JSON string such as "ok"."""
    assert decipher_response(200, {}, b'"ok"').data == "ok"


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body_is_none(body: bytes) -> None:
    """An empty 2xx body decodes to None."""
    assert decipher_response(204, {}, body).data is None


def test_request_id_header_lookup_is_case_insensitive() -> None:
    """The request id is found whatever the header's case."""
    assert decipher_response(200, {"x-request-id": "abc"}, b"{}").request_id == "abc"


@pytest.mark.parametrize("wrap", [CIMultiDict, lambda h: CIMultiDictProxy(CIMultiDict(h))])
def test_request_id_in_multidicts_whatever_the_case_and_none_when_absent(
    wrap: Callable[[dict[str, str]], Mapping[str, str]],
) -> None:
    """aiohttp's headers: found in any case; an answer without one has no request id."""
    assert decipher_response(200, wrap({"X-REQUEST-ID": "abc"}), b"{}").request_id == "abc"
    assert decipher_response(200, wrap({"Content-Type": "x"}), b"{}").request_id is None


def test_non_json_success_is_accepted_but_unreadable() -> None:
    """A 2xx that is not JSON is an accepted answer: unreadable, its text excerpted."""
    response = decipher_response(200, RID, b"<html>hello</html>")
    assert response.readable is False
    assert response.truncated is False
    assert response.data == "hello"
    assert response.request_id == "rid-123"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, APIError),
    ],
)
def test_status_maps_to_error_class(status: int, cls: type[APIError]) -> None:
    """Each error status raises its own APIError subclass carrying status and request id."""
    with pytest.raises(cls) as info:
        decipher_response(status, RID, b'{"message": "nope"}')
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.request_id == "rid-123"
    assert info.value.message == "nope"


def test_error_code_and_message_fields() -> None:
    """The n8n-style {"error_code", "message"} body fills code and message."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, {}, b'{"error_code": "bad_data", "message": "phone_number: bad"}')
    assert info.value.code == "bad_data"
    assert info.value.message == "phone_number: bad"
    assert str(info.value) == "HTTP 400 bad_data: phone_number: bad"


def test_code_and_detail_fields() -> None:
    """A {"code", "detail"} body is read as code and message."""
    with pytest.raises(NotFoundError) as info:
        decipher_response(404, {}, b'{"code": "not_found", "detail": "no such list"}')
    assert (info.value.code, info.value.message) == ("not_found", "no such list")


def test_error_field_as_code() -> None:
    """An "error" string that looks like a code becomes the code."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, {}, b'{"error": "bad_data"}')
    assert info.value.code == "bad_data"
    assert info.value.message == "bad_data"


def test_error_field_as_message() -> None:
    """An "error" string of prose becomes the message."""
    with pytest.raises(PermissionDeniedError) as info:
        decipher_response(403, {}, b'{"error": "You are not allowed to do that"}')
    assert info.value.code is None
    assert info.value.message == "You are not allowed to do that"


def test_nested_error_object() -> None:
    """An {"error": {"code", "message"}} body is read through the nesting."""
    with pytest.raises(ConflictError) as info:
        decipher_response(409, {}, b'{"error": {"code": "dup", "message": "exists"}}')
    assert (info.value.code, info.value.message) == ("dup", "exists")


def test_error_body_as_json_string() -> None:
    """A bare JSON string error body becomes the message."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, {}, b'"invalid phone"')
    assert info.value.message == "invalid phone"


def test_plain_text_error_body() -> None:
    """A plain-text error body becomes the message."""
    with pytest.raises(ServerError) as info:
        decipher_response(500, {}, b"Internal Server Error")
    assert info.value.message == "Internal Server Error"


def test_html_502_page_does_not_crash() -> None:
    """An nginx HTML 502 page becomes a short readable message."""
    with pytest.raises(ServerError) as info:
        decipher_response(502, {"Content-Type": "text/html"}, NGINX_502)
    assert info.value.status == 502
    assert info.value.message == "502 Bad Gateway 502 Bad Gateway nginx"
    assert "<" not in info.value.message


def test_empty_error_body() -> None:
    """An empty error body still yields a message naming the status."""
    with pytest.raises(ServerError) as info:
        decipher_response(503, {}, b"")
    assert info.value.message == "HTTP 503 with an empty body"


def test_json_object_without_known_fields() -> None:
    """An error object with no known field falls back to the body text."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, {}, b'{"foo": 1}')
    assert info.value.message == '{"foo": 1}'


def test_undecodable_bytes_do_not_crash() -> None:
    """Invalid UTF-8 in an error body is replaced, not raised."""
    with pytest.raises(ServerError) as info:
        decipher_response(500, {}, b"\xff\xfe bad")
    assert "bad" in info.value.message


def test_long_error_body_is_truncated() -> None:
    """A huge error body is cut to a bounded excerpt."""
    with pytest.raises(ServerError) as info:
        decipher_response(500, {}, b"x" * 10_000)
    assert len(info.value.message) == 300
    assert info.value.message.endswith("...")


def test_rate_limit_error_carries_retry_after_seconds() -> None:
    """A 429 with Retry-After: 7 exposes retry_after == 7."""
    with pytest.raises(RateLimitError) as info:
        decipher_response(429, {"Retry-After": "7", **RID}, b"")
    assert info.value.retry_after == 7.0
    assert info.value.headers["retry-after"] == "7"


def test_rate_limit_error_without_retry_after() -> None:
    """A 429 without Retry-After has retry_after None."""
    with pytest.raises(RateLimitError) as info:
        decipher_response(429, {}, b'{"error_code": "rate_limited"}')
    assert info.value.retry_after is None
    assert info.value.code == "rate_limited"


def test_error_repr_has_evidence_only() -> None:
    """An APIError repr shows class, status, code, request id and message."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, RID, b'{"error_code": "bad_data", "message": "m"}')
    assert repr(info.value) == (
        "BadRequestError(status=400, code='bad_data', request_id='rid-123', message='m')"
    )


NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("nan", None),
        ("soon", None),
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),
        ("Mon, 23 Nov 2026 11:59:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After is read as seconds or an HTTP date, never negative."""
    assert parse_retry_after(value, now=NOW) == expected


def test_path_quotes_parameters() -> None:
    """Path parameters are URL-quoted, including slashes."""
    assert path("/v2/lists/{}", "a/b c") == "/v2/lists/a%2Fb%20c"
    assert path("/v1/schedule/{}", 42) == "/v1/schedule/42"


def test_path_rejects_empty_parameter() -> None:
    """An empty path parameter is a validation error."""
    with pytest.raises(RequestValidationError):
        path("/v2/lists/{}", "")


def test_replay_safety_defaults_by_method() -> None:
    """GET, PUT and DELETE default to replay-safe; POST does not."""
    assert ApiRequest(method="GET", path="/v1/team").replay_safe
    assert ApiRequest(method="PUT", path="/x").replay_safe
    assert ApiRequest(method="DELETE", path="/x").replay_safe
    assert not ApiRequest(method="POST", path="/x").replay_safe
    assert ApiRequest(method="POST", path="/x", replay_safe=True).replay_safe


def test_body_bytes_are_compact_json() -> None:
    """The body is compact UTF-8 JSON, or None when there is no body."""
    assert ApiRequest(method="POST", path="/x", json={"a": "é", "b": [1]}).body_bytes() == (
        '{"a":"é","b":[1]}'.encode()
    )
    assert ApiRequest(method="GET", path="/x").body_bytes() is None


def test_a_readable_answer_is_the_api_response_its_init_would_build() -> None:
    """The response filled through slot setters equals, and reprs as, the one built by
    ``ApiResponse(...)``."""
    response = decipher_response(200, RID, b'{"a": [1]}')
    built = ApiResponse(status=200, data={"a": [1]}, request_id="rid-123")
    assert (response, repr(response)) == (built, repr(built))
