"""What the pure protocol layer makes of bodies no well-behaved server sends."""

from __future__ import annotations

import asyncio

import pytest

from heymarket_async._protocol import (
    EXCERPT_WINDOW,
    REDACTED,
    decipher_response,
    redact,
    strip_tags,
    text_excerpt,
)
from heymarket_async.errors import APIError, BadRequestError, ServerError

RID = {"X-Request-Id": "rid-9"}
API_KEY = "hm-live-key-0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpZCJ9.c2lnbmF0dXJl"
SECRETS = (API_KEY, JWT)

# Shapes that made the former backtracking regexes quadratic: many unclosed "<", many
# unclosed <script>, and a tag-heavy page with one huge unclosed element at the end.
ADVERSARIAL = [
    pytest.param(b"<" * 320_000, id="320KB-of-lt"),
    pytest.param(b"<script>" * 40_000 + b">", id="320KB-unclosed-scripts"),
    pytest.param(b"<a " * 110_000 + b">", id="320KB-one-long-tag"),
    pytest.param((b"<style" + b"x" * 10 + b"<") * 500_000, id="8MB-unclosed-styles"),
    pytest.param(b"<p>" + b"<" * 5_000_000 + b">", id="5MB-lt-then-gt"),
]


@pytest.mark.parametrize("body", ADVERSARIAL)
async def test_excerpt_of_adversarial_html_is_not_pathological(body: bytes) -> None:
    """Excerpting a huge `<`-heavy body finishes well within a generous bound."""
    excerpt = await asyncio.wait_for(asyncio.to_thread(text_excerpt, body), timeout=5)
    assert len(excerpt) <= 300


@pytest.mark.parametrize("body", ADVERSARIAL)
async def test_error_status_with_adversarial_html_is_not_pathological(body: bytes) -> None:
    """A 502 whose body is a hostile HTML page becomes a ServerError within the bound."""

    def decipher() -> None:
        decipher_response(502, {"Content-Type": "text/html"}, body)

    with pytest.raises(ServerError):
        await asyncio.wait_for(asyncio.to_thread(decipher), timeout=5)


def test_excerpt_reads_only_the_start_of_the_body() -> None:
    """Text beyond the excerpt window never reaches the excerpt."""
    body = b" " * EXCERPT_WINDOW + b"tail text"
    assert text_excerpt(body) == ""


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><script>var x = '<b>';</script>b", " a  b"),
        ("<STYLE type='x'>p{}</STYLE>c", " c"),
        ("<scripts>kept</scripts>", " kept "),
        ("a < b and c > d", "a   d"),
        ("no tags at all", "no tags at all"),
        ("<script>never closed", " never closed"),
        ("x <unclosed", "x <unclosed"),
    ],
)
def test_strip_tags(html: str, text: str) -> None:
    """Tags go, script/style contents go, text outside tags stays."""
    assert strip_tags(html) == text


def test_redact_replaces_every_occurrence_of_each_secret() -> None:
    """Each known secret becomes [redacted], however often it appears."""
    text = f"Authorization: Bearer {JWT}; key={API_KEY}; again {API_KEY}"
    assert redact(text, SECRETS) == (
        f"Authorization: Bearer {REDACTED}; key={REDACTED}; again {REDACTED}"
    )
    assert redact("nothing secret", ("", *SECRETS)) == "nothing secret"


@pytest.mark.parametrize(
    "body",
    [
        f'{{"message": "denied for Bearer {JWT}"}}'.encode(),
        f'{{"error": "bad key {API_KEY}"}}'.encode(),
        f"<html><body>echo: Authorization: Bearer {JWT} x-api-key {API_KEY}</body></html>".encode(),
        f'"{API_KEY}"'.encode(),
    ],
)
def test_error_text_never_carries_a_known_secret(body: bytes) -> None:
    """An error body that echoes the key or the JWT yields an APIError without them."""
    with pytest.raises(APIError) as info:
        decipher_response(401, RID, body, secrets=SECRETS)
    error = info.value
    for secret in SECRETS:
        for text in (error.message, str(error), repr(error)):
            assert secret not in text
    assert REDACTED in error.message


