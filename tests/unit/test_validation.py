from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heymarket_async import normalize_phone
from heymarket_async._validation import LOCAL_ID_RE, PHONE_RE, check_phone, email_address
from heymarket_async.errors import RequestValidationError

# NANP numbers: area code and exchange start with 2-9.
nanp_digits = st.builds(
    lambda area, exchange, line: f"{area}{exchange}{line}",
    st.from_regex(r"[2-9][0-9][0-9]", fullmatch=True),
    st.from_regex(r"[2-9][0-9][0-9]", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
)
separators = st.sampled_from(["", " ", "-", ".", " - ", "/"])


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("+1 (510) 555-3344", "1", "15105553344"),
        ("510-555-3344", "1", "15105553344"),
        ("(510) 555.3344", "1", "15105553344"),
        ("1-510-555-3344", "1", "15105553344"),
        ("15105553344", "1", "15105553344"),
        ("011 44 7700 900123", "1", "447700900123"),
        ("+44 7700 900123", "1", "447700900123"),
        ("0044 7700 900123", "1", "447700900123"),
        ("07700 900123", "44", "447700900123"),
        ("7700 900123", "44", "447700900123"),
    ],
)
def test_normalize_phone_reads_common_formats(text: str, country: str, expected: str) -> None:
    """Common ways of writing a number become E.164 digits without '+'."""
    assert normalize_phone(text, default_country=country) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "555-3344",
        "510-555-334",
        "25105553344",
        "+1 510 555 334",
        "010-555-3344",
        "510 555 3344 x12",
        "abc",
    ],
)
def test_normalize_phone_refuses_what_it_cannot_read(text: str) -> None:
    """Too short, too long, extensions and letters raise RequestValidationError for phone_number."""
    with pytest.raises(RequestValidationError) as info:
        normalize_phone(text)
    assert info.value.field == "phone_number"
    assert "E.164" in info.value.reason


@pytest.mark.parametrize("country", ["", "0", "1234", "+1", "x"])
def test_normalize_phone_refuses_a_bad_default_country(country: str) -> None:
    """A default_country that is not a calling code is named in the error."""
    with pytest.raises(RequestValidationError) as info:
        normalize_phone("5105553344", default_country=country)
    assert info.value.field == "default_country"


def test_normalize_phone_refuses_a_non_string() -> None:
    """An int (e.g. from a spreadsheet) is refused with a clear message."""
    with pytest.raises(RequestValidationError, match="must be a string"):
        normalize_phone(15105553344)  # type: ignore[arg-type]


@given(digits=nanp_digits, sep=separators, plus=st.booleans())
def test_normalize_phone_ignores_formatting(digits: str, sep: str, plus: bool) -> None:
    """However a North American number is punctuated, the result is 1 + its ten digits."""
    text = f"({digits[:3]}){sep}{digits[3:6]}{sep}{digits[6:]}"
    if plus:
        text = "+1 " + text
    assert normalize_phone(text) == "1" + digits


@given(text=st.text(alphabet="0123456789+-() .x", max_size=24))
def test_normalize_phone_returns_valid_digits_or_raises(text: str) -> None:
    """Any input yields a number the API accepts, or RequestValidationError and nothing else."""
    try:
        result = normalize_phone(text)
    except RequestValidationError:
        return
    assert PHONE_RE.fullmatch(result)
    assert normalize_phone("+" + result) == result


@given(value=st.text(alphabet="0123456789+ -", max_size=18))
def test_check_phone_accepts_exactly_the_api_format(value: str) -> None:
    """The phone validator accepts a string if and only if it is E.164 digits without '+'."""
    valid = re.fullmatch(r"[1-9][0-9]{7,14}", value) is not None
    if valid:
        check_phone("phone_number", value)
    else:
        with pytest.raises(RequestValidationError, match="normalize_phone"):
            check_phone("phone_number", value)


@given(value=st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True))
def test_check_phone_accepts_every_e164_number(value: str) -> None:
    """Every E.164 digit string passes the phone validator."""
    check_phone("phone_number", value)


@pytest.mark.parametrize("value", ["a@example.com", "first.last+tag@mail.example.co.uk"])
def test_email_address_accepts_addresses(value: str) -> None:
    """Ordinary addresses pass the email check."""
    email_address("targets[0]", value)


@pytest.mark.parametrize("value", ["", "a@", "@example.com", "a@example", "a b@example.com"])
def test_email_address_refuses_non_addresses(value: str) -> None:
    """Malformed addresses raise with the field name."""
    with pytest.raises(RequestValidationError) as info:
        email_address("targets[0]", value)
    assert info.value.field == "targets[0]"


def test_local_id_pattern_bounds() -> None:
    """local_id allows 1-128 URL-safe characters and nothing else."""
    assert LOCAL_ID_RE.fullmatch("april-2026:15105553344")
    assert LOCAL_ID_RE.fullmatch("a" * 128)
    assert not LOCAL_ID_RE.fullmatch("a" * 129)
    assert not LOCAL_ID_RE.fullmatch("has space")
    assert not LOCAL_ID_RE.fullmatch("")
