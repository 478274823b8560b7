"""Serve the sandbox from a shell: ``python -m heymarket_async.sandbox --port 8080``.

Prints the base URL and the credentials it accepts as ``export`` lines for a shell, then
serves until Ctrl-C; exit status 2 when it cannot listen on the port. Takes the same
options as ``heymarket sandbox`` (``--help`` lists them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from ._command import (
    PortUnavailableError,
    add_sandbox_arguments,
    banner,
    check_ledger_file,
    serve_until_stopped,
)
from ._server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heymarket_async.sandbox",
        description="Serve a fake Heymarket API on this machine, for offline testing.",
    )
    add_sandbox_arguments(parser)
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Run a sandbox until SIGINT or SIGTERM."""

    def ready(sandbox: Sandbox) -> None:
        sys.stdout.write(banner(sandbox, args))
        sys.stdout.flush()

    await serve_until_stopped(args, ready)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    problem = check_ledger_file(args.ledger_file)
    if problem is not None:
        parser.error(problem)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    except PortUnavailableError as exc:
        # Nothing was served: a usage problem, like a bad option.
        sys.stderr.write(f"sandbox: {exc.strerror}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"sandbox: {exc}\n")
        return 1
    sys.stderr.write("sandbox stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
