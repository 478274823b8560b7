"""The ``heymarket`` command: the Heymarket API, bulk sends and a local sandbox from a shell.

::

    heymarket demo                                  # faults injected, nothing sent twice
    heymarket sandbox --port 8080                   # a fake API for offline testing
    heymarket inboxes --json                        # credentials from HEYMARKET_* variables
    heymarket broadcast --csv april.csv --inbox 42 --creator 7 --text "Sale!" \\
        --key april-2026 --journal april.sqlite3    # resumable

Exit statuses: 0 success; 1 a job ran but not every recipient was sent (bad rows, failures,
unknown outcomes, or a duplicate or loss in ``demo``); 2 nothing was sent because of the
command line, configuration, credentials, a request field or (``broadcast --dry-run``) bad
rows, or ``sandbox`` could not listen on its port; 3 the API refused a request,
did not answer or answered unreadably (an unreadable 2xx answer: the request was accepted
and took effect, do not resend it), or the bulk machinery could not go on
(``BulkSendError``, e.g. a rerun while the job's lease is held); 70 an unexpected internal
error; 130 interrupted. Errors are one line
on stderr, never a traceback (with the request id for API errors; server text has its
control characters escaped); with ``--json`` an ``{"ok": false, "error": {...}}`` document
is also written to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Mapping, Sequence

from ._cli import _api, _broadcast, _demo, _journal, _sandbox
from ._cli._args import HELP_FORMATTER, Handler
from ._cli._output import ExitCode, Output, exit_code_for
from ._version import version

__all__ = ["ExitCode", "build_parser", "interrupted_advice", "main", "run"]

_ENVIRONMENT_HELP = """\
credentials (never passed on the command line):
  HEYMARKET_SECRET_ID and HEYMARKET_SECRET_KEY   API Secret (preferred), or
  HEYMARKET_API_KEY                              a legacy team API key
  HEYMARKET_BASE_URL                             API root (or --base-url)

exit status: 0 ok, 1 a job had failures (or duplicates, in demo),
  2 usage, configuration or validation error, bad rows in broadcast --dry-run, or a
  sandbox port in use (nothing sent), 3 API, network or bulk machinery error,
  70 internal error (HEYMARKET_DEBUG=1 shows the traceback), 130 interrupted

example:
  heymarket demo
  heymarket send --inbox 42 --creator 7 --phone 15105553344 --text 'Hi'
"""


class _ShowVersion(argparse.Action):
    """``--version``; the installed version is looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {version()}")  # noqa: T201 - what --version is for
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``heymarket`` command."""
    parser = argparse.ArgumentParser(
        prog="heymarket",
        description="Send messages with Heymarket from the command line, safely in bulk.",
        epilog=_ENVIRONMENT_HELP,
        formatter_class=HELP_FORMATTER,
    )
    parser.add_argument("--version", action=_ShowVersion)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _demo.register(sub)
    _sandbox.register(sub)
    _api.register(sub)
    _broadcast.register(sub)
    _journal.register(sub)
    return parser


async def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command in the current event loop; return the exit status.

    :func:`main` wraps this in :func:`asyncio.run`; call it directly from async code.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    out = Output(json_mode=args.json, quiet=args.quiet)
    handler: Handler = args.handler
    try:
        return await handler(args, out)
    except Exception as exc:  # noqa: BLE001 - any error ends as one line and a status
        out.error(exc)
        return exit_code_for(exc)


def interrupted_advice(argv: Sequence[str] | None) -> str:
    """What to say when Ctrl-C stops the command ``argv``: resuming is only advised for a
    job that has a journal to resume from."""
    try:
        args, _ = build_parser().parse_known_args(argv)
    except SystemExit:  # never: a command that ran parsed; keep the plain line regardless
        return "interrupted"
    if args.command == "broadcast":
        if args.journal:
            return (
                "interrupted; run the same command again (same --key and --journal) to "
                "resume where it stopped, sending nothing twice"
            )
        return (
            "interrupted; without --journal this run cannot be resumed exactly: list "
            "broadcasts run again with the same --key are de-duplicated by the API, per-row "
            "sends are not"
        )
    if args.command == "demo":
        return "interrupted; the demo keeps no state: run it again to start over"
    return "interrupted"


def quiet_library_logs(environ: Mapping[str, str] = os.environ) -> None:
    """The command reports every outcome itself, so the SDK's log records (meant for apps
    that configure logging) would only repeat them as stray lines on stderr; with
    ``HEYMARKET_DEBUG=1`` they are shown, DEBUG included."""
    sdk = logging.getLogger("heymarket_async")
    if environ.get("HEYMARKET_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    elif not any(isinstance(h, logging.NullHandler) for h in sdk.handlers):
        sdk.addHandler(logging.NullHandler())
        sdk.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``heymarket`` console script; returns the exit status."""
    quiet_library_logs()
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        Output().warn(interrupted_advice(argv))
        return ExitCode.INTERRUPTED
