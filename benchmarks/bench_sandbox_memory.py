"""Case 11: the sandbox's memory per list member and per ledger entry.

Each size runs in a fresh child process (``python bench_sandbox_memory.py child N``), so one
run's garbage cannot flatter the next. The child drives the sandbox's own handlers the way a
client does, without the HTTP layer in between: it creates a list of N new phone numbers in
chunks of 10,000 (``POST /v2/lists``, then ``PUT /v2/lists/{id}`` with ``add_phones``), then
broadcasts one message to it (``POST /v1/message/send`` with ``list_id``), which commits N
ledger entries. After each step it collects garbage and reads the memory the state holds:
``tracemalloc``'s traced bytes (optional, in a second child, as it is slower and its own
bookkeeping inflates RSS) and the process's resident set (RSS).
Bytes per member = growth over the list step / N; bytes per ledger entry = growth over the
broadcast / N. It then reads one member's history and a page of the team history, so the
lazy views are exercised, and checks the ledger counts.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import attrs

CHUNK = 10_000
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@attrs.frozen
class MemoryResult:
    members: int
    list_bytes_rss: float  # per member
    ledger_bytes_rss: float  # per ledger entry
    list_bytes_traced: float | None
    ledger_bytes_traced: float | None
    list_seconds: float
    broadcast_seconds: float


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _settled(traced: bool) -> tuple[int, int]:
    gc.collect()
    return _rss(), tracemalloc.get_traced_memory()[0] if traced else 0


def _child(members: int, traced: bool) -> dict[str, Any]:
    from heymarket_async.sandbox._api import ROUTES, Call  # noqa: PLC0415
    from heymarket_async.sandbox._state import SandboxState  # noqa: PLC0415

    handlers = {route.key: route.handler for route in ROUTES}
    state = SandboxState(seed=0, list_size=members, start_us=1_700_000_000_000_000)
    now = [1_700_000_000.0]

    def call(key: str, body: Any, **params: str) -> Any:
        now[0] += 0.001
        request = Call(
            method=key.split(maxsplit=1)[0],
            params=params,
            query={},
            body=body,
            now=now[0],
            request_id="r",
        )
        return handlers[key](state, request)

    phones = (f"1{2_000_000_000 + n:010d}" for n in range(members))
    if traced:
        tracemalloc.start()
    rss0, traced0 = _settled(traced)
    started = time.perf_counter()
    first = [next(phones) for _ in range(min(CHUNK, members))]
    list_id = call("POST /v2/lists", {"title": "bench", "local_id": "bench-list", "phones": first})[
        "id"
    ]
    while chunk := [p for _, p in zip(range(CHUNK), phones, strict=False)]:
        call("PUT /v2/lists/{id}", {"add_phones": chunk}, id=str(list_id))
    list_seconds = time.perf_counter() - started
    rss1, traced1 = _settled(traced)
    started = time.perf_counter()
    answer = call(
        "POST /v1/message/send",
        {"inbox_id": 42, "list_id": list_id, "text": "hi {{first_name}}", "local_id": "bench"},
    )
    broadcast_seconds = time.perf_counter() - started
    rss2, traced2 = _settled(traced)
    assert len(state.ledger) == members, len(state.ledger)
    last = state.ledger[-1]
    history = handlers["GET /v1/messages"](
        state,
        Call(
            method="GET",
            params={},
            query={"phoneNumber": last.recipients[0], "inboxID": "42"},
            body=None,
            now=now[0],
            request_id="r",
        ),
    )
    assert history[0]["broadcast_id"] == answer["id"], history
    assert history[0]["local_id"] == "bench", history
    page = call("POST /v1/messages/all", {"limit": 5})
    assert len(page) == 5, page
    assert page[0]["id"] == last.message_id, page
    return {
        "members": members,
        "list_bytes_rss": (rss1 - rss0) / members,
        "ledger_bytes_rss": (rss2 - rss1) / members,
        "list_bytes_traced": (traced1 - traced0) / members if traced else None,
        "ledger_bytes_traced": (traced2 - traced1) / members if traced else None,
        "list_seconds": list_seconds,
        "broadcast_seconds": broadcast_seconds,
    }


def _run_child(members: int, *, traced: bool) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "child", str(members)]
    if traced:
        command.append("--traced")
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{out.stderr}")
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def measure(members: int, *, traced: bool = True) -> MemoryResult:
    """RSS and times from one child; with ``traced``, exact bytes from a second child (the
    RSS of a process running tracemalloc counts tracemalloc's own bookkeeping)."""
    figures = _run_child(members, traced=False)
    if traced:
        exact = _run_child(members, traced=True)
        figures["list_bytes_traced"] = exact["list_bytes_traced"]
        figures["ledger_bytes_traced"] = exact["ledger_bytes_traced"]
    return MemoryResult(**figures)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "child":
        print(json.dumps(_child(int(sys.argv[2]), "--traced" in sys.argv[3:])))
    else:
        for size in (int(arg) for arg in sys.argv[1:] or ["100000"]):
            print(measure(size, traced=size <= 200_000))
