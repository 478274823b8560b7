from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heymarket_async._converter import parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-24T14:04:55.021462Z", datetime(2024, 12, 24, 14, 4, 55, 21462, tzinfo=UTC)),
        ("2024-12-24T14:04:55Z", datetime(2024, 12, 24, 14, 4, 55, tzinfo=UTC)),
        ("2024-12-24T14:04:55.5+00:00", datetime(2024, 12, 24, 14, 4, 55, 500000, tzinfo=UTC)),
        ("2024-12-24T14:04:55", datetime(2024, 12, 24, 14, 4, 55, tzinfo=UTC)),
        (1735049095, datetime(2024, 12, 24, 14, 4, 55, tzinfo=UTC)),
        ("1735049095", datetime(2024, 12, 24, 14, 4, 55, tzinfo=UTC)),
    ],
)
def test_timestamps_are_read_leniently(text: object, expected: datetime) -> None:
    """RFC 3339 with or without microseconds, naive text, and Unix seconds all parse."""
    assert parse_timestamp(text) == expected


def test_non_timestamp_is_refused() -> None:
    """A value that is no timestamp raises ValueError."""
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp([1])
