"""Helpers for testing code that uses ``heymarket_async``."""

from __future__ import annotations

from ._retry import retry_waits_disabled

__all__ = ["retry_waits_disabled"]
