"""The JSON codec gives exactly what the standard library gives, or raises what it raises."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import math
import sys
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from heymarket_async import _json
from heymarket_async._protocol import ApiRequest, decipher_response
from heymarket_async.errors import RequestValidationError

_STDLIB_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# Both called through one function, as the codec's own: the recursion limit counts frames.
def _stdlib_dumps(value: Any) -> bytes:
    return _STDLIB_ENCODER.encode(value).encode()


def _stdlib_loads(body: bytes) -> Any:
    return json.loads(body)


def _outcome(function: Callable[[Any], Any], argument: Any) -> tuple[str, Any]:
    """What a call gives: ("value", result) or ("raised", (exception class, message))."""
    try:
        return "value", function(argument)
    except (ValueError, TypeError, RecursionError) as exc:
        return "raised", (type(exc), str(exc))


def _identical(left: Any, right: Any) -> bool:
    """Equal with the same types all the way down, dict keys in the same order, floats bit
    for bit (NaN equals NaN, -0.0 differs from 0.0); iterative, for deep documents."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if type(a) is not type(b):
            return False
        if isinstance(a, float):
            if not (a.hex() == b.hex() or (math.isnan(a) and math.isnan(b))):
                return False
        elif isinstance(a, dict):
            if list(a) != list(b):
                return False
            pending.extend(zip(a.values(), b.values(), strict=True))
        elif isinstance(a, list):
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif a != b:
            return False
    return True


def _assert_loads_like_stdlib(body: bytes) -> None:
    ours, theirs = _outcome(_json.loads, body), _outcome(_stdlib_loads, body)
    assert ours[0] == theirs[0], (body, ours, theirs)
    if ours[0] == "raised":
        assert ours == theirs
    else:
        assert _identical(ours[1], theirs[1]), (body, ours, theirs)


def _assert_dumps_like_stdlib(value: Any) -> None:
    ours, theirs = _outcome(_json.dumps, value), _outcome(_stdlib_dumps, value)
    assert ours == theirs, (value, ours, theirs)


# --- strategies ---------------------------------------------------------------------------

_ODD_CHARS = st.one_of(
    st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates
    st.integers(0, 0x1F).map(chr),  # control characters
    st.sampled_from(['"', "\\", "/", "\x7f", "\u2028", "\u2029", "\ufeff", "\uffff", "😀"]),
)
_TEXT = st.text(st.one_of(st.characters(), _ODD_CHARS), max_size=12)
_INTS = st.one_of(
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, st.floats(), _TEXT)


def _json_like(keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(keys, children, max_size=5),
        ),
        max_leaves=25,
    )


class _Colour(enum.Enum):
    RED = 1


class _Level(enum.IntEnum):
    HIGH = 3


class _Mode(enum.StrEnum):
    FAST = "fast"


class _Labelled(enum.StrEnum):
    """A str enum whose ``value`` is not its text: the encoder writes the text."""

    def __new__(cls, text: str, label: str) -> _Labelled:
        member = str.__new__(cls, text)
        member._value_ = label
        return member

    SHORT = ("s", "a label")


class _Text(str):
    pass


class _Number(int):
    pass


class _Real(float):
    pass


class _Mapping(dict[str, Any]):
    pass


class _Sequence(list[Any]):
    pass


class _ReorderedItems(dict[str, Any]):
    """The encoder asks a dict subclass for its items(); orjson would read the dict."""

    def items(self) -> Any:
        return reversed(list(super().items()))


class _Pair(NamedTuple):
    left: int
    right: str


@dataclasses.dataclass
class _Record:
    x: int = 1


