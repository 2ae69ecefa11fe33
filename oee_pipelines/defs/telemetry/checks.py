"""Asset checks on `enriched_telemetry`: pass/fail per partition range with the counts in metadata.

The blocking check stops the OEE assets when a day has no machine state at all (nothing could be
computed from it). The soft checks (WARN) report the day's data-quality alerts, which the asset
writes while it applies the rules.
"""

import dagster as dg

from oee_pipelines.defs.partitions import partition_days
from oee_pipelines.domain.alerts import DUPLICATE, GAP, LOW_COMPLETENESS, OUT_OF_RANGE
from oee_pipelines.domain.telemetry import MACHINE_STATE
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.oee.inputs import alert_counts, enriched_day


@dg.asset_check(
    asset="enriched_telemetry",
    blocking=True,
    description="Every day of the run has machine_state readings; without them there is no OEE.",
)
def machine_state_present(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    days = partition_days(context.op_execution_context)
    rows = {}
    for day in days:
        table = enriched_day(lake.lake(), day, ["signal"], [MACHINE_STATE])
        rows[day.isoformat()] = 0 if table is None else table.num_rows
    empty = [day for day, count in rows.items() if count == 0]
    return dg.AssetCheckResult(
        passed=not empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"machine_state_rows": sum(rows.values()), "days_without_machine_state": ", ".join(empty)},
    )


def _alerts_check(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, alert_types: list[str]
) -> dg.AssetCheckResult:
    counts = alert_counts(warehouse, partition_days(context.op_execution_context), alert_types)
    alerts = sum(value for name, value in counts.items() if name.endswith("_alerts"))
    return dg.AssetCheckResult(
        passed=alerts == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={name: int(value) if value.is_integer() else value for name, value in counts.items()},
    )


@dg.asset_check(
    asset="enriched_telemetry",
    description="Readings outside sensor_range_config (ALERT kept, DEGRADE quality 50, REJECT removed).",
)
def readings_within_range(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _alerts_check(context, warehouse, [OUT_OF_RANGE])


@dg.asset_check(
    asset="enriched_telemetry",
    description="Duplicate readings (same sensor and value within 1 s) removed; the metric sum counts them.",
)
def no_duplicate_readings(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _alerts_check(context, warehouse, [DUPLICATE])


@dg.asset_check(
    asset="enriched_telemetry",
    description="Sensor gaps longer than 3x the expected interval, and hours with under 90 % of the "
    "expected readings per sensor.",
)
def telemetry_complete(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _alerts_check(context, warehouse, [GAP, LOW_COMPLETENESS])
