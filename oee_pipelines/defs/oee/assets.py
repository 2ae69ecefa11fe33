"""The OEE assets per UTC day: downtime events, 15-minute snapshots, shift reports (and the MES crews).

Each asset reads the enriched telemetry of its days from the lake and the plan from the warehouse,
calls the domain functions (`domain.downtime`, `domain.oee`, `domain.shift_reports`) and replaces
exactly its day's rows in one transaction, so a re-run or a late-data rebuild never duplicates.

Row ownership:
- `oee_downtime_events`: rows with `source_system = 'derived'` starting in the day (the machine
  state, merged with reported downtime where the state is unknown). Reported rows (imports, MES)
  belong to the stages that load them; they are read here, never written.
- `oee_snapshots`: the day's 96 windows per machine (`snapshot_time` in `(D, D + 1]`).
- `shift_reports`: every line shift instance overlapping the day, recomputed from the warehouse's
  snapshots of the whole shift (a night shift is refreshed by either day it touches).
"""

import json
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
from psycopg import sql

from oee_pipelines.defs.metadata import column_schema, table_metadata
from oee_pipelines.defs.oee.automation import rebuild_on_late_data
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.alerts import PERFORMANCE_ABOVE_LIMIT, UNKNOWN_REASON_CODE, UNKNOWN_TIME
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.downtime import DOWNTIME_EVENT_COLUMNS, downtime_events
from oee_pipelines.domain.lineage import window_lineage
from oee_pipelines.domain.oee import SNAPSHOT_COLUMNS, aggregate, compute_snapshots
from oee_pipelines.domain.quality import check_performance
from oee_pipelines.domain.shift_reports import (
    SHIFT_REPORT_COLUMNS,
    build_shift_reports,
    reading_watermarks,
)
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.operators import sync_operator_shifts
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.services.oee.inputs import (
    DERIVED_SOURCE,
    PlantReference,
    day_timeline,
    load_day_plan,
    load_reference,
    numbers_as_floats,
    oee_readings,
    replace_alerts,
    reported_downtime,
)
from oee_pipelines.services.source_systems import MES
from oee_pipelines.storage.lake import Lake

OEE_GROUP = "oee"
DAILY: dict[str, Any] = {
    "partitions_def": daily_partitions,
    "backfill_policy": daily_backfill_policy(),
    "group_name": OEE_GROUP,
    "owners": owners_of(OEE_GROUP),
}


@dg.asset(
    **DAILY,
    kinds={"postgres"},
    metadata=column_schema("operator_shifts"),
    deps=["production_lines", "shifts"],
    pool=MES,  # the MES is read in this step only: it holds the MES pool, not the whole chain
    description="Who ran each line on the shifts overlapping the day (and the operator roster), from "
    "the MES's operator assignments. No MES configured (a spreadsheet-only plant): nothing is read "
    "or written and the OEE chain runs without operator context.",
)
def operator_shifts(
    context: dg.AssetExecutionContext, mes: MESResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    if not (mes.is_configured and mes.enabled):
        context.log.info("no MES configured (or `mes.enabled: false`): no operator context to load")
        return dg.MaterializeResult(metadata={"operator_context": "no MES configured"})
    window = context.partition_time_window
    # Every crew on shift during the days: a night shift starting the evening before counts too.
    landed = sync_operator_shifts(
        warehouse,
        mes.connector,
        mes.connection_config(),
        SyncWindow(window.start, window.end),
        context.run.run_id,
    )
    context.log.info(f"operator_shifts: {landed.outcome.counts()} {landed.figures()}")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(landed.data, schema="operator_shifts", time_column="start_time"),
            **landed.outcome.counts(),
            **landed.figures(),
        }
    )


