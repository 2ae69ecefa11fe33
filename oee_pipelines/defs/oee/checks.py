"""Asset checks on `oee_snapshots`: a complete window grid (blocking), performance above 105 % (WARN) and
the stored downtime minutes against the derived downtime events (what the mart view reads, sql/054)."""

import dagster as dg

from oee_pipelines.defs.partitions import partition_days
from oee_pipelines.domain.alerts import PERFORMANCE_ABOVE_LIMIT
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.oee import WINDOW_MINUTES
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.oee.inputs import alert_counts
from oee_pipelines.services.oee.window_downtime import TOLERANCE_MINUTES, check_window_downtime

WINDOWS_PER_DAY = 24 * 60 // WINDOW_MINUTES


@dg.asset_check(
    asset="oee_snapshots",
    blocking=True,
    description="Every active machine has its 96 windows on every day of the run (none lost or doubled).",
)
def snapshot_grid_complete(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    days = partition_days(context.op_execution_context)
    start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    found = warehouse.query_frame(
        """SELECT s.machine_id, count(*) AS windows FROM oee_snapshots s
           JOIN machines m ON m.id = s.machine_id AND m.is_active
           WHERE s.snapshot_time > %s AND s.snapshot_time <= %s GROUP BY s.machine_id""",
        (start, end),
    )
    machines = warehouse.query_frame("SELECT count(*) AS machines FROM machines WHERE is_active")
    expected = WINDOWS_PER_DAY * len(days)
    wrong = found[found["windows"] != expected]
    missing_machines = int(machines["machines"].iloc[0]) - len(found)
    return dg.AssetCheckResult(
        passed=wrong.empty and missing_machines == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "windows": int(found["windows"].sum()),
            "expected_per_machine": expected,
            "machines_with_wrong_count": len(wrong),
            "machines_without_snapshots": missing_machines,
        },
    )


@dg.asset_check(
    asset="oee_snapshots",
    description="Windows whose raw performance exceeds 105 % (usually a wrong ideal cycle time).",
)
def performance_within_limit(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    counts = alert_counts(warehouse, partition_days(context.op_execution_context), [PERFORMANCE_ABOVE_LIMIT])
    windows = int(counts["performance_above_limit_alerts"])
    return dg.AssetCheckResult(
        passed=windows == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"windows_above_limit": windows},
    )


@dg.asset_check(
    asset="oee_snapshots",
    description="Each window's stored planned / unplanned downtime (what the data mart reads) equals the "
    f"minutes of derived downtime events overlapping it, within {TOLERANCE_MINUTES} minutes.",
)
def snapshot_downtime_matches_events(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    days = partition_days(context.op_execution_context)
    start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    with warehouse.connect() as conn:
        check = check_window_downtime(conn, start, end)
    return dg.AssetCheckResult(
        passed=check.off.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "windows": check.windows,
            "windows_off": len(check.off),
            "stored_downtime_minutes": round(check.stored_minutes, 4),
            "first_off": dg.MetadataValue.md(check.off.head(10).to_markdown(index=False))
            if len(check.off)
            else "",
        },
    )
