"""The one ISO-8601 parser of the package: text at the edge becomes an aware UTC datetime once.

The API, the CLI and the run config parse a time with these functions and pass the typed value
on; nothing further down parses the same value again.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(text: str, *, end_of_day: bool = False) -> datetime:
    """`YYYY-MM-DD` or an ISO-8601 datetime (`Z` or an offset; none means UTC) as an aware UTC datetime.

    A bare date means its midnight, or the next midnight when `end_of_day` (an exclusive upper bound).
    Raises ValueError (OverflowError past year 9999) with the text in the message.
    """
    value = text.strip()
    if _DATE_ONLY.match(value):
        instant = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        return instant + timedelta(days=1) if end_of_day else instant
    try:
        instant = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime") from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` as a date; ValueError naming the text otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
