"""`historian_points`: PI / AVEVA points of each UTC day in the lake, backfilled a range per run.

A ranged backfill is one run per `OEE_BACKFILL_DAYS_PER_RUN` days (`partitions.daily_backfill_policy`,
default 7), shared with the OEE chain, so one backfill of the historian and the chain runs both in
the same runs, chunk by chunk; each run walks its days. When every day lands, the step ends with its
output (one materialization per day, each with its own metadata through `add_asset_metadata`) and
the chain's steps of the same run go on. A day that fails is named with its reason and the run fails
after the other days: the good days are reported as their own materializations first, so the UI
shows them materialized and the bad one failed, and re-running that day completes it. A step retry
skips the days this run already materialized.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from oee_pipelines.defs.metadata import column_schema, preview_markdown
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.progress import Progress
from oee_pipelines.resources.historian import HistorianResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.historian.backfill import (
    DayResult,
    HistorianBackfill,
    NothingToBackfillError,
    failed_days_message,
)
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.services.source_systems import HISTORIAN

HISTORIAN_POOL = HISTORIAN
# The connector already retried each request; a step retry covers a historian that is down for longer.
HISTORIAN_RETRY = dg.RetryPolicy(max_retries=2, delay=1, backoff=dg.Backoff.EXPONENTIAL)


@dg.asset(
    name="historian_points",
    group_name="historian",
    owners=owners_of("historian"),
    kinds={"parquet"},
    metadata=column_schema("telemetry"),
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    pool=HISTORIAN_POOL,
    retry_policy=HISTORIAN_RETRY,
    output_required=False,
    deps=["historian_tag_mappings"],
    description="Recorded values of every mapped PI / AVEVA tag, mapped to the telemetry schema, one lake "
    "folder per source and UTC day (telemetry/source=pi|aveva/date=YYYY-MM-DD/). Backfill ranges from the "
    "asset graph or `dagster asset materialize --partition-range`.",
)
def historian_points(
    context: dg.AssetExecutionContext,
    historian: HistorianResource,
    warehouse: WarehouseResource,
    lake: LakeResource,
) -> Iterator[dg.AssetMaterialization | dg.MaterializeResult]:
    all_days = partition_days(context)
    done_earlier = _days_materialized_by_this_run(context) if context.retry_number else set()
    days = [day for day in all_days if day.isoformat() not in done_earlier]
    if not days:  # a retry after every day landed
        yield dg.MaterializeResult()
        return
    backfill = HistorianBackfill(
        historian,
        warehouse.connect,
        lake.lake(),
        BackfillRequest.from_run_tags(context.run.tags),
        context.run.run_id,
        context.log,
    )
    try:
        plans = backfill.plan(days)
    except NothingToBackfillError as exc:
        backfill.close([], None)
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(f"historian_points: {len(days)} days from {', '.join(p.system for p in plans)}")
    landed: list[DayResult] = []
    failures: list[DayResult] = []
    try:
        for done, day in enumerate(days, start=1):
            result = backfill.run_day(day, plans)
            context.log.info(
                _day_progress(context, done, len(days), result, backfill.points_so_far).message()
            )
            (failures if result.error else landed).append(result)
    except BaseException as exc:  # the run was stopped or broke: close the rows and clients anyway
        backfill.close(plans, f"historian_points stopped: {exc!r}")
        raise
    message = failed_days_message(failures, len(all_days)) if failures else None
    backfill.close(plans, message)
    if not failures:
        # The output lets the chain's steps in the same run go on (a step without one skips them).
        for result in landed:
            context.add_asset_metadata(_day_metadata(result), partition_key=result.day.isoformat())
        for day_key in done_earlier & {day.isoformat() for day in all_days}:
            context.add_asset_metadata({"landed_by": "an earlier attempt of this run"}, partition_key=day_key)
        yield dg.MaterializeResult()
        return
    for result in landed:  # the good days stay materialized although the run fails
        yield dg.AssetMaterialization(
            asset_key=context.asset_key, partition=result.day.isoformat(), metadata=_day_metadata(result)
        )
    raise dg.Failure(
        description=message,
        metadata={"failed_days": [failure.day.isoformat() for failure in failures]},
        allow_retries=not all(failure.permanent for failure in failures),
    )


def _day_progress(
    context: dg.AssetExecutionContext, done: int, total: int, result: DayResult, points_so_far: int
) -> Progress:
    """Days done of this run's days, and the points fetched so far (the Dagster UI's event log)."""
    return Progress(
        task=context.asset_key.to_user_string(),
        done=done,
        total=total,
        unit="days",
        counts={"points fetched": points_so_far},
        detail=f"day {result.day.isoformat()} {'failed' if result.error else 'written'}",
    )


def _day_metadata(result: DayResult) -> dict[str, Any]:
    unmapped = {
        f"{system}:{tag}": points for system, tags in result.unmapped.items() for tag, points in tags.items()
    }
    metadata: dict[str, Any] = {
        "dagster/row_count": result.rows_written,
        **column_schema("telemetry"),
        "points_fetched": sum(result.points_fetched.values()),
        "points_imported": sum(result.points_imported.values()),
        "points_by_system": dict(result.points_imported),
        "unmapped_tags": unmapped,
        "preview": preview_markdown(result.preview),
    }
    if result.page_limits:
        # PI: maxCount in use, lowered to the server's MaxReturnedItemsPerCall if it refused more.
        metadata["max_count_used"] = dict(result.page_limits)
    if result.first_ts is not None:
        metadata["first_timestamp"] = dg.MetadataValue.timestamp(result.first_ts)
        metadata["last_timestamp"] = dg.MetadataValue.timestamp(result.last_ts)
    return metadata


def _days_materialized_by_this_run(context: dg.AssetExecutionContext) -> set[str]:
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return {
        str(record.event_log_entry.dagster_event.partition)
        for record in records
        if record.event_log_entry.dagster_event is not None
        and record.event_log_entry.dagster_event.asset_key == context.asset_key
    }
