"""Partitions shared by every stage: UTC days for bulk data, UTC hours for IoT batches.

A UTC day is always 24 h (96 OEE windows), whatever the sites' time zones and daylight saving. A
site's local day is not a partition: it spans two UTC days (23 h or 25 h on the change days);
`domain.days.site_day_bounds` and `utc_days_between` name the partitions that rebuild it.

`end_offset=1` makes the current (incomplete) day and hour materializable, so the hourly schedule
can refresh today while the daily 02:00 schedule finalizes yesterday.

A ranged backfill of the daily assets (historian -> enriched telemetry -> OEE -> data mart) becomes
one run per `OEE_BACKFILL_DAYS_PER_RUN` days (`daily_backfill_policy`), so no single process walks a
90-day range and the runs spread over the run workers (and, with the Celery or Kubernetes executor,
their steps over machines; docs/deploy.md "Distributed execution").
"""

import os
from datetime import date, timedelta

import dagster as dg

from oee_pipelines.domain.days import PARTITIONS_START

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)


BACKFILL_DAYS_PER_RUN_ENV = "OEE_BACKFILL_DAYS_PER_RUN"
# A week per run: a 90-day backfill is 13 runs (at most `max_concurrent_runs` at once), and a run's
# days still share one historian session and one warehouse connection.
DEFAULT_BACKFILL_DAYS_PER_RUN = 7


def backfill_days_per_run(environ: dict[str, str] | None = None) -> int:
    """Days per backfill run from OEE_BACKFILL_DAYS_PER_RUN (a whole number >= 1; default 7)."""
    text = (os.environ if environ is None else environ).get(BACKFILL_DAYS_PER_RUN_ENV, "").strip()
    if not text:
        return DEFAULT_BACKFILL_DAYS_PER_RUN
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{BACKFILL_DAYS_PER_RUN_ENV}: must be a whole number of days >= 1, got {text!r}")
    return int(text)


def daily_backfill_policy() -> dg.BackfillPolicy:
    """One run per `backfill_days_per_run()` days of a ranged backfill; every daily asset of the historian
    -> OEE chain shares it, so a backfill of the chain runs its assets together, chunk by chunk."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=backfill_days_per_run())


def partition_days(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> list[date]:
    """The UTC days a (possibly ranged, single-run backfill) daily materialization covers."""
    window = context.partition_time_window
    days = []
    day = window.start.date()
    while day < window.end.date():
        days.append(day)
        day += timedelta(days=1)
    return days
