"""Days: UTC days, the unit of every daily partition, and a site's local day in UTC.

Here (not in `defs/partitions.py`) so that the API, the CLI and the services use them without
importing Dagster definitions.

Daily partitions are UTC days, always 24 h (96 fifteen-minute windows), whatever the sites' time
zones. A site's local day is a UTC range of its own: 23 h on the spring daylight-saving change,
25 h in autumn (92 or 100 windows), and it touches two UTC partitions outside UTC itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARTITIONS_START = "2024-01-01"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def site_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day `day` of a site in `timezone` (IANA), from one local
    midnight to the next: 23 h on the spring daylight-saving change, 25 h in autumn."""
    zone = ZoneInfo(timezone)
    return local_instant(day, time.min, zone), local_instant(day + timedelta(days=1), time.min, zone)


def utc_days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days (daily partitions) a [start, end) range touches, e.g. a site's local day."""
    first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def local_instant(local_date: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant a site's wall clock shows `clock` on `local_date`.

    Repeated (autumn): the first occurrence. Skipped (spring gap): the end of the gap.
    """
    wall = datetime.combine(local_date, clock)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Inside the gap: fold=1 reads the wall time with the offset after the change, which lands
    # before the change; the change itself is the first instant the clock shows a later time.
    return _next_offset_change(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), instant, zone)


def _next_offset_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (before, after] where the zone's UTC offset changes (offsets are whole seconds)."""
    offset_after = after.astimezone(zone).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
