"""The publishing jobs and their schedules: 02:00 UTC finalizes yesterday, every hour refreshes today.

Both schedules run the OEE chain and the exports of one day partition in one run, so the files are
written from the tables that run has just rebuilt. Run keys are the partition plus the tick (one run
per tick, however often the daemon evaluates). A day rebuilt between ticks by late data is
re-published by the export assets' automation condition, not by these schedules.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.defs.exports.assets import EXPORTS_GROUP
from oee_pipelines.defs.oee.jobs import OEE_CHAIN
from oee_pipelines.services.source_systems import MES, source_system_tags

DAILY_FINALIZE_CRON = "0 2 * * *"
# A quarter past, so the hour's IoT batches and historian polls have landed.
HOURLY_REFRESH_CRON = "15 * * * *"
published_files_job = dg.define_asset_job(
    "published_files_job",
    selection=dg.AssetSelection.groups(EXPORTS_GROUP),
    description="Write the day's published files (CSV, Parquet, XLSX, JSON) and the manifest.",
    # 16 steps of a quarter second each for 3 days (benchmarks/bench_dagster_overhead.py): a step
    # process (about 3 s of CPU to start) would cost more than its step, so they run in the run's process.
    executor_def=LIGHT_JOB_EXECUTOR,
)
publish_day_job = dg.define_asset_job(
    "publish_day_job",
    selection=dg.AssetSelection.assets(*OEE_CHAIN) | dg.AssetSelection.groups(EXPORTS_GROUP),
    # The chain's `operator_shifts` reads the MES: the run queues under the MES's run limit.
    tags=source_system_tags(MES),
    description="The OEE chain of one day, then its published files.",
)


def _utc(context: dg.ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time.astimezone(UTC)


@dg.schedule(job=publish_day_job, cron_schedule=DAILY_FINALIZE_CRON, execution_timezone="UTC")
def publish_yesterday_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 02:00 UTC, yesterday is complete: rebuild it and publish its final files."""
    yesterday = (_utc(context) - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"publish-final-{yesterday}", partition_key=yesterday)


@dg.schedule(job=publish_day_job, cron_schedule=HOURLY_REFRESH_CRON, execution_timezone="UTC")
def refresh_today_hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every hour, today's partition so far (the current day is materializable: end_offset=1)."""
    tick = _utc(context)
    today = tick.date().isoformat()
    return dg.RunRequest(run_key=f"publish-refresh-{tick:%Y-%m-%dT%H:%M}", partition_key=today)
