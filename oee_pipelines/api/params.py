"""Parsing and checking request parameters: time ranges and identifiers, with messages naming them, and
the app-wide refusal of control characters in query and path parameters.

Time ranges are half-open, `[start, end)`, in UTC:
- a date as the lower bound means the start of that day; as the upper bound, the end of that
  whole day (so `date_from=2025-01-01&date_to=2025-01-30` is 30 full days);
- an ISO 8601 datetime is an exact instant; as the upper bound it is excluded, which is what
  Power BI incremental refresh (`>= RangeStart`, `< RangeEnd`) expects. Naive datetimes are UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.requests import HTTPConnection

from oee_pipelines.api.errors import ApiError
from oee_pipelines.domain.timestamps import parse_instant
from oee_pipelines.exports.queries import TimeRange

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
# C0 controls (NUL included), DEL and C1 controls: no parameter of this API may hold one, and PostgreSQL
# text cannot hold NUL at all.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def parse_bound(text: str, parameter: str, *, upper: bool) -> datetime:
    """One bound of a range as an aware UTC datetime (see the module docstring for the rules)."""
    outside = ApiError(422, parameter, f"{text!r} is outside {EARLIEST.year}-{LATEST.year - 1}")
    try:
        instant = parse_instant(text, end_of_day=upper)
    except OverflowError:
        raise outside from None
    except ValueError:
        raise ApiError(
            422, parameter, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime"
        ) from None
    if not EARLIEST <= instant <= LATEST:
        raise outside
    return instant


def resolve_time_range(
    lower: str, upper: str, max_days: int, *, names: tuple[str, str] = ("date_from", "date_to")
) -> TimeRange:
    start = parse_bound(lower, names[0], upper=False)
    end = parse_bound(upper, names[1], upper=True)
    if end <= start:
        raise ApiError(422, names[1], f"must be after {names[0]} ({lower} .. {upper} is empty)")
    if end - start > timedelta(days=max_days):
        days = (end - start) / timedelta(days=1)
        raise ApiError(
            422,
            names[1],
            f"the range {lower} .. {upper} spans {days:.1f} days; the maximum is {max_days} days "
            "(split the export into several requests)",
        )
    return TimeRange(start=start, end=end)


def check_identifier(value: str, parameter: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ApiError(
            422,
            parameter,
            f"{value[:80]!r} is not a valid id (letters, digits, '_', '.', ':', '-'; up to 64)",
        )
    return value


def split_metrics(text: str | None, parameter: str = "metrics") -> list[str] | None:
    """`temperature,pressure` -> ['temperature', 'pressure']; empty or missing -> every signal."""
    if text is None or not text.strip():
        return None
    return [check_identifier(name.strip(), parameter) for name in text.split(",") if name.strip()]


def refuse_control_characters(connection: HTTPConnection) -> None:
    """App-wide dependency: a query or path parameter holding a control character is refused with 422
    naming it, before any handler, database or OData parser sees it."""
    parameters = [*connection.path_params.items(), *connection.query_params.multi_items()]
    for name, value in parameters:
        if CONTROL_CHARACTERS.search(name):
            raise ApiError(422, None, f"the parameter name {name[:80]!r} holds a control character")
        found = CONTROL_CHARACTERS.search(str(value))
        if found:
            raise ApiError(
                422,
                name,
                f"holds the control character U+{ord(found.group()):04X} at position {found.start()}; "
                "control characters (NUL, tab, line breaks, ...) are not allowed",
            )
