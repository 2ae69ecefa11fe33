"""Partitions shared by every stage: UTC days for bulk data, UTC hours for IoT batches.

`end_offset=1` makes the current (incomplete) day and hour materializable, so the hourly schedule
can refresh today while the daily 02:00 schedule finalizes yesterday.
"""

from datetime import date, timedelta

import dagster as dg

from oee_pipelines.domain.days import PARTITIONS_START

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days a (possibly ranged, single-run backfill) daily materialization covers."""
    window = context.partition_time_window
    days = []
    day = window.start.date()
    while day < window.end.date():
        days.append(day)
        day += timedelta(days=1)
    return days
