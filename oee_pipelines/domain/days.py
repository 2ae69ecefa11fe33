"""UTC days, the unit of every daily partition: the first day of the partitions and a day's bounds.

Here (not in `defs/partitions.py`) so that the API, the CLI and the services use them without
importing Dagster definitions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

PARTITIONS_START = "2024-01-01"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)
