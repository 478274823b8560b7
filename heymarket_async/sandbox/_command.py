"""The sandbox's command line, shared by ``python -m heymarket_async.sandbox`` and
``heymarket sandbox`` so both take the same flags with the same names."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from .._cli._args import add_sandbox_arguments, fault_kinds
from ._faults import FaultPlan
from ._server import LEDGER_PATH, Sandbox

__all__ = [
    "add_sandbox_arguments",
    "banner",
    "build_sandbox",
    "check_ledger_file",
    "PortUnavailableError",
    "fault_kinds",
    "serve_until_stopped",
    "write_ledger",
]


def build_sandbox(args: argparse.Namespace) -> Sandbox:
    """A sandbox configured by the parsed options."""
    faults = None
    if args.faults:
        faults = FaultPlan.chaos(args.faults, seed=args.seed, kinds=args.fault_kinds)
    return Sandbox(
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate_limit_per_minute=args.rate_limit or None,
        retry_after_header=not args.no_retry_after,
        dedupe_individual_sends=not args.no_dedupe,
        list_size=args.list_size,
        faults=faults,
        history_local_ids=not args.history_without_local_id,
    )


def banner(sandbox: Sandbox, args: argparse.Namespace) -> str:
    """What the sandbox prints when it is ready: ``export`` lines for its URL and
    credentials, then comments; the whole text can be pasted into a POSIX shell."""
    lines = [
        f"# Heymarket sandbox listening on {sandbox.url}",
        "# Paste these lines into another shell; HeymarketClient.from_env() reads them:",
        f"export HEYMARKET_BASE_URL={sandbox.url}",
        f"export HEYMARKET_SECRET_ID={sandbox.secret_id}",
        f"export HEYMARKET_SECRET_KEY={sandbox.secret_key}",
        "# or the legacy team API key instead of the secret:",
        f"# export HEYMARKET_API_KEY={sandbox.api_key}",
        "#",
        f"# default ids: --inbox {sandbox.default_inbox_id} --creator "
        f"{sandbox.default_creator_id} (email inbox {sandbox.email_inbox_id})",
        f"# ledger: GET {sandbox.url}{LEDGER_PATH}",
    ]
    if args.faults:
        lines.append(f"# faults: each request fails with probability {args.faults:g}")
        if args.fault_kinds:
            lines.append("# fault kinds: " + ", ".join(str(kind) for kind in args.fault_kinds))
    if args.history_without_local_id:
        lines.append("# message listings show no local_id")
    if args.ledger_file:
        lines.append(f"# the ledger is written to {args.ledger_file} on exit")
    lines += ["#", "# Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


class PortUnavailableError(OSError):
    """The sandbox could not listen on the address it was given (in use, or not allowed)."""


def _unavailable(args: argparse.Namespace, exc: OSError) -> PortUnavailableError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        reason = "the port is in use"
    return PortUnavailableError(
        exc.errno,
        f"cannot listen on {args.host}:{args.port}: {reason}; choose another --port "
        f"(--port 0 picks a free one)",
    )


def check_ledger_file(path: Path | None) -> str | None:
    """Why ``--ledger-file`` cannot be written, or ``None``; checked before serving."""
    if path is None:
        return None
    if path.is_dir():
        return f"--ledger-file {path} is a directory"
    if not path.parent.is_dir():
        return f"--ledger-file: no directory {path.parent}"
    return None


def write_ledger(sandbox: Sandbox, path: Path) -> None:
    """Write the ledger with every entry to ``path`` as JSON, atomically.

    Raises:
        OSError: the file could not be written.
    """
    document = sandbox.ledger_document(entries=True)
    fd, temporary = tempfile.mkstemp(prefix=".ledger-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


async def serve_until_stopped(
    args: argparse.Namespace,
    on_ready: Callable[[Sandbox], None],
    stop: asyncio.Event | None = None,
) -> Sandbox:
    """Serve a sandbox until ``stop`` is set or SIGINT/SIGTERM arrives, then write the ledger
    file if one was asked for; returns the stopped sandbox.

    Raises:
        PortUnavailableError: the address could not be listened on (nothing was served).
        OSError: the ledger file could not be written.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        # Also when started in the background, where the shell makes Python ignore SIGINT.
        # Not possible off the main thread or on Windows; Ctrl-C then raises as usual.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    sandbox = build_sandbox(args)
    served = False
    try:
        try:
            await sandbox.start()
        except OSError as exc:
            raise _unavailable(args, exc) from exc
        served = True
        try:
            on_ready(sandbox)
            await stop.wait()
        finally:
            await sandbox.stop()
    finally:
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        if served and args.ledger_file is not None:
            write_ledger(sandbox, args.ledger_file)
    return sandbox
