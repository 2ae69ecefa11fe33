"""The publish deadline: yesterday's data published by 02:30 UTC, a visible pass/fail on each published asset.

Two views of the same promise, attached by the exports factory (`defs/exports/assets.py`) to every
asset it builds:

- `publish_deadline_policy`, a `FreshnessPolicy.cron` given to the asset when it is built (its
  freshness status in the UI; the instance needs `freshness: enabled: true` in `dagster.yaml` while
  Dagster calls the feature a preview);
- an asset check `published_by_deadline` per asset (`publish_deadline_checks`), run by a schedule just
  after each deadline: it passes when the asset was materialized between midnight and 02:30 (for a
  daily-partitioned asset: yesterday's partition, materialized after yesterday ended, so the day was
  complete). The check is partition-aware, which the policy is not (a backfill of an old partition
  refreshes the policy's clock).
"""

import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dagster as dg

PUBLISH_DEADLINE = time(2, 30)
DEADLINE_CRON = f"{PUBLISH_DEADLINE.minute} {PUBLISH_DEADLINE.hour} * * *"
CHECK_NAME = "published_by_deadline"
CHECK_JOB = "publish_deadline_checks_job"
# A little after the deadline, so a run finishing at 02:29 is recorded before the check reads it.
CHECK_CRON = f"{PUBLISH_DEADLINE.minute + 5} {PUBLISH_DEADLINE.hour} * * *"

with warnings.catch_warnings():
    # The preview warning would print on every definitions load; the choice is made, documented above.
    warnings.simplefilter("ignore", dg.PreviewWarning)
    publish_deadline_policy = dg.FreshnessPolicy.cron(
        deadline_cron=DEADLINE_CRON,
        lower_bound_delta=timedelta(hours=PUBLISH_DEADLINE.hour, minutes=PUBLISH_DEADLINE.minute),
        timezone="UTC",
    )


def deadline_window(now: datetime, deadline: time = PUBLISH_DEADLINE) -> tuple[date, datetime, datetime]:
    """(the day that must be published, window start = the end of that day, the deadline) of the latest
    deadline at or before `now`."""
    today_deadline = datetime.combine(now.astimezone(UTC).date(), deadline, tzinfo=UTC)
    latest = today_deadline if now >= today_deadline else today_deadline - timedelta(days=1)
    midnight = datetime.combine(latest.date(), time.min, tzinfo=UTC)
    return latest.date() - timedelta(days=1), midnight, latest


def published_in_window(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partition_key: str | None,
    window_start: datetime,
    window_end: datetime,
) -> dg.EventLogRecord | None:
    """The latest materialization of the asset (or of that partition) inside [window_start, window_end]."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=asset_key,
            asset_partitions=[partition_key] if partition_key else None,
            after_timestamp=window_start.timestamp(),
            before_timestamp=window_end.timestamp(),
        ),
        limit=1,
    ).records
    return records[0] if records else None


def publish_deadline_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """The `published_by_deadline` check of one asset (daily-partitioned or not)."""
    partitioned = isinstance(asset.partitions_def, dg.TimeWindowPartitionsDefinition)
    key = asset.key

    @dg.asset_check(
        asset=key,
        name=CHECK_NAME,
        description="Yesterday's data published by 02:30 UTC.",
        blocking=False,
    )
    def published_by_deadline(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        day, window_start, deadline = deadline_window(datetime.now(UTC))
        partition_key = day.isoformat() if partitioned else None
        record = published_in_window(context.instance, key, partition_key, window_start, deadline)
        metadata: dict[str, Any] = {
            "deadline": dg.MetadataValue.timestamp(deadline),
            "expected_day": day.isoformat(),
            "published_at": dg.MetadataValue.timestamp(record.timestamp) if record else "not by the deadline",
        }
        return dg.AssetCheckResult(
            passed=record is not None,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=None if record else f"{day} was not published between 00:00 and {deadline:%H:%M} UTC",
        )

    return published_by_deadline


def publish_deadline_checks(assets: Sequence[dg.AssetsDefinition]) -> dg.Definitions:
    """The `published_by_deadline` check of each of `assets`, the job running them, and its schedule.

    The assets carry `publish_deadline_policy` themselves: their factory sets it when it builds them.
    """
    if not assets:
        return dg.Definitions()
    checks = [publish_deadline_check(asset) for asset in assets]
    check_job = dg.define_asset_job(
        CHECK_JOB,
        selection=dg.AssetSelection.checks(*checks),
        description="Checks that yesterday's data was published by 02:30 UTC.",
    )
    schedule = dg.ScheduleDefinition(
        name="publish_deadline_checks",
        job=check_job,
        cron_schedule=CHECK_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(asset_checks=checks, jobs=[check_job], schedules=[schedule])