def test_error_code_request_id_and_headers_are_redacted_too() -> None:
    """A secret echoed as the code, the request id or a kept header does not survive."""
    headers = {"X-Request-Id": f"id-{API_KEY}", "Content-Type": f"text/{JWT}"}
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, headers, f'{{"code": "{API_KEY}"}}'.encode(), secrets=SECRETS)
    error = info.value
    assert error.request_id == f"id-{REDACTED}"
    assert error.code == REDACTED
    assert all(secret not in value for value in error.headers.values() for secret in SECRETS)


@pytest.mark.parametrize("cut_by_transport", [False, True])
def test_a_secret_cut_by_the_excerpt_window_is_hidden(cut_by_transport: bool) -> None:
    """A secret that straddles the end of the excerpt window leaves no visible prefix."""
    body = b"<b>" * ((EXCERPT_WINDOW - 40) // 3) + b" key " + API_KEY.encode() * 3
    if cut_by_transport:  # an oversized answer arrives as its first 64 KiB
        body = body[:EXCERPT_WINDOW]
    excerpt = text_excerpt(body, SECRETS)
    assert excerpt == f"key {REDACTED}{REDACTED}"
    assert API_KEY[:5] not in excerpt


def test_a_huge_json_error_message_is_bounded() -> None:
    """A megabyte-long JSON message is cut; the error stays printable."""
    body = b'{"message": "' + b"m" * 1_000_000 + b'"}'
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, {}, body)
    assert len(info.value.message) <= 2000
    assert info.value.message.endswith("...")


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [
        (b"ok", "ok"),
        (b"  success\r\n", "success"),
        (b"<html><body><p>OK</p></body></html>", "OK"),
        (b"[" * 100_000, "[" * 297 + "..."),
        (b'{"a": ' * 100_000, ('{"a": ' * 60)[:297] + "..."),
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b'{"id": ' + b"9" * 5000 + b"}", ('{"id": ' + "9" * 400)[:297] + "..."),
    ],
)
def test_unreadable_2xx_is_accepted_with_an_excerpt(body: bytes, excerpt: str) -> None:
    """A 2xx that is not JSON (or too deep, or a number Python refuses) never raises."""
    response = decipher_response(201, RID, body)
    assert (response.status, response.readable, response.truncated) == (201, False, False)
    assert response.data == excerpt
    assert response.request_id == "rid-9"


def test_unreadable_2xx_excerpt_is_redacted() -> None:
    """The excerpt a reader may show of an unreadable 2xx holds no known secret."""
    response = decipher_response(200, {}, f"echo {API_KEY}".encode(), secrets=SECRETS)
    assert response.data == f"echo {REDACTED}"


def test_quoted_and_unquoted_ok_arrive_alike() -> None:
    """A bare ok reaches the readers as "ok" whether or not it was a JSON string."""
    quoted = decipher_response(200, {}, b'"ok"')
    unquoted = decipher_response(200, {"Content-Type": "text/html"}, b"ok\n")
    assert quoted.data == unquoted.data == "ok"
    assert (quoted.readable, unquoted.readable) == (True, False)


def test_truncated_2xx_is_accepted_without_data() -> None:
    """A 2xx cut at max_response_size is accepted, unreadable, truncated, data None."""
    response = decipher_response(200, RID, b'{"id": 1, "text": "', truncated=True)
    assert (response.readable, response.truncated, response.data) == (False, True, None)
    assert response.request_id == "rid-9"


def test_truncated_error_is_built_from_its_excerpt() -> None:
    """An error status whose body was cut still raises its APIError, from the excerpt."""
    with pytest.raises(ServerError) as info:
        decipher_response(503, {}, b"<h1>Service down</h1>" + b"x" * 100, truncated=True)
    assert info.value.message.startswith("Service down x")


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"error": ' * 50_000])
def test_error_body_nested_too_deep_is_excerpted(body: bytes) -> None:
    """An error body too deeply nested for json.loads still yields its APIError."""
    with pytest.raises(BadRequestError) as info:
        decipher_response(400, RID, body)
    assert info.value.message.endswith("...")
    assert info.value.request_id == "rid-9"
