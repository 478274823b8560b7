"""The installed package version, read once."""

from __future__ import annotations

import functools


@functools.cache
def version() -> str:
    # importlib.metadata costs a few milliseconds of start-up; it loads on the first ask.
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415 - loaded on first ask
    from importlib.metadata import version as distribution_version  # noqa: PLC0415 - loaded on first ask

    try:
        return distribution_version("heymarket-async")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
