"""Partitions shared by every stage: UTC days for bulk data, UTC hours for IoT batches.

`end_offset=1` makes the current (incomplete) day and hour materializable, so the hourly schedule
can refresh today while the daily 02:00 schedule finalizes yesterday.
"""

from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

PARTITIONS_START = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days a (possibly ranged, single-run backfill) daily materialization covers."""
    window = context.partition_time_window
    days = []
    day = window.start.date()
    while day < window.end.date():
        days.append(day)
        day += timedelta(days=1)
    return days