_ODD_OBJECTS = st.sampled_from(
    [
        _Colour.RED,
        _Level.HIGH,
        _Mode.FAST,
        _Labelled.SHORT,
        uuid.UUID(int=7),
        datetime.datetime(2026, 1, 2, 3, 4, 5),
        datetime.date(2026, 1, 2),
        datetime.time(3, 4),
        _Record(),
        decimal.Decimal("1.5"),
        b"bytes",
        {1, 2},
        orjson.Fragment(b"[1]"),
        _Text("text"),
        _Number(5),
        _Real(0.5),
        _Mapping(a=1),
        _Sequence([1]),
        _ReorderedItems(a=1, b=2),
        collections.OrderedDict(a=1),
        _Pair(1, "x"),
        (1, "tuple"),
        range(3),
    ]
)
_ANY_KEY = st.one_of(
    _TEXT,
    _INTS,
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from([_Mode.FAST, _Labelled.SHORT, _Text("k"), (1, 2), _Colour.RED]),
)
_ENCODABLE = st.recursive(
    st.one_of(_SCALARS, _ODD_OBJECTS),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(_ANY_KEY, children, max_size=5),
    ),
    max_leaves=25,
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    """Valid JSON in the spellings a server might use (stdlib's own decoder accepts them)."""
    value = draw(_json_like(_TEXT))
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2, "\t"])),
        separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])),
    )
    text = (
        draw(st.sampled_from(["", " ", "\n", "\t\r\n"]))
        + text
        + draw(st.sampled_from(["", " ", "\n", "\r\n \t"]))
    )
    codec = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"]))
    return text.encode(codec, "surrogatepass")


@st.composite
def _mutated_documents(draw: st.DrawFn) -> bytes:
    """A valid document with a few bytes inserted, deleted or replaced."""
    body = bytearray(draw(_documents()))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(body)))
        what = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(
            st.one_of(st.integers(0, 255), st.sampled_from(list(b'"\\[]{},:0123456789.eE-+ ')))
        )
        if what == "insert":
            body.insert(where, byte)
        elif where < len(body):
            if what == "delete":
                del body[where]
            else:
                body[where] = byte
    return bytes(body)


_NUMBER_LITERALS = st.from_regex(
    rb"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][-+]?[0-9]{1,4})?\Z", fullmatch=True
)


# --- loads: differential -------------------------------------------------------------------


@settings(max_examples=300)
@given(_documents())
def test_loads_matches_stdlib_on_valid_documents(body: bytes) -> None:
    """Any valid document, in any spelling the server might use, decodes as stdlib does."""
    _assert_loads_like_stdlib(body)


@settings(max_examples=300)
@given(_mutated_documents())
def test_loads_matches_stdlib_on_damaged_documents(body: bytes) -> None:
    """Damaged documents decode, or fail, as stdlib does."""
    _assert_loads_like_stdlib(body)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_loads_matches_stdlib_on_arbitrary_bytes(body: bytes) -> None:
    """Arbitrary bytes decode, or fail, as stdlib does."""
    _assert_loads_like_stdlib(body)


@settings(max_examples=300)
@given(_NUMBER_LITERALS, st.sampled_from([b"%s", b"[%s]", b'{"n":%s}', b"[1,%s,2]"]))
@example(b"1.00000000000000011102230246251565404236316680908203125", b"%s")  # halfway
@example(b"9007199254740993.0000000000000000001", b"%s")
@example(b"2.4703282292062327e-324", b"%s")  # half the smallest subnormal
@example(b"1.7976931348623158e308", b"%s")  # rounds to the largest finite double
def test_loads_reads_every_number_as_stdlib_does(literal: bytes, frame: bytes) -> None:
    """Integers stay exact ints; floats round as Python's float() rounds them."""
    _assert_loads_like_stdlib(frame % literal)


