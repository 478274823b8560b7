"""An asyncio event loop whose clock is virtual: whenever every task waits, time jumps.

Timers, ``asyncio.sleep``, ``asyncio.timeout`` and ``wait_for`` all run on ``loop.time()``,
so minutes of pacing take milliseconds, and concurrent sleepers keep their true overlap
(unlike a fake ``sleep`` that advances a shared clock by each caller's delay in turn).

    result = run_virtual(main())   # main() may read the clock with loop.time()
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.BaseSelector):
    """Delegates real I/O, but turns a blocking wait for the next timer into a time jump."""

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            return self._real.select(None)  # no timer at all: only I/O can wake us
        if timeout > 0 and self.loop is not None:
            self.loop.now += timeout
        return self._real.select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time, starting at ``start``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self.now


def run_virtual(main: Coroutine[Any, Any, T], *, start: float = 1000.0) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
