"""`enriched_telemetry`: every reading of every source for a UTC day, cleaned and with its production context.

Per day: the raw readings of every source folder in the lake; the range rules (REJECT removes,
DEGRADE sets quality 50, ALERT keeps) and duplicate removal; completeness per sensor and hour; the
context as of each reading's timestamp (vectorised look-ups in `domain.enrichment`). The day folder
`enriched_telemetry/date=D/` is replaced atomically, and the day's OUT_OF_RANGE, DUPLICATE, GAP and
LOW_COMPLETENESS alerts are replaced in `data_quality_alerts`. A ranged run handles its days one by
one, so memory stays at one day.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.defs.metadata import column_schema, table_metadata
from oee_pipelines.defs.oee.automation import rebuild_on_late_data
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.alerts import DUPLICATE, GAP, LOW_COMPLETENESS, OUT_OF_RANGE, concat_alerts
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.enrichment import enrich_telemetry
from oee_pipelines.domain.quality import check_completeness, expected_intervals_from_iot_sensors
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.oee.inputs import (
    PlantReference,
    clean_table,
    enriched_folder,
    load_day_plan,
    load_reference,
    raw_telemetry_day,
    replace_alerts,
)
from oee_pipelines.storage.lake import Lake

# Telemetry written by the source stages (historian, IoT, imports), declared by key only.
UPSTREAM_TELEMETRY = [
    dg.AssetKey("historian_points"),
    dg.AssetKey("iot_sensor_batches"),
    dg.AssetKey("imported_sensor_logs"),
]
TELEMETRY_ALERT_TYPES = [OUT_OF_RANGE, DUPLICATE, GAP, LOW_COMPLETENESS]
ENRICHED_FILE = "part-0.parquet"


@dataclass(frozen=True)
class EnrichedDay:
    table: pa.Table
    counts: Counter[str]


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    deps=[*UPSTREAM_TELEMETRY, dg.AssetKey("operator_shifts")],
    automation_condition=rebuild_on_late_data(),
    group_name="oee",
    owners=owners_of("oee"),
    kinds={"parquet", "pandas"},
    metadata=column_schema("enriched_telemetry"),
    description="Every reading of the day from every source, range-checked and de-duplicated, with its "
    "work order, recipe, schedule, shift and operators as of its timestamp (lake, one folder per day).",
)
def enriched_telemetry(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reference = load_reference(warehouse)
    totals: Counter[str] = Counter()
    last = None
    for day in partition_days(context):
        last = enrich_day(lake.lake(), warehouse, reference, day)
        totals.update(last.counts)
        context.log.info(f"{day}: {dict(last.counts)}")
    assert last is not None  # a partition range always holds at least one day
    in_schedule = totals["readings_in_schedule"]
    share = totals["readings_in_schedule_with_context"] / in_schedule if in_schedule else None
    extra = {
        "dagster/row_count": totals["written"],
        "days": len(partition_days(context)),
        "context_share_pct": round(100.0 * share, 3) if share is not None else None,
        **{name: int(value) for name, value in sorted(totals.items())},
    }
    return dg.MaterializeResult(
        metadata=table_metadata(last.table, schema="enriched_telemetry", time_column="ts", extra=extra)
    )


def enrich_day(lake: Lake, warehouse: WarehouseResource, reference: PlantReference, day: date) -> EnrichedDay:
    raw = raw_telemetry_day(lake, day)
    cleaned = clean_table(raw, reference)
    readings = cleaned.readings
    ranges, unique = cleaned.clean.ranges, cleaned.clean.unique
    start, end = day_bounds(day)
    completeness = check_completeness(
        readings,
        expected_intervals_from_iot_sensors(reference.iot_sensors),
        pd.Timestamp(start),
        pd.Timestamp(end),
    )
    plan = load_day_plan(warehouse, reference, day)
    enriched = enrich_telemetry(cleaned.table, plan.context)
    lake.replace_folder(enriched_folder(day), {ENRICHED_FILE: enriched.table})
    replace_alerts(
        warehouse,
        concat_alerts([ranges.alerts, unique.alerts, completeness.alerts]),
        day,
        TELEMETRY_ALERT_TYPES,
    )
    counts: Counter[str] = Counter(
        readings_read=raw.num_rows,
        written=enriched.readings,
        out_of_range=ranges.counts["violations"],
        rejected=ranges.counts["rejected"],
        degraded=ranges.counts["degraded"],
        duplicates_removed=unique.counts["duplicates"],
        completeness_gaps=completeness.counts["gaps"],
        hours_below_completeness=completeness.counts["hours_below_share"],
        readings_in_schedule=enriched.readings_in_schedule,
        readings_in_schedule_with_context=enriched.readings_in_schedule_with_context,
    )
    for source, rows in _rows_per_source(raw).items():
        counts[f"readings_from_{source}"] = rows
    return EnrichedDay(table=enriched.table, counts=counts)


def _rows_per_source(raw: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(raw["source_system"]).to_pylist() if raw.num_rows else []
    return {entry["values"]: entry["counts"] for entry in counts}