@settings(max_examples=50)
@given(st.integers(1, 1100), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")]))
@example(1000, (b"[", b"]"))  # between stdlib's limit (before 3.12) and orjson's
def test_loads_matches_stdlib_on_deep_nesting(depth: int, brackets: tuple[bytes, bytes]) -> None:
    """Nesting up to and beyond orjson's and stdlib's limits decodes, or fails, alike."""
    opening, closing = brackets
    _assert_loads_like_stdlib(opening * depth + b"0" + closing * depth)


@pytest.mark.parametrize(
    "body",
    [
        b"18446744073709551615",
        b"18446744073709551616",
        b"-9223372036854775808",
        b"-9223372036854775809",
        b"123456789012345678901234567890",
        b"1" * 4300,
        b"1" * 4301,
        b"1e400",
        b"-1e400",
        b"1E309",
        b"1e-400",
        b"-0",
        b"-0.0",
        b"-0e0",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"[NaN,1]",
        b'{"a":1,"b":2,"a":3}',
        b"\xef\xbb\xbf[1]",
        b"\xef\xbb\xbf\xef\xbb\xbf[1]",
        b'"\x01"',
        b'"\x1f"',
        b'"\x7f"',
        b'"\xff"',
        b'"\xed\xa0\x80"',
        b'"\xc0\x80"',
        b'"\xf4\x90\x80\x80"',
        b"1 \t\r\n",
        b"1\x0c",
        b"\xa01",
        b"1 x",
        b"[1] [2]",
        b"",
        b" ",
        b'"\\ud83d\\ude00"',
        b'"\\ud800"',
        b'"\\udc00\\ud800"',
        b'"\\ud800\\u0041"',
        b'{"\\ud800":1}',
        b"[1,]",
        b"01",
        b"1.",
        b".5",
        b"+1",
        b"/* comment */ 1",
        b"1\x00",
        b"\x001",
        b"1\x00\x00\x00",
        '{"é":[1]}'.encode("utf-16"),
        '{"é":[1]}'.encode("utf-16-be"),
        '{"é":[1]}'.encode("utf-32"),
        '{"é":[1]}'.encode("utf-32-le"),
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_loads_matches_stdlib_on_odd_inputs(body: bytes) -> None:
    """The inputs where orjson and stdlib part ways decode, or fail, as stdlib does."""
    _assert_loads_like_stdlib(body)


# --- loads: each difference, and the handling that hides it ---------------------------------


def test_integers_beyond_64_bits_stay_exact_ints() -> None:
    """orjson reads them as floats; they go to stdlib, which keeps them exact."""
    assert orjson.loads(b"[18446744073709551616]") == [1.8446744073709552e19]  # the difference
    value = _json.loads(b'{"id":18446744073709551617,"low":-9223372036854775809}')
    assert value == {"id": 2**64 + 1, "low": -(2**63) - 1}
    assert all(type(item) is int for item in value.values())


def test_19_digit_runs_that_are_not_integers_still_decode() -> None:
    """A long digit run in a string or a float only costs the fallback."""
    assert _json.loads(b'{"phone":"12345678901234567890","x":1234567890123456789.5}') == {
        "phone": "12345678901234567890",
        "x": 1234567890123456789.5,
    }


def test_literals_orjson_refuses_decode_as_stdlib_reads_them() -> None:
    """Out-of-range exponents, NaN and infinities, UTF-16, a BOM, lone surrogates."""
    assert _json.loads(b"[1e400,-1e400]") == [math.inf, -math.inf]
    assert math.isnan(_json.loads(b"NaN"))
    assert _json.loads(b"\xef\xbb\xbf{}") == {}
    assert _json.loads('["é"]'.encode("utf-16")) == ["é"]
    assert _json.loads(b"1\x00") == 1  # two bytes with a NUL: stdlib reads UTF-16-LE
    assert _json.loads(b'"\\udc00"') == "\udc00"
    assert _json.loads(b'"\xed\xa0\x80"') == "\ud800"  # stdlib decodes with surrogatepass
    assert _json.loads(b"1" * 400) == int("1" * 400)


def test_loads_raises_the_stdlib_exception_not_orjsons() -> None:
    """The error is stdlib's own (class and message), as the callers expect."""
    with pytest.raises(json.JSONDecodeError, match="Expecting value") as caught:
        _json.loads(b"[1,x]")
    assert type(caught.value) is json.JSONDecodeError
    with pytest.raises(UnicodeDecodeError):
        _json.loads(b'"\xff"')
    with pytest.raises(ValueError, match="integer string conversion"):
        _json.loads(b"1" * 4301)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="stdlib's parser has its own budget")
def test_nesting_stdlib_refuses_is_refused_though_orjson_reads_it() -> None:
    """Before 3.12 stdlib's parser shares the recursion budget: it refuses what orjson (1024
    levels) reads, and the codec must refuse it too."""
    deep = b"[" * 1000 + b"]" * 1000
    assert orjson.loads(deep) is not None  # the difference
    with pytest.raises(RecursionError):
        json.loads(deep)
    with pytest.raises(RecursionError):
        _json.loads(deep)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="stdlib's parser has its own budget")
def test_nesting_follows_a_lowered_recursion_limit() -> None:
    """A program that lowers the recursion limit sees stdlib's RecursionError earlier."""
    deep = b'{"a":' * 390 + b"1" + b"}" * 390
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        with pytest.raises(RecursionError):
            json.loads(deep)
        with pytest.raises(RecursionError):
            _json.loads(deep)
    finally:
        sys.setrecursionlimit(limit)
    assert _json.loads(deep) is not None


# --- dumps: differential -------------------------------------------------------------------


@settings(max_examples=300)
@given(_json_like(_TEXT))
def test_dumps_matches_stdlib_on_json_values(value: Any) -> None:
    """JSON-like values (all scalars, floats, NaN, big ints, any text) encode as stdlib."""
    _assert_dumps_like_stdlib(value)


@settings(max_examples=300)
@given(_ENCODABLE)
def test_dumps_matches_stdlib_on_any_value(value: Any) -> None:
    """Non-str keys, subclasses, enums, UUIDs, dates and such encode, or fail, as stdlib."""
    _assert_dumps_like_stdlib(value)


@settings(max_examples=50)
@given(st.integers(1, 1200), st.sampled_from([list, tuple, dict]))
def test_dumps_matches_stdlib_on_deep_nesting(depth: int, kind: type) -> None:
    """Nesting beyond the plain-value walk's depth and orjson's limit encodes alike."""
    value: Any = 0
    for _ in range(depth):
        value = {"a": value} if kind is dict else kind([value])
    _assert_dumps_like_stdlib(value)


# --- dumps: each difference, and the handling that hides it ---------------------------------


def test_floats_are_written_as_stdlib_writes_them() -> None:
    """orjson spells some exponents its own way; floats go to stdlib."""
    assert orjson.dumps([1e-07, 1e-05]) == b"[1e-7,0.00001]"  # the difference
    assert _json.dumps({"a": [1e-07, 1e-05, 0.5, 1e16]}) == b'{"a":[1e-07,1e-05,0.5,1e+16]}'


def test_nan_and_infinities_raise() -> None:
    """orjson writes them as null; stdlib (allow_nan=False) refuses them."""
    assert orjson.dumps([math.nan]) == b"[null]"  # the difference
    for bad in ([math.nan], {"a": {"b": math.inf}}, -math.inf):
        with pytest.raises(ValueError, match="Out of range float values"):
            _json.dumps(bad)


def test_enums_uuids_and_fragments_encode_as_stdlib_does() -> None:
    """orjson writes these natively; stdlib refuses them, and writes a str or int enum's own
    text or number (not its ``value``)."""
    assert orjson.dumps(_Colour.RED) == b"1"  # the differences
    assert orjson.dumps({"id": uuid.UUID(int=7)}).startswith(b'{"id":"00000000')
    assert orjson.dumps([orjson.Fragment(b"[1]")]) == b"[[1]]"
    for refused in (_Colour.RED, {"id": uuid.UUID(int=7)}, [orjson.Fragment(b"[1]")]):
        with pytest.raises(TypeError, match="is not JSON serializable"):
            _json.dumps(refused)
    assert _json.dumps({"mode": _Labelled.SHORT, "level": _Level.HIGH}) == (
        b'{"mode":"s","level":3}'
    )


def test_subclasses_dataclasses_and_dates_encode_as_stdlib_does() -> None:
    """These reach the encoder, which writes the builtin value or refuses."""
    assert _json.dumps([_Text("t"), _Number(2), _Real(0.5), _Mapping(a=1)]) == (
        b'["t",2,0.5,{"a":1}]'
    )
    assert _json.dumps(_ReorderedItems(a=1, b=2)) == b'{"b":2,"a":1}'
    assert _json.dumps(_Pair(1, "x")) == b'[1,"x"]'
    for refused in (_Record(), datetime.date(2026, 1, 2), decimal.Decimal(1)):
        with pytest.raises(TypeError, match="is not JSON serializable"):
            _json.dumps([refused])


def test_non_string_keys_are_converted_as_stdlib_does() -> None:
    """orjson refuses non-str keys; stdlib spells int, float, bool and None keys."""
    with pytest.raises(orjson.JSONEncodeError):  # the difference
        orjson.dumps({1: "a"})
    assert _json.dumps({1: "a", 1.5: "b", False: "c", None: "d", "1": "e"}) == (
        b'{"1":"a","1.5":"b","false":"c","null":"d","1":"e"}'
    )
    with pytest.raises(TypeError, match="keys must be str"):
        _json.dumps({(1, 2): "a"})


def test_integers_beyond_64_bits_are_printed() -> None:
    """orjson refuses them; stdlib prints them, up to its digit limit."""
    with pytest.raises(orjson.JSONEncodeError):  # the difference
        orjson.dumps(2**64)
    assert _json.dumps([2**64, -(2**63) - 1]) == b"[18446744073709551616,-9223372036854775809]"
    with pytest.raises(ValueError, match="integer string conversion"):
        _json.dumps(10**5000)


def test_lone_surrogates_raise_unicode_encode_error() -> None:
    """orjson raises a TypeError; stdlib's bytes encoding a UnicodeEncodeError."""
    with pytest.raises(UnicodeEncodeError):
        _json.dumps({"text": "a\ud800"})


def test_cycles_raise_as_stdlib_does() -> None:
    """A cycle of plain containers goes to stdlib, which names it."""
    cycle: list[Any] = [1]
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        _json.dumps({"a": cycle})


def test_plain_bodies_encode_byte_for_byte() -> None:
    """A request body of plain values comes out as stdlib's compact, non-ASCII UTF-8."""
    body = {
        "inbox_id": 42,
        "local_id": "bench-0000000000000000",
        "text": 'Héllo 😀 "quoted" \\ \n\t\x00\x1f\x7f\u2028',
        "flags": [True, False, None],
        "nested": {"ids": (1, 2, 2**64 - 1, -(2**63))},
    }
    assert _json.dumps(body) == _stdlib_dumps(body)


# --- the callers ----------------------------------------------------------------------------


def test_request_body_refuses_what_stdlib_refuses() -> None:
    """ApiRequest.body_bytes still raises RequestValidationError for unsendable values."""
    for refused in ({"id": uuid.UUID(int=7)}, {"mode": _Colour.RED}, {"x": math.nan}):
        with pytest.raises(RequestValidationError):
            ApiRequest(method="POST", path="/v1/x", json=refused).body_bytes()
    assert ApiRequest(method="POST", path="/v1/x", json={"n": 2**64}).body_bytes() == (
        b'{"n":18446744073709551616}'
    )


def test_responses_keep_big_integers_and_read_stdlib_only_spellings() -> None:
    """decipher_response reads a 2xx as stdlib would: exact big ints, a UTF-16 body."""
    assert decipher_response(200, {}, b'{"id":18446744073709551616}').data == {"id": 2**64}
    response = decipher_response(200, {}, '{"id":5}'.encode("utf-16"))
    assert response.readable
    assert response.data == {"id": 5}
