"""A secret with ``<`` or ``>`` in it is redacted from an HTML excerpt, not half-stripped."""

from __future__ import annotations

import pytest

from heymarket_async._protocol import text_excerpt

SECRETS = ["Ab1<Cd2>Ef3Gh4Ij5", "k3y>with<marks", "plain-Secret-9876"]


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_with_markup_characters_is_redacted_from_html(secret: str) -> None:
    body = f"<html><body><p>bad token {secret} given</p></body></html>".encode()
    excerpt = text_excerpt(body, secrets=[secret])
    assert "[redacted]" in excerpt
    for piece in (secret[:4], secret[-4:]):
        assert piece not in excerpt


def test_an_html_escaped_secret_is_redacted_too() -> None:
    secret = "Ab1<Cd2>Ef3Gh4Ij5"
    body = b"<html><p>token Ab1&lt;Cd2&gt;Ef3Gh4Ij5</p></html>"
    excerpt = text_excerpt(body, secrets=[secret])
    assert "Ab1" not in excerpt
    assert "Ij5" not in excerpt