@dg.asset(
    **DAILY,
    kinds={"postgres"},
    metadata=column_schema("oee_downtime_events"),
    # Reported stops (the import stage's daily asset) fill the unknown time of their days.
    deps=["enriched_telemetry", "imported_downtime"],
    automation_condition=rebuild_on_late_data(),
    description="Planned and unplanned stops inside scheduled time, from the machine state merged with "
    "reported downtime where the state is unknown (source_system 'derived'). Small stops are not "
    "events; they are a performance loss in the snapshots.",
)
def oee_downtime_events(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reference = load_reference(warehouse)
    frames = []
    for day in partition_days(context):
        events = derive_downtime(lake.lake(), warehouse, reference, day)
        start, end = day_bounds(day)
        data = _arrow(events)
        where = sql.SQL("source_system = %s AND start_time >= %s AND start_time < %s")
        warehouse.replace_rows("oee_downtime_events", data, where, (DERIVED_SOURCE, start, end))
        frames.append(events)
    events = _concat(frames, DOWNTIME_EVENT_COLUMNS)
    minutes = events.groupby("is_planned")["duration_minutes"].sum() if len(events) else pd.Series()
    extra = {
        "planned_downtime_minutes": round(float(minutes.get(True, 0.0)), 2),
        "unplanned_downtime_minutes": round(float(minutes.get(False, 0.0)), 2),
        "unresolved_events": int((~events["is_resolved"].astype(bool)).sum()) if len(events) else 0,
    }
    return dg.MaterializeResult(
        metadata=table_metadata(
            _arrow(events), schema="oee_downtime_events", time_column="start_time", extra=extra
        )
    )


def derive_downtime(
    lake: Lake, warehouse: WarehouseResource, reference: PlantReference, day: date
) -> pd.DataFrame:
    """The day's derived downtime events; the timeline's UNKNOWN_TIME / UNKNOWN_REASON_CODE alerts."""
    plan = load_day_plan(warehouse, reference, day)
    readings = oee_readings(lake, day, reference, plan)
    timeline = day_timeline(readings, reference, reported_downtime(warehouse, day), day)
    replace_alerts(warehouse, timeline.alerts, day, [UNKNOWN_TIME, UNKNOWN_REASON_CODE])
    events = downtime_events(timeline, plan.line_shifts, reference.machines)
    events["source_ref"] = (
        events["source_system"].astype(str) + ":" + events["source_ref"].fillna("").astype(str)
    )
    events["source_system"] = DERIVED_SOURCE
    return events[DOWNTIME_EVENT_COLUMNS]


@dg.asset(
    **DAILY,
    kinds={"postgres"},
    metadata=column_schema("oee_snapshots"),
    deps=["enriched_telemetry", "oee_downtime_events"],
    automation_condition=rebuild_on_late_data(),
    description="OEE per machine per 15-minute window (96 a day, snapshot_time = window end, UTC): "
    "ISO 22400 times, pieces, factors (NULL when nothing was planned) and six-big-loss minutes.",
)
def oee_snapshots(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reference = load_reference(warehouse)
    frames = []
    for day in partition_days(context):
        snapshots = compute_day_snapshots(lake.lake(), warehouse, reference, day)
        flagged = check_performance(snapshots)
        replace_alerts(warehouse, flagged.alerts, day, [PERFORMANCE_ABOVE_LIMIT])
        start, end = day_bounds(day)
        data = _arrow(snapshots.assign(dagster_run_id=context.run.run_id))
        where = sql.SQL("snapshot_time > %s AND snapshot_time <= %s")
        warehouse.replace_rows("oee_snapshots", data, where, (start, end))
        frames.append(snapshots)
    snapshots = _concat(frames, SNAPSHOT_COLUMNS)
    return dg.MaterializeResult(
        metadata=table_metadata(
            _arrow(snapshots),
            schema="oee_snapshots",
            time_column="snapshot_time",
            extra=oee_figures(snapshots),
        )
    )


def compute_day_snapshots(
    lake: Lake, warehouse: WarehouseResource, reference: PlantReference, day: date
) -> pd.DataFrame:
    plan = load_day_plan(warehouse, reference, day)
    readings = oee_readings(lake, day, reference, plan)
    timeline = day_timeline(readings, reference, reported_downtime(warehouse, day), day)
    snapshots = compute_snapshots(
        timeline=timeline,
        line_shifts=plan.line_shifts,
        machines=reference.machines,
        counters=readings[readings["signal"].isin([PIECES_GOOD, PIECES_REJECTED])],
        schedules=plan.context.schedules,
    )[SNAPSHOT_COLUMNS]
    # Which sources and ingest runs each window's readings came from (sql/053, issue 18 item 5).
    return window_lineage(snapshots, readings)


def oee_figures(snapshots: pd.DataFrame) -> dict[str, object]:
    """The figures a user looks for: time-weighted OEE and factors of the run, per line too."""
    total = aggregate(snapshots.assign(all="all"), ["all"]).iloc[0]
    per_line = aggregate(snapshots, ["line_id"])[
        ["line_id", "availability_pct", "performance_raw_pct", "quality_pct", "oee_pct"]
    ]
    figures: dict[str, object] = {
        f"{name}": None if pd.isna(total[name]) else round(float(total[name]), 3)
        for name in ("oee_pct", "availability_pct", "performance_raw_pct", "quality_pct")
    }
    figures["oee_per_line"] = dg.MetadataValue.md(per_line.round(2).to_markdown(index=False))
    figures["windows_with_plan"] = int((snapshots["planned_production_time"] > 0).sum())
    figures["performance_above_limit"] = int(snapshots["performance_above_limit"].sum())
    return figures


@dg.asset(
    **DAILY,
    kinds={"postgres"},
    metadata=column_schema("shift_reports"),
    deps=["oee_snapshots", "oee_downtime_events"],
    automation_condition=rebuild_on_late_data(),
    description="Per line and shift instance overlapping the day: time-weighted OEE and factors, pieces, "
    "top downtime reasons; 'draft' until the shift ended and every machine sent data to its end.",
)
def shift_reports(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reference = load_reference(warehouse)
    frames = []
    for day in partition_days(context):
        reports = build_day_shift_reports(lake.lake(), warehouse, reference, day)
        start, end = day_bounds(day)
        where = sql.SQL("shift_start < %s AND shift_end > %s")
        warehouse.replace_rows("shift_reports", _arrow(reports), where, (end, start))
        frames.append(reports)
    reports = _concat(frames, SHIFT_REPORT_COLUMNS).drop_duplicates(["line_id", "shift_id", "shift_date"])
    extra = {
        "final": int((reports["status"] == "final").sum()),
        "draft": int((reports["status"] == "draft").sum()),
    }
    return dg.MaterializeResult(
        metadata=table_metadata(
            _arrow(reports), schema="shift_reports", time_column="shift_start", extra=extra
        )
    )


def build_day_shift_reports(
    lake: Lake, warehouse: WarehouseResource, reference: PlantReference, day: date
) -> pd.DataFrame:
    plan = load_day_plan(warehouse, reference, day)
    start, end = (pd.Timestamp(bound) for bound in day_bounds(day))
    shifts = plan.line_shifts
    instances = shifts[(shifts["start"] < end) & (shifts["end"] > start)]
    if instances.empty:
        return pd.DataFrame(columns=SHIFT_REPORT_COLUMNS)
    first, last = instances["start"].min(), instances["end"].max()
    snapshots = warehouse.query_frame(
        "SELECT * FROM oee_snapshots WHERE snapshot_time > %s AND snapshot_time <= %s", (first, last)
    )
    events = warehouse.query_frame(
        "SELECT * FROM oee_downtime_events WHERE source_system = %s AND start_time < %s AND end_time > %s",
        (DERIVED_SOURCE, last, first),
    )
    reports = build_shift_reports(
        snapshots=numbers_as_floats(snapshots),
        downtime_events=numbers_as_floats(events).assign(
            start_time=lambda f: pd.to_datetime(f["start_time"], utc=True),
            end_time=lambda f: pd.to_datetime(f["end_time"], utc=True),
        ),
        line_shifts=instances,
        operator_shifts=plan.operator_shifts,
        machines=reference.machines,
        watermarks=reading_watermarks(oee_readings(lake, day, reference, plan)),
        now=pd.Timestamp.now(tz="UTC"),
    )
    reports["top_downtime_reasons"] = [json.dumps(reasons) for reasons in reports["top_downtime_reasons"]]
    return reports[SHIFT_REPORT_COLUMNS]


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    present = [frame for frame in frames if len(frame)]
    return pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=columns)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """A frame as Arrow; pandas' missing values (NaN, NaT) become nulls."""
    return pa.Table.from_pandas(frame, preserve_index=False)
