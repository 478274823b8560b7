"""Serve the sandbox from a shell: ``python -m heymarket_async.sandbox --port 8080``.

Prints the base URL and the credentials it accepts, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ._faults import FaultPlan
from ._server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heymarket_async.sandbox",
        description="Serve a fake Heymarket API on this machine, for offline testing.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    parser.add_argument("--seed", type=int, default=0, help="seed for credentials and faults")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=500,
        metavar="N",
        help="requests per minute before 429 (default 500; 0 turns the limit off)",
    )
    parser.add_argument(
        "--no-retry-after", action="store_true", help="send 429s without Retry-After"
    )
    parser.add_argument(
        "--no-dedupe-individual",
        action="store_true",
        help="repeat single sends even when their local_id is known",
    )
    parser.add_argument("--list-size", type=int, default=10_000, help="team list_size")
    parser.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="P",
        help="inject a random fault into each request with probability P (0..1)",
    )
    return parser


def _banner(sandbox: Sandbox, chaos: float) -> str:
    lines = [
        f"Heymarket sandbox listening on {sandbox.url}",
        "",
        f"  HEYMARKET_BASE_URL={sandbox.url}",
        f"  HEYMARKET_SECRET_ID={sandbox.secret_id}",
        f"  HEYMARKET_SECRET_KEY={sandbox.secret_key}",
        f"  HEYMARKET_API_KEY={sandbox.api_key}   (legacy key, alternative to the secret)",
        "",
        f"  inbox_id={sandbox.default_inbox_id} creator_id={sandbox.default_creator_id} "
        f"(email inbox {sandbox.email_inbox_id})",
    ]
    if chaos:
        lines.append(f"  faults: each request fails with probability {chaos:g}")
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


async def serve(args: argparse.Namespace) -> None:
    """Run a sandbox until cancelled."""
    faults = FaultPlan.chaos(args.chaos, seed=args.seed) if args.chaos else None
    sandbox = Sandbox(
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate_limit_per_minute=args.rate_limit or None,
        retry_after_header=not args.no_retry_after,
        dedupe_individual_sends=not args.no_dedupe_individual,
        list_size=args.list_size,
        faults=faults,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Also when started in the background, where the shell makes Python ignore SIGINT.
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises
            loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        sys.stdout.write(_banner(sandbox, args.chaos))
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if not 0.0 <= args.chaos <= 1.0:
        sys.stderr.write("--chaos must be between 0 and 1\n")
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    sys.stdout.write("sandbox stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
