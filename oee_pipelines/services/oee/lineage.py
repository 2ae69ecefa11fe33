"""Trace one snapshot back to the raw readings in the lake (issue 18, item 5).

`oee_snapshots.source_systems` / `ingest_runs` (sql/053, written by the `oee_snapshots` asset) name
where a snapshot's readings came from. `trace_snapshot` returns the snapshot, each ingest run resolved
to what it was (an import job, a historian backfill job, or a plain Dagster run such as a scheduled
historian or IoT landing), and the raw lake readings of its machine and window, read with pyarrow
from `telemetry/source=*/date=D/*.parquet`. Plain Python: the API calls it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import Connection
from psycopg.rows import dict_row

from oee_pipelines.domain.telemetry import MACHINE_STATE
from oee_pipelines.services.oee.inputs import OEE_SIGNALS, raw_telemetry_day
from oee_pipelines.storage.lake import Lake

_IMPORT_RUN = re.compile(r"^import-(\d+)$")
SNAPSHOT_FIELDS = [
    "id",
    "org_id",
    "machine_id",
    "line_id",
    "shift_id",
    "work_order_id",
    "window_start",
    "snapshot_time",
    "total_pieces",
    "good_pieces",
    "rejected_pieces",
    "planned_production_time",
    "actual_production_time",
    "availability_pct",
    "performance_pct",
    "quality_pct",
    "oee_pct",
    "dagster_run_id",
    "source_systems",
    "ingest_runs",
]
READING_COLUMNS = [
    "ts",
    "signal",
    "value",
    "text_value",
    "quality",
    "source_system",
    "source_ref",
    "ingest_run_id",
]

# The documented lineage query (docs/data-mart.md): one mart row with each ingest run resolved.
LINEAGE_SQL = """
SELECT m.snapshot_id, m.snapshot_time, m.machine_id, m.good_pieces, m.total_pieces,
       m.source_systems, run.ingest_run_id,
       COALESCE(ij.job_id, ij_run.job_id) AS import_job_id,
       hb.job_id AS backfill_job_id
FROM oee_data_mart_table m
CROSS JOIN LATERAL unnest(m.ingest_runs) AS run (ingest_run_id)
LEFT JOIN import_jobs ij
       ON ij.org_id = m.org_id AND 'import-' || ij.job_id = run.ingest_run_id
LEFT JOIN import_jobs ij_run
       ON ij_run.org_id = m.org_id AND ij_run.dagster_run_id = run.ingest_run_id
LEFT JOIN historian_backfill_jobs hb
       ON hb.org_id = m.org_id AND hb.dagster_run_id = run.ingest_run_id
WHERE m.org_id = %(org_id)s AND m.machine_id = %(machine_id)s AND m.snapshot_time = %(window_end)s
"""


@dataclass(frozen=True)
class IngestRun:
    """One ingest run of a snapshot's readings: `import` (an import job), `historian_backfill` (a
    backfill job) or `dagster_run` (any other run that landed readings, e.g. a scheduled landing)."""

    ingest_run_id: str
    kind: str
    job_id: int | None


@dataclass(frozen=True)
class SnapshotTrace:
    snapshot: dict[str, Any]
    runs: list[IngestRun]
    # The raw lake readings (OEE signals) of the machine in [window_start, snapshot_time].
    readings: pa.Table


def resolve_runs(conn: Connection[Any], org_id: str, run_ids: list[str]) -> list[IngestRun]:
    """Each ingest run id as an import job, a historian backfill job, or a plain Dagster run."""
    runs = []
    for run_id in run_ids:
        match = _IMPORT_RUN.match(run_id)
        if match:
            row = conn.execute(
                "SELECT job_id FROM import_jobs WHERE org_id = %s AND job_id = %s",
                (org_id, int(match.group(1))),
            ).fetchone()
            runs.append(IngestRun(run_id, "import", int(row[0]) if row else None))
            continue
        found = conn.execute(
            """SELECT 'import', job_id FROM import_jobs WHERE org_id = %s AND dagster_run_id = %s
               UNION ALL
               SELECT 'historian_backfill', job_id FROM historian_backfill_jobs
               WHERE org_id = %s AND dagster_run_id = %s
               ORDER BY 2 LIMIT 1""",
            (org_id, run_id, org_id, run_id),
        ).fetchone()
        runs.append(
            IngestRun(run_id, str(found[0]), int(found[1]))
            if found
            else IngestRun(run_id, "dagster_run", None)
        )
    return runs


def window_readings(
    lake: Lake, org_id: str, machine_id: str, window_start: datetime, window_end: datetime
) -> pa.Table:
    """The raw readings of one machine's OEE signals time-stamped in [window_start, window_end], and
    the machine-state reading(s) in effect at window_start (the last at or before it, looked for on
    that day and the day before: states are sent on change only)."""
    start, end = (pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in (window_start, window_end))
    machine = (pc.field("org_id") == org_id) & (pc.field("machine_id") == machine_id)
    row_filter = (
        machine & pc.field("signal").isin(OEE_SIGNALS) & (pc.field("ts") >= start) & (pc.field("ts") <= end)
    )
    days = []
    day = window_start.date()
    while day <= window_end.date():
        days.append(day)
        day += timedelta(days=1)
    tables = [raw_telemetry_day(lake, day, row_filter).select(READING_COLUMNS) for day in days]
    before = machine & (pc.field("signal") == MACHINE_STATE) & (pc.field("ts") <= start)
    for day in (window_start.date(), window_start.date() - timedelta(days=1)):
        states = raw_telemetry_day(lake, day, before).select(READING_COLUMNS)
        if states.num_rows:
            last = pc.max(states["ts"])
            tables.append(states.filter(pc.equal(states["ts"], last)))
            break
    table = pa.concat_tables(tables)
    # The state at window_start may be found twice (inside the window and as the one in effect).
    table = pa.Table.from_pylist(
        [dict(row) for row in {tuple(r.items()): r for r in table.to_pylist()}.values()],
        schema=table.schema,
    )
    return table.sort_by([("ts", "ascending"), ("signal", "ascending")])


def trace_snapshot(
    conn: Connection[Any], lake: Lake, org_id: str, machine_id: str, window_end: datetime
) -> SnapshotTrace | None:
    """The snapshot of `machine_id` ending at `window_end`, its ingest runs resolved and its raw
    readings; None when the organization has no such snapshot."""
    with conn.cursor(row_factory=dict_row) as cursor:
        snapshot = cursor.execute(
            f"""SELECT {", ".join(SNAPSHOT_FIELDS)} FROM oee_snapshots
                WHERE org_id = %s AND machine_id = %s AND snapshot_time = %s""",  # fixed names
            (org_id, machine_id, window_end),
        ).fetchone()
    if snapshot is None:
        return None
    runs = resolve_runs(conn, org_id, list(snapshot["ingest_runs"]))
    readings = window_readings(lake, org_id, machine_id, snapshot["window_start"], snapshot["snapshot_time"])
    return SnapshotTrace(snapshot=dict(snapshot), runs=runs, readings=readings)
