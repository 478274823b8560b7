"""Validators for request models, and lenient reading for response models.

Each validator has the attrs signature ``(instance, attribute, value)`` and raises
:class:`~heymarket_async.errors.RequestValidationError` naming the field, so an invalid
request model cannot be constructed (style rule 7). ``normalize_phone`` is the public helper
that turns what people type into the API's phone format. ``read_leniently`` registers the
structure hook that lets response models read ``null`` like an absent key.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import attrs
from cattrs.gen import make_dict_structure_fn

from ._converter import MAX_ID, converter, parse_timestamp
from .errors import RequestValidationError

__all__ = [
    "EMAIL_RE",
    "LOCAL_ID_RE",
    "MAX_ID",
    "MAX_JSON_DEPTH",
    "PHONE_RE",
    "UUID_RE",
    "as_tuple",
    "aware_datetime",
    "boolean",
    "check_aware_datetime",
    "check_exactly_one",
    "check_group",
    "check_json_value",
    "check_phone",
    "check_positive_int",
    "check_text",
    "check_uuid",
    "email_address",
    "has_lone_surrogate",
    "http_url",
    "int_tuple",
    "json_value",
    "local_id",
    "nested",
    "nested_tuple",
    "optional_text",
    "GENERATED_LOCAL_ID_PREFIX",
    "is_generated_local_id",
    "is_phone_digits",
    "new_local_id",
    "non_empty_text",
    "normalize_phone",
    "optional_int_tuple",
    "phone",
    "phone_tuple",
    "positive_int",
    "positive_int_tuple",
    "read_leniently",
    "show",
    "str_tuple",
]

# §1.1: E.164 digits without the leading "+": a country code (no leading 0) and up to
# 15 digits in all. The lower bound of 8 digits keeps short codes and typos out.
PHONE_RE: Final = re.compile(r"[1-9][0-9]{7,14}")


def is_phone_digits(value: str) -> bool:
    """Whether ``value`` matches :data:`PHONE_RE` whole (8-15 ASCII digits, no leading 0),
    tested without the regex engine: every send checks its numbers with it."""
    return value.isascii() and value.isdigit() and 8 <= len(value) <= 15 and value[0] != "0"


# §4 documents no length or charset for local_id; this SDK keeps it to a conservative,
# URL- and log-safe alphabet (a uuid4 hex, "april-2026:15105553344" and the like).
LOCAL_ID_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A pragmatic address check (local part, "@", a dotted domain of DNS labels), not RFC 5322.
EMAIL_RE: Final = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
# RFC 9562 text form, any version; braces, URNs and bare hex are not what the API shows.
UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# MAX_ID (from _converter): the largest id or JSON integer sent is the largest one read.
MAX_JSON_DEPTH: Final = 32
"""How deeply free-form JSON values (custom fields, template objects) may nest."""
_MIN_JSON_INT: Final = -(2**63)
# A lone surrogate cannot be encoded as UTF-8, so it can never be sent.
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_COUNTRY_CODE_RE: Final = re.compile(r"[1-9][0-9]{0,2}")
_PHONE_PUNCTUATION_RE: Final = re.compile(r"[\s\-.()/]+")
_NANP_NATIONAL_DIGITS: Final = 10


def _fail(attribute: attrs.Attribute[Any], reason: str) -> RequestValidationError:
    return RequestValidationError(attribute.name, reason)


GENERATED_LOCAL_ID_PREFIX: Final = "hm-"


# Generated ids are made in batches: one urandom call and a few bulk byte operations serve
# 256 ids (a urandom system call per id was the dearest step of building a send).
_LOCAL_ID_BATCH: Final = 256
_UUID4_VERSION: Final = bytes((byte & 0x0F) | 0x40 for byte in range(256))  # 0100xxxx
_UUID4_VARIANT: Final = bytes((byte & 0x3F) | 0x80 for byte in range(256))  # 10xxxxxx
_spare_local_ids: Final[list[str]] = []
# A forked child must not hand out the ids its parent keeps: it draws its own. (Without
# os.register_at_fork, e.g. on Windows, there is no fork either.)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_spare_local_ids.clear)


def _local_id_batch() -> list[str]:
    """Fresh generated ids: each is 16 random bytes made a uuid4 (byte 6 holds the version,
    byte 8 the variant), as ``hm-`` and 32 lowercase hex digits."""
    raw = bytearray(os.urandom(16 * _LOCAL_ID_BATCH))
    raw[6::16] = raw[6::16].translate(_UUID4_VERSION)
    raw[8::16] = raw[8::16].translate(_UUID4_VARIANT)
    spaced = raw.hex(" ", 16)  # 32 hex digits per id, space-separated
    prefixed = GENERATED_LOCAL_ID_PREFIX + spaced.replace(" ", " " + GENERATED_LOCAL_ID_PREFIX)
    return prefixed.split(" ")


def new_local_id() -> str:
    """A fresh ``local_id`` (``hm-`` + uuid4 hex), made once per logical request (§4).

    The prefix lets the bulk sender tell a generated id (new in every run) from one the
    caller keeps, which a resumable job needs.
    """
    try:
        return _spare_local_ids.pop()  # atomic: no two callers (threads) get the same id
    except IndexError:
        fresh = _local_id_batch()
        local_id = fresh.pop()
        _spare_local_ids.extend(fresh)
        return local_id


def is_generated_local_id(value: str) -> bool:
    """Whether ``value`` came from :func:`new_local_id` (and so differs in every run)."""
    return value.startswith(GENERATED_LOCAL_ID_PREFIX) and len(value) == 35


def normalize_phone(text: str, *, default_country: str = "1") -> str:
    """Turn a phone number as people write it into the API's format (E.164 digits, no ``+``).

    Spaces, hyphens, dots, slashes and parentheses are dropped. A number starting with
    ``+`` or ``00`` (``011`` in North America) is international and kept as dialled. Any
    other number is national to ``default_country``: for ``"1"`` (North America) ten digits
    get a ``1`` in front and eleven digits must already start with ``1``; for other
    countries one leading trunk ``0`` is dropped and the country code is put in front (so
    write a foreign number with ``+``).

    >>> normalize_phone("+1 (510) 555-3344")
    '15105553344'
    >>> normalize_phone("510-555-3344")
    '15105553344'
    >>> normalize_phone("07700 900123", default_country="44")
    '447700900123'

    Args:
        text: the number as entered.
        default_country: the country calling code (digits only) for national numbers.

    Returns:
        The number as E.164 digits without ``+``, e.g. ``"15105553344"``.

    Raises:
        RequestValidationError: ``text`` is not a recognisable phone number (field
            ``phone_number``), or ``default_country`` is not a calling code.
    """
    if not _is_country_code(default_country):
        raise RequestValidationError(
            "default_country",
            f"must be a country calling code such as '1' or '44', got {show(default_country)}",
        )
    _check_str("phone_number", text)
    compact = _PHONE_PUNCTUATION_RE.sub("", text)
    if compact.startswith("+"):
        digits = compact[1:]
    elif default_country == "1" and compact.startswith("011"):
        digits = compact[3:]  # the North American international call prefix
    elif compact.startswith("00"):
        digits = compact[2:]
    elif not compact.isascii() or not compact.isdigit():
        digits = compact  # rejected below
    elif default_country == "1":
        if len(compact) == _NANP_NATIONAL_DIGITS:
            digits = "1" + compact
        elif len(compact) == _NANP_NATIONAL_DIGITS + 1 and compact.startswith("1"):
            digits = compact
        else:
            digits = ""  # rejected below
    else:
        digits = default_country + compact.removeprefix("0")
    valid = is_phone_digits(digits)
    # North American numbers are 1 + ten digits, and no area code starts with 0 or 1.
    if valid and digits.startswith("1"):
        valid = len(digits) == _NANP_NATIONAL_DIGITS + 1 and digits[1] not in "01"
    if not valid:
        raise RequestValidationError(
            "phone_number",
            f"{text!r} is not a phone number this SDK can read; write it as E.164 digits "
            f"(e.g. '15105553344') or with a '+' and country code",
        )
    return digits


def _is_country_code(value: object) -> bool:
    return isinstance(value, str) and _COUNTRY_CODE_RE.fullmatch(value) is not None


def _check_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise RequestValidationError(name, f"must be a string, got {type(value).__name__}")


def check_positive_int(name: str, value: object) -> None:
    """Raise unless ``value`` is an ``int`` from 1 to :data:`MAX_ID` (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RequestValidationError(name, f"must be a positive integer, got {show(value)}")
    if value > MAX_ID:
        raise RequestValidationError(name, "must be at most 2**63 - 1 (no API id is larger)")


def show(value: object) -> str:
    # repr() of a 5,000-digit int raises ValueError; a huge one is named by its size instead.
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (e.g. ``"\\ud800"``), which UTF-8 cannot encode."""
    return _SURROGATE_RE.search(text) is not None


def check_text(name: str, value: object) -> None:
    """Raise unless ``value`` is a string that can be sent (UTF-8 encodable)."""
    _check_str(name, value)
    assert isinstance(value, str)
    if has_lone_surrogate(value):
        raise RequestValidationError(
            name, "holds a lone surrogate (e.g. '\\ud800'), which is not text and cannot be sent"
        )


def check_uuid(name: str, value: object) -> None:
    """Raise unless ``value`` is a UUID in its text form (``8-4-4-4-12`` hex digits)."""
    if not isinstance(value, str) or not (value.isascii() and UUID_RE.fullmatch(value)):
        raise RequestValidationError(
            name,
            f"must be a UUID such as 'dc3deb9b-940a-444d-9d0e-8e3087a160e9', got {show(value)}",
        )


def check_phone(name: str, value: object) -> None:
    """Raise unless ``value`` is E.164 digits without ``+`` (the API's phone format, §1.1)."""
    _check_str(name, value)
    assert isinstance(value, str)
    if not is_phone_digits(value):
        raise RequestValidationError(
            name,
            f"{show(value)} is not E.164 digits without '+' (e.g. '15105553344'); "
            f"convert it with heymarket_async.normalize_phone()",
        )


def phone(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: one phone number in the API's format."""
    check_phone(attribute.name, value)


def phone_tuple(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: a tuple of phone numbers in the API's format."""
    for index, item in enumerate(_as_tuple(attribute, value)):
        check_phone(f"{attribute.name}[{index}]", item)


def positive_int(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: an id, i.e. an ``int`` above zero (``bool`` is refused)."""
    check_positive_int(attribute.name, value)


def positive_int_tuple(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: a tuple of positive integer ids."""
    for index, item in enumerate(_as_tuple(attribute, value)):
        check_positive_int(f"{attribute.name}[{index}]", item)


def non_empty_text(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: a string with at least one non-space character."""
    check_text(attribute.name, value)
    assert isinstance(value, str)
    if not value.strip():
        raise _fail(attribute, "must not be empty")


def optional_text(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: ``None`` or any string that can be sent (empty allowed)."""
    if value is not None:
        check_text(attribute.name, value)


def local_id(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: 1-128 characters of ``A-Z a-z 0-9 . _ : -``."""
    if not isinstance(value, str) or not (value.isascii() and LOCAL_ID_RE.fullmatch(value)):
        raise _fail(
            attribute,
            f"must be 1-128 characters of letters, digits, '.', '_', ':' or '-', got {show(value)}",
        )


def http_url(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: an absolute ``http``/``https`` URL without spaces."""
    if not isinstance(value, str):
        raise _fail(attribute, f"must be a URL string, got {type(value).__name__}")
    check_text(attribute.name, value)
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in value):
        raise _fail(
            attribute, f"must be an absolute, publicly reachable http(s) URL, got {show(value)}"
        )


def boolean(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: exactly ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise _fail(attribute, f"must be True or False, got {show(value)}")


def email_address(name: str, value: str) -> None:
    """Raise unless ``value`` looks like one email address."""
    if not (value.isascii() and EMAIL_RE.fullmatch(value)):
        raise RequestValidationError(name, f"{show(value)} is not a valid email address")


def check_aware_datetime(name: str, value: object) -> None:
    """Raise unless ``value`` is a timezone-aware ``datetime`` that exists in UTC too.

    ``datetime.max`` with a negative offset is aware but lies past year 9999 in UTC, so
    nothing can convert or compare it safely.
    """
    if not isinstance(value, datetime):
        raise RequestValidationError(name, f"must be a datetime, got {type(value).__name__}")
    try:
        offset = value.utcoffset()
        if offset is not None:
            value.astimezone(UTC)
    except (OverflowError, ValueError, TypeError) as exc:
        raise RequestValidationError(
            name, f"{value.isoformat()} is out of range once converted to UTC"
        ) from exc
    if offset is None:
        raise RequestValidationError(name, "must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")


def aware_datetime(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: a timezone-aware ``datetime`` (a naive one is ambiguous)."""
    check_aware_datetime(attribute.name, value)


def check_json_value(name: str, value: object, *, depth: int = 0) -> None:
    """Raise unless ``value`` is something JSON can carry exactly.

    Allowed: ``None``, ``bool``, integers within 64 bits, finite floats, text without lone
    surrogates, and lists/tuples and string-keyed mappings of those, at most
    :data:`MAX_JSON_DEPTH` levels deep. NaN and infinities are not JSON, and a server would
    refuse or misread them.
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not _MIN_JSON_INT <= value <= MAX_ID:
            raise RequestValidationError(
                name, f"{show(value)} does not fit in 64 bits; send it as text"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RequestValidationError(
                name, f"must be a finite number, got {value!r} (NaN and infinity are not JSON)"
            )
        return
    if isinstance(value, str):
        check_text(name, value)
        return
    if depth >= MAX_JSON_DEPTH:
        raise RequestValidationError(name, f"is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_value(f"{name}[{index}]", item, depth=depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise RequestValidationError(
                    name, f"keys must be strings, got {type(key).__name__} {show(key)}"
                )
            check_text(f"{name}[{key!r}]", key)
            check_json_value(f"{name}[{key!r}]", item, depth=depth + 1)
        return
    raise RequestValidationError(
        name,
        f"must be a JSON value (text, number, true/false, null, list or mapping), "
        f"got {type(value).__name__}",
    )


def json_value(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator: see :func:`check_json_value`."""
    check_json_value(attribute.name, value)


def _as_tuple(attribute: attrs.Attribute[Any], value: object) -> tuple[object, ...]:
    if not isinstance(value, tuple):
        got = "None" if value is None else f"a single {type(value).__name__}"
        raise _fail(attribute, f"must be a list, got {got}")
    return value


def _is_list_like(value: object) -> bool:
    # A bare string would split into characters and a mapping into its keys: almost always
    # a mistake, so neither counts as a list.
    return isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray | Mapping)


def as_tuple(name: str, value: object) -> tuple[Any, ...]:
    """``value`` as a tuple when it is a list-like iterable, else raise.

    Raises:
        RequestValidationError: ``value`` is ``None``, a string, a mapping or not iterable.
    """
    if isinstance(value, tuple):
        return value
    if not _is_list_like(value):
        got = "None" if value is None else f"a single {type(value).__name__}"
        raise RequestValidationError(name, f"must be a list, got {got}")
    assert isinstance(value, Iterable)
    return tuple(value)


# Converters: lists and other iterables become tuples (models are immutable). Anything that
# is not list-like (None, a bare string, a number) is left as it is, so the validator
# rejects it by name instead of a TypeError or a string split into characters.


def _lenient_tuple(value: Any) -> Any:
    if type(value) is tuple:  # the common case, decided without the ABC check below
        return value
    return tuple(value) if _is_list_like(value) and not isinstance(value, tuple) else value


def str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """attrs converter: any iterable of strings to a tuple."""
    return _lenient_tuple(value)  # type: ignore[no-any-return]


def int_tuple(value: Iterable[int]) -> tuple[int, ...]:
    """attrs converter: any iterable of ids to a tuple."""
    return _lenient_tuple(value)  # type: ignore[no-any-return]


def optional_int_tuple(value: Iterable[int] | None) -> tuple[int, ...] | None:
    """attrs converter: ``None`` stays ``None`` (unset), an iterable becomes a tuple."""
    return None if value is None else int_tuple(value)


# Nested request objects: users copy JSON from the API reference, so wherever a request
# model nests another, a plain mapping with the documented fields is accepted too and
# validated exactly as the model would be.

M = TypeVar("M")


def nested(cls: type[M], name: str, value: object) -> M:
    """``value`` as a ``cls``: a mapping of its fields is turned into one, errors named.

    Anything else is returned unchanged, for the field's validator to judge.

    Raises:
        RequestValidationError: a key that is not a field of ``cls`` (named), or a value
            ``cls`` refuses (the field is named under ``name``, e.g. ``content.text``).
    """
    if isinstance(value, cls) or not isinstance(value, Mapping):
        return value  # type: ignore[return-value]
    init = [field for field in attrs.fields(cls) if field.init]  # type: ignore[arg-type]
    fields = [field.alias for field in init]
    for key in value:
        if key not in fields:
            raise RequestValidationError(
                name,
                f"unknown field {show(key)}; {cls.__name__} takes {', '.join(fields)}",
            )
    missing = [f.alias for f in init if f.default is attrs.NOTHING and f.alias not in value]
    if missing:
        raise RequestValidationError(
            name, f"missing field {', '.join(repr(key) for key in missing)}"
        )
    try:
        return cls(**value)
    except RequestValidationError as exc:
        # A model's own whole-object error may already carry the name it is nested under.
        field = f"{name}.{exc.field}" if exc.field and exc.field != name else name
        raise RequestValidationError(field, exc.reason) from exc


def nested_tuple(cls: type[M], name: str, value: object) -> tuple[M, ...]:
    """A list of ``cls`` or mappings as a tuple of ``cls`` (see :func:`nested`); anything
    that is not list-like is returned unchanged, for the validator to refuse."""
    if not _is_list_like(value):
        return value  # type: ignore[return-value]
    assert isinstance(value, Iterable)
    return tuple(nested(cls, f"{name}[{index}]", item) for index, item in enumerate(value))


# Response leniency: new or missing server fields must never break users (style rule 8).


def _optional_timestamp(value: object, _type: object) -> datetime | None:
    # An empty string is how some backends say "no time" (e.g. an unset snooze_till).
    if value is None or value == "":
        return None
    return parse_timestamp(value)


converter.register_structure_hook(datetime | None, _optional_timestamp)


def read_leniently(
    cls: type[Any], *, prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> None:
    """Read ``cls`` with ``null`` values treated as absent keys, so defaults apply.

    Register nested models before the models that contain them: the hook for ``cls`` is
    generated now, with the hooks its fields have at this moment.

    Args:
        cls: an attrs response model.
        prepare: reshapes the object first (e.g. fills a field from an alternative key).
    """
    base = make_dict_structure_fn(cls, converter)

    def structure(data: object, _type: object) -> Any:
        if isinstance(data, Mapping):
            # Copied only when there is a null to drop (JSON values compare unequal to None).
            if None in data.values():
                data = {key: value for key, value in data.items() if value is not None}
            if prepare is not None:
                data = prepare(data)  # type: ignore[arg-type]
        return base(data, cls)  # type: ignore[arg-type]

    converter.register_structure_hook(cls, structure)


def check_exactly_one(options: Iterable[tuple[str, object]], *, choices: str) -> None:
    """Raise unless exactly one of ``options`` is set (``None`` or empty means unset).

    Args:
        options: (field name, value) pairs.
        choices: how the error names the alternatives, e.g. ``"target or targets"``.
    """
    given = [name for name, value in options if value is not None and value != ()]
    if len(given) != 1:
        got = " and ".join(given) if given else "none"
        raise RequestValidationError(None, f"give exactly one {choices}; got {got}")


def check_group(numbers: tuple[str, ...], *, single: str) -> None:
    """A group conversation needs 2+ distinct numbers; ``single`` names the one-number field."""
    if len(numbers) < 2:
        raise RequestValidationError(
            "targets", f"a group needs at least 2 numbers; use {single} for one recipient"
        )
    if len(set(numbers)) != len(numbers):
        raise RequestValidationError("targets", "a number appears more than once")
