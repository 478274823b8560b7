"""JSON on the request path: orjson's speed with exactly the standard library's results.

``loads`` and ``dumps`` give what ``json.loads(body)`` and the compact, strict
``json.JSONEncoder`` give, or raise what they raise. orjson handles the documents where it
is known to agree; every other document goes to the standard library, which stays the
authority (NaN and infinities, UTF-16/32 and byte order marks, lone surrogates, integers
beyond 64 bits, deep nesting, non-string keys, subclasses, enums, floats).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

import orjson

__all__ = ["dumps", "loads"]

# --- decoding ---------------------------------------------------------------------------

# orjson reads an integer beyond 64 bits as a float (stdlib: an int); such a literal has at
# least 19 digits. Any run of 19 digits (also in a string or a float) goes to the standard
# library. A translate and a find cost far less than a regex (or ``in``, which first tries
# the needle as an int) here.
_DIGIT_MASK: Final = bytes(0 if 0x30 <= byte <= 0x39 else 1 for byte in range(256))
_LONG_DIGIT_RUN: Final = bytes(19)
# Before 3.12 the standard library's parser shares the interpreter's recursion budget
# (``sys.getrecursionlimit()`` less the caller's stack) and refuses documents that orjson
# (up to 1024 levels) accepts. A document that might nest that deep (every bracket counted,
# even inside strings; a shorter body cannot) goes to the standard library. The allowance
# keeps the two in step for callers up to about that many frames deep.
_SHARED_RECURSION_BUDGET: Final = sys.version_info < (3, 12)
_STACK_ALLOWANCE: Final = 250


def loads(body: bytes) -> Any:
    """``json.loads(body)``: the same value, or the same ``ValueError``/``RecursionError``.

    As ``json.loads`` called one frame deeper (where the recursion limit runs out), for
    callers less than ``_STACK_ALLOWANCE`` frames deep.
    """
    if body.translate(_DIGIT_MASK).find(_LONG_DIGIT_RUN) < 0 and (
        not _SHARED_RECURSION_BUDGET
        or len(body) < (budget := sys.getrecursionlimit() - _STACK_ALLOWANCE)
        or body.count(b"[") + body.count(b"{") < budget
    ):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # not strict UTF-8 JSON to orjson; the standard library decides
    return json.loads(body)


# --- encoding ---------------------------------------------------------------------------

# What json.dumps(separators=(",", ":"), ensure_ascii=False, allow_nan=False) builds on
# every call, built once (an encoder keeps no state between calls).
_COMPACT_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The value types orjson writes byte for byte as the encoder above does (exact types only).
# Not floats: orjson writes NaN and infinities as null and spells some exponents its own
# way (1e-7, 0.00001). Not enums, UUIDs or orjson fragments: orjson writes them, the encoder
# refuses them (or writes a str or int enum's own text or number). Subclasses, dataclasses
# and dates would only make orjson fail; they go straight to the encoder.
_PLAIN_SCALARS: Final = frozenset({str, int, bool, type(None)})
# Deeper values go to the encoder (which finds cycles); a request body nests a few levels.
_MAX_PLAIN_DEPTH: Final = 64


def _plain(value: Any, depth: int) -> bool:
    """Whether ``value`` holds only exact dicts, lists, tuples and plain scalars."""
    kind = type(value)
    if kind is dict:
        values = value.values()
    elif kind is list or kind is tuple:
        values = value
    else:
        return kind in _PLAIN_SCALARS
    if _PLAIN_SCALARS.issuperset(map(type, values)):
        return True
    if depth >= _MAX_PLAIN_DEPTH:
        return False
    depth += 1
    return all(_plain(item, depth) for item in values)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as ``_COMPACT_JSON.encode(obj).encode()``, or its exception."""
    if _plain(obj, 0):
        try:
            return orjson.dumps(obj)
        except orjson.JSONEncodeError:
            pass  # a non-str key, an int beyond 64 bits, a lone surrogate: the encoder decides
    return _COMPACT_JSON.encode(obj).encode()
