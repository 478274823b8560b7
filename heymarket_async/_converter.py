"""The one private cattrs converter: JSON <-> attrs models.

Incoming data is read leniently (unknown keys are ignored, timestamps with or without
microseconds), except integers, which must be JSON integers (never ``true`` or ``1.9``), and
ids, which must be 1..2**63-1; outgoing bodies omit unset optional fields instead of sending
``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import NoneType
from typing import Any, Final, TypeVar, get_args

import attrs
import cattrs
from cattrs.preconf.json import make_converter

from .errors import UnexpectedResponseError

T = TypeVar("T")

converter: Final = make_converter(omit_if_default=True, forbid_extra_keys=False)

_SCALARS: Final = (int, str, float, bool)


def _scalar_of_optional(type_: Any) -> Any:
    """``int`` for ``int | None`` (likewise str, float, bool), else ``None``."""
    args = get_args(type_)
    if len(args) == 2 and NoneType in args:
        inner = args[0] if args[1] is NoneType else args[1]
        if inner in _SCALARS:
            return inner
    return None


def _optional_scalar_hook(type_: Any) -> Callable[[Any, Any], Any]:
    # The same result as cattrs' own Optional handling, with the inner hook looked up once
    # here instead of on every field of every answer.
    inner = _scalar_of_optional(type_)
    structure_inner = converter.get_structure_hook(inner)

    def structure(value: Any, _type: Any) -> Any:
        return None if value is None else structure_inner(value, inner)

    return structure


converter.register_structure_hook_factory(
    lambda type_: _scalar_of_optional(type_) is not None, _optional_scalar_hook
)


def parse_timestamp(value: object) -> datetime:
    """An aware datetime from RFC 3339 text (``Z`` or offset, any fraction) or Unix seconds."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def format_timestamp(value: datetime) -> str:
    """RFC 3339 text; a naive datetime is refused upstream, so this always has an offset."""
    return value.isoformat()


converter.register_structure_hook(datetime, lambda value, _type: parse_timestamp(value))

MAX_ID: Final = 2**63 - 1
"""The largest id an answer may carry (a signed 64-bit integer, as the journal stores it)."""


_DECIMAL: Final = re.compile(r"-?(0|[1-9][0-9]{0,29})")


def _strict_int(value: object, _type: object) -> int:
    # A lenient int() would turn true into 1 and 1.9 into 1; some answers quote their
    # integers ("12"), which stay readable.
    if type(value) is int:
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


_bool_hook = converter.get_structure_hook(bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(bool, _bool_hook)  # bool subclasses int: keep its own


# Per attrs class: (field name, whether it names an id); None for a class that is not one.
_FIELD_PLANS: Final[dict[type, tuple[tuple[str, bool], ...] | None]] = {}
# Values that hold no nested model, skipped without further checks.
_LEAVES: Final = frozenset({str, int, float, bool, NoneType, datetime, dict})


def _field_plan(cls: type) -> tuple[tuple[str, bool], ...] | None:
    try:
        return _FIELD_PLANS[cls]
    except KeyError:
        plan = (
            tuple((f.name, f.name == "id" or f.name.endswith("_id")) for f in attrs.fields(cls))
            if attrs.has(cls)
            else None
        )
        _FIELD_PLANS[cls] = plan
        return plan


def _check_ids(value: object, depth: int = 0) -> None:
    """Every ``id``/``*_id`` integer read from an answer is a usable id: 1..2**63-1."""
    if depth > 20:
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_ids(item, depth + 1)
        return
    plan = _field_plan(type(value))
    if plan is None:
        return
    for name, is_id in plan:
        item = getattr(value, name)
        kind = type(item)
        if is_id and kind is int:
            if not 1 <= item <= MAX_ID:
                raise ValueError(f"{name} is not a usable id")
        elif kind not in _LEAVES and (
            isinstance(item, list | tuple) or _field_plan(kind) is not None
        ):
            _check_ids(item, depth + 1)


converter.register_unstructure_hook(datetime, format_timestamp)


def structure(
    data: Any, into: type[T], *, status: int, request_id: str | None, local_id: str | None = None
) -> T:
    """Read ``data`` into ``into``; a shape we cannot read becomes ``UnexpectedResponseError``.

    The message names the fields at fault, never their values (an answer may echo secrets).
    """
    error: Exception
    try:
        result = converter.structure(data, into)
        _check_ids(result)
        return result
    except cattrs.BaseValidationError as exc:
        details = "; ".join(_paths(exc))
        error = exc
    except (
        TypeError,
        ValueError,
        AttributeError,
        KeyError,
        IndexError,
        OverflowError,
        RecursionError,
    ) as exc:
        details = type(exc).__name__
        error = exc
    raise UnexpectedResponseError(
        f"the server accepted the request (HTTP {status}) but its answer could not be read "
        f"as {into.__name__}: {details}",
        status=status,
        request_id=request_id,
        local_id=local_id,
    ) from error


def _paths(exc: cattrs.BaseValidationError) -> list[str]:
    """Where each error sits (``$.id: invalid value``), without the offending values."""
    try:
        return [_without_values(line) for line in cattrs.transform_error(exc)]
    except RecursionError:  # an error tree as deep as the data
        return ["invalid shape"]


def _without_values(line: str) -> str:
    # transform_error writes "<what> @ <path>"; some <what> quote the exception, which may
    # carry a value, so only its first words stay.
    what, _, where = line.rpartition(" @ ")
    if "(" in what:
        what = what.split("(", 1)[0].rstrip()
    return f"{what} @ {where}" if where else line


def unstructure(value: object) -> Any:
    """The JSON-ready form of a request model (unset optional fields omitted)."""
    return converter.unstructure(value)
