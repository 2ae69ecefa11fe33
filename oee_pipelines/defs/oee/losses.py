"""`oee_losses`: the six big losses per machine, shift and UTC day, and the check that they reconcile.

The asset computes each day's loss tree through `services/oee/losses.py` (the table's one writer),
from the same readings as the day's snapshots, and replaces that day's rows. Its blocking check
proves the identity of docs/oee-model.md on every machine-day: the loss tree adds up to the planned
production time of the day's snapshots.
"""

import dagster as dg
import pandas as pd
import pyarrow as pa

from oee_pipelines.defs.metadata import column_schema, table_metadata
from oee_pipelines.defs.oee.automation import rebuild_on_late_data
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.losses import LOSS_COLUMNS, summarize
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.oee.inputs import load_reference
from oee_pipelines.services.oee.losses import (
    RECONCILIATION_TOLERANCE_MINUTES,
    compute_day_losses,
    day_reconciliation,
    replace_day_losses,
)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    group_name="oee",
    owners=owners_of("oee"),
    kinds={"postgres"},
    metadata=column_schema("oee_losses"),
    deps=["enriched_telemetry", "oee_downtime_events", "oee_snapshots"],
    automation_condition=rebuild_on_late_data(),
    description="The six big losses per machine, shift instance and UTC day, with the reason codes "
    "beneath each (category -> reason -> minutes, occurrences); with the fully productive and unknown "
    "time they add up to the planned production time.",
)
def oee_losses(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reference = load_reference(warehouse)
    frames = []
    for day in partition_days(context):
        losses = compute_day_losses(lake.lake(), warehouse, reference, day)
        with warehouse.connect() as conn:
            replace_day_losses(conn, losses, day, context.run.run_id)
        frames.append(losses)
    present = [frame for frame in frames if len(frame)]
    losses = pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=LOSS_COLUMNS)
    per_line = summarize(losses, ["line_id"]) if len(losses) else pd.DataFrame()
    extra = {"minutes_per_line": dg.MetadataValue.md(per_line.round(2).to_markdown(index=False))}
    return dg.MaterializeResult(
        metadata=table_metadata(
            pa.Table.from_pandas(losses, preserve_index=False), schema="oee_losses", extra=extra
        )
    )


@dg.asset_check(
    asset="oee_losses",
    blocking=True,
    description="Every machine-day: fully productive time + the six losses + unknown time = the planned "
    "production time of its snapshots (within 0.01 minutes).",
)
def losses_reconcile_with_planned_production_time(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    days = partition_days(context.op_execution_context)
    with warehouse.connect() as conn:
        gaps = day_reconciliation(conn, days[0], days[-1])
    worst = float(gaps["difference"].abs().max()) if len(gaps) else 0.0
    failing = gaps[gaps["difference"].abs() > RECONCILIATION_TOLERANCE_MINUTES]
    return dg.AssetCheckResult(
        passed=failing.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "machine_days": len(gaps),
            "machine_days_off": len(failing),
            "largest_difference_minutes": round(worst, 6),
            "planned_production_minutes": round(float(gaps["planned_production_time"].sum()), 4)
            if len(gaps)
            else 0.0,
            "first_off": dg.MetadataValue.md(failing.head(10).to_markdown(index=False))
            if len(failing)
            else "",
        },
    )
