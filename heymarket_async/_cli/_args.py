"""Argument types and options shared by the ``heymarket`` commands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._config import DEFAULT_RATE_LIMIT_PER_MINUTE

if TYPE_CHECKING:
    from .._client import HeymarketClient
    from ._output import Output

Handler = Callable[[argparse.Namespace, "Output"], Awaitable[int]]
# argparse's add_subparsers() returns a private generic type; this is its public face.
Subparsers = Any


class HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps the line breaks of multi-line text (the
    examples in epilogs), as argparse's raw formatter would."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


HELP_FORMATTER: Final = HelpFormatter

# The values of sandbox.FaultKind, spelled out so building the parser does not import the
# sandbox (and aiohttp.web); a test keeps the two equal.
FAULT_KINDS: Final = (
    "rate_limit",
    "server_error",
    "latency",
    "reset",
    "commit_then_drop",
    "unreadable_2xx",
    "history_without_local_id",
    "huge_retry_after",
    "slow_drip",
    "oversized",
)


def positive_int(text: str) -> int:
    """argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value:g}")
    return value


def rfc3339(text: str) -> datetime:
    """argparse type: an RFC 3339 time with an offset, e.g. ``2026-05-01T16:00:00Z``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an RFC 3339 time: {text!r} (e.g. 2026-05-01T16:00:00Z)"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add Z or an offset such as -07:00"
        )
    return value


def fault_kinds(text: str) -> list[str]:
    """argparse type: fault kinds separated by commas, e.g. ``reset,unreadable_2xx``."""
    kinds = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in kinds if name not in FAULT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind {unknown[0]!r}; use {', '.join(FAULT_KINDS)}"
        )
    if not kinds:
        raise argparse.ArgumentTypeError("name at least one fault kind")
    return kinds


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, added to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    parser.add_argument("--seed", type=int, default=0, help="seed for credentials and faults")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=500,
        metavar="N",
        help="requests per minute before 429 (default 500; 0 = no limit)",
    )
    parser.add_argument(
        "--no-retry-after", action="store_true", help="send 429s without Retry-After"
    )
    parser.add_argument(
        "--no-dedupe",
        "--no-dedupe-individual",
        dest="no_dedupe",
        action="store_true",
        help="send single messages again even when their local_id is known",
    )
    parser.add_argument(
        "--list-size", type=positive_int, default=10_000, metavar="N", help="team list_size"
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--faults",
        "--chaos",
        dest="faults",
        type=probability,
        default=0.0,
        metavar="RATE",
        help="share of requests that fail at random, 0..1 (default 0)",
    )
    faults.add_argument(
        "--fault-kinds",
        type=fault_kinds,
        default=None,
        metavar="KIND,...",
        help="only these kinds of fault (default all): " + ", ".join(FAULT_KINDS),
    )
    faults.add_argument(
        "--history-without-local-id",
        action="store_true",
        help="message listings never show local_id (lookups by local_id see nothing)",
    )
    ledger = parser.add_argument_group("ledger")
    ledger.add_argument(
        "--ledger-file",
        type=Path,
        metavar="PATH",
        help="on exit, write the ledger of committed sends there as JSON (it is also "
        "served at GET /_sandbox/ledger)",
    )


def output_options() -> argparse.ArgumentParser:
    """``--json`` and ``--quiet``, shared by every command."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output")
    group.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout (for scripts)"
    )
    group.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    return parent


def api_options() -> argparse.ArgumentParser:
    """``--base-url``, for commands that talk to the API."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="API root (overrides HEYMARKET_BASE_URL; e.g. a sandbox's http://127.0.0.1:8080)",
    )
    group.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        metavar="N",
        help=f"client-side pacing in requests per minute (default "
        f"{DEFAULT_RATE_LIMIT_PER_MINUTE}, the API's limit; 0 = off)",
    )
    return parent


def open_client(args: argparse.Namespace) -> HeymarketClient:
    """A client from the environment's credentials, with ``--base-url`` applied.

    Raises:
        ConfigurationError: no credentials, or a bad base URL.
    """
    from .._client import HeymarketClient  # noqa: PLC0415 - loaded when the command runs, not for --help

    options: dict[str, object] = {"rate_limit_per_minute": args.rate_limit or None}
    if args.base_url:
        options["base_url"] = args.base_url
    return HeymarketClient.from_env(None, **options)


def example(*lines: str) -> str:
    """An argparse epilog showing example command lines."""
    return "example:\n" + "\n".join(f"  {line}" for line in lines)
