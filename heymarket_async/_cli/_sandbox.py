"""``heymarket sandbox``: serve the fake Heymarket API until Ctrl-C.

The options and the banner are the ones ``python -m heymarket_async.sandbox`` has (one
argparse builder serves both); this command adds ``--json`` (the URL and credentials as one
document) and a stop event for tests.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from ._args import HELP_FORMATTER, Subparsers, add_sandbox_arguments, example, output_options
from ._output import CommandError, ExitCode, Output

if TYPE_CHECKING:
    from ..sandbox import Sandbox


async def serve(args: argparse.Namespace, out: Output, stop: asyncio.Event | None = None) -> int:
    """Run a sandbox until ``stop`` is set, or SIGINT/SIGTERM arrives."""
    # aiohttp.web is only needed here and by the demo.
    from ..sandbox import LEDGER_PATH  # noqa: PLC0415
    from ..sandbox._command import (  # noqa: PLC0415
        PortUnavailableError,
        banner,
        check_ledger_file,
        serve_until_stopped,
    )

    problem = check_ledger_file(args.ledger_file)
    if problem is not None:
        raise CommandError(problem)

    def ready(sandbox: Sandbox) -> None:
        if out.json_mode:
            out.write_json(
                {
                    "url": sandbox.url,
                    "secret_id": sandbox.secret_id,
                    "secret_key": sandbox.secret_key,
                    "api_key": sandbox.api_key,
                    "inbox_id": sandbox.default_inbox_id,
                    "creator_id": sandbox.default_creator_id,
                    "email_inbox_id": sandbox.email_inbox_id,
                    "fault_rate": args.faults,
                    "ledger_url": sandbox.url + LEDGER_PATH,
                }
            )
        else:
            out.line(banner(sandbox, args).rstrip("\n"))
        out.stdout.flush()

    try:
        await serve_until_stopped(args, ready, stop)
    except PortUnavailableError as exc:
        raise CommandError(f"sandbox: {exc.strerror}") from exc
    except OSError as exc:
        raise CommandError(f"sandbox: {exc}") from exc
    out.stderr.write("sandbox stopped\n")
    return ExitCode.OK


async def run_sandbox(args: argparse.Namespace, out: Output) -> int:
    """``heymarket sandbox``."""
    return await serve(args, out)


def register(sub: Subparsers) -> None:
    """Add ``sandbox`` to the top-level subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "sandbox",
        parents=[output_options()],
        help="serve a fake Heymarket API on this machine, for offline testing",
        description=(
            "Serve a fake Heymarket API on 127.0.0.1 until Ctrl-C, and print its URL and "
            "the (sandbox-only) credentials it accepts as export lines to paste into a "
            "shell, with the default inbox and creator ids. A port that cannot be listened "
            "on is a one-line error with exit status 2. Same options as python -m "
            "heymarket_async.sandbox."
        ),
        epilog=example(
            "heymarket sandbox --port 8080 --faults 0.1 --ledger-file ledger.json",
            "# in another shell, paste the export lines it printed, then:",
            "heymarket inboxes",
            "curl http://127.0.0.1:8080/_sandbox/ledger",
        ),
        formatter_class=HELP_FORMATTER,
    )
    add_sandbox_arguments(parser)
    parser.set_defaults(handler=run_sandbox)
