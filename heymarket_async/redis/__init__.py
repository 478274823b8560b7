"""Many processes on one API key, through one Redis server (the ``redis`` extra).

Install with ``pip install "heymarket-async[redis]"``.
"""

from __future__ import annotations

from ._journal import RedisJournal

__all__ = ["RedisJournal"]
