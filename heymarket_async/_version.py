"""The installed package version, read once."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version


@functools.cache
def version() -> str:
    try:
        return _distribution_version("heymarket-async")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
