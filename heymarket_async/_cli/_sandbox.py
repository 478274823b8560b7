"""``heymarket sandbox``: serve the fake Heymarket API until Ctrl-C.

The banner is the one ``python -m heymarket_async.sandbox`` prints; this command adds
``--json`` (the URL and credentials as one document) and a stop event for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from ._args import HELP_FORMATTER, Subparsers, example, output_options, positive_int, probability
from ._output import ExitCode, Output


async def serve(args: argparse.Namespace, out: Output, stop: asyncio.Event | None = None) -> int:
    """Run a sandbox until ``stop`` is set, or SIGINT/SIGTERM arrives."""
    # aiohttp.web is only needed here and by the demo.
    from ..sandbox import FaultPlan, Sandbox  # noqa: PLC0415
    from ..sandbox.__main__ import _banner  # noqa: PLC0415

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not possible off the main thread or on Windows; Ctrl-C then raises as usual.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    sandbox = Sandbox(
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate_limit_per_minute=args.rate_limit or None,
        dedupe_individual_sends=not args.no_dedupe,
        list_size=args.list_size,
        faults=FaultPlan.chaos(args.faults, seed=args.seed) if args.faults else None,
    )
    try:
        async with sandbox:
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
                    }
                )
            else:
                out.line(_banner(sandbox, args.faults).rstrip("\n"))
            out.stdout.flush()
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
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
            "the (sandbox-only) credentials it accepts. Point the other commands at it with "
            "--base-url and those credentials."
        ),
        epilog=example(
            "heymarket sandbox --port 8080 --faults 0.1",
            "export HEYMARKET_API_KEY=<printed key>",
            "heymarket inboxes --base-url http://127.0.0.1:8080",
        ),
        formatter_class=HELP_FORMATTER,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    parser.add_argument(
        "--faults",
        type=probability,
        default=0.0,
        metavar="RATE",
        help="share of requests that fail at random, 0..1 (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for credentials and faults")
    parser.add_argument(
        "--no-dedupe",
        action="store_true",
        help="send single messages again even when their local_id is known",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=500,
        metavar="N",
        help="requests per minute before 429 (default 500; 0 = no limit)",
    )
    parser.add_argument(
        "--list-size", type=positive_int, default=10_000, metavar="N", help="team list_size"
    )
    parser.set_defaults(handler=run_sandbox)
