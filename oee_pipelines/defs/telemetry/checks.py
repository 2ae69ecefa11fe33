"""Asset checks on `enriched_telemetry`: pass/fail per partition range with the counts in metadata.

The blocking check stops the OEE assets when a day has no machine state at all (nothing could be
computed from it). The soft checks (WARN) report the day's data-quality alerts, which the asset
writes while it applies the rules (one row per sensor, rule and hour). A failed soft check says
what failed (`failed`), the rule (`rule`), the counts, the worst sensors (`worst_sensors`) and where
to look (`where_to_look`, with the query for the run's days): docs/monitoring.md.
"""

from typing import Any

import dagster as dg

from oee_pipelines.defs.partitions import partition_days
from oee_pipelines.domain.alerts import (
    DUPLICATE,
    GAP,
    LOW_COMPLETENESS,
    OUT_OF_RANGE,
    RULE_GUIDES,
    summarize_alerts,
)
from oee_pipelines.domain.telemetry import MACHINE_STATE
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.oee.inputs import enriched_day
from oee_pipelines.services.quality_alerts import day_alerts


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
    days = partition_days(context.op_execution_context)
    with warehouse.connect() as conn:
        summary = summarize_alerts(day_alerts(conn, days, alert_types), alert_types, days)
    metadata: dict[str, Any] = {
        "rule": "; ".join(f"{name}: {RULE_GUIDES[name].meaning}" for name in alert_types),
        **summary.counts,
    }
    if not summary.passed:
        metadata["failed"] = dg.MetadataValue.text(summary.what_failed)
        metadata["worst_sensors"] = dg.MetadataValue.md(summary.worst_sensors_markdown())
        metadata["where_to_look"] = dg.MetadataValue.md(summary.where_to_look)
    return dg.AssetCheckResult(passed=summary.passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


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
    description="Duplicate readings (same sensor and value within 1 s) removed; `duplicate_readings` "
    "counts them.",
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
