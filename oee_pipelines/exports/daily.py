"""What one published day holds, per table and organization: warehouse queries and lake aggregates.

The warehouse tables use the API's own queries (one definition of each export), over the day's
windows: snapshots and the data mart by `snapshot_time` in `(day, next day]` (a window's end), downtime
by `start_time`, shift reports by `shift_start` and the work order figures (material consumption,
production variance) by the order's `planned_start` in `[day, next day)`. Hourly telemetry aggregates
come from the lake with DuckDB: the day's enriched telemetry when it has been built, the raw
telemetry of every source otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import Connection

from oee_pipelines.exports.columns import (
    DATA_MART,
    DOWNTIME,
    LOSSES,
    MATERIAL_CONSUMPTION,
    PRODUCTION_VARIANCE,
    SHIFT_REPORTS,
    SNAPSHOTS,
    TELEMETRY_AGGREGATES,
    ExportTable,
)
from oee_pipelines.exports.postgres_source import copy_batches
from oee_pipelines.exports.queries import (
    ExportQuery,
    TimeRange,
    data_mart_query,
    downtime_query,
    losses_query,
    material_consumption_query,
    production_variance_query,
    shift_reports_query,
    snapshots_query,
)
from oee_pipelines.storage.lake import Lake

ENRICHED_TELEMETRY_FOLDER = "enriched_telemetry"
RAW_TELEMETRY_FOLDER = "telemetry"
_HOUR_MICROSECONDS = 3_600_000_000

HOURLY_AGGREGATES_SQL = f"""
SELECT org_id, make_timestamp((epoch_us(ts) // {_HOUR_MICROSECONDS}) * {_HOUR_MICROSECONDS}) AS bucket,
       machine_id, signal, avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value,
       count(value) AS count
FROM read_parquet($files, union_by_name = true)
WHERE ts >= $start AND ts < $end AND value IS NOT NULL
GROUP BY ALL
ORDER BY org_id, bucket, machine_id, signal
"""


@dataclass(frozen=True)
class PublishedTable:
    """One published table: its folder and file name, its columns, and the column its times are in."""

    name: str
    table: ExportTable
    time_column: str
    description: str
    query: Callable[[str, TimeRange], ExportQuery] | None = None  # None: from the lake

    @property
    def from_lake(self) -> bool:
        return self.query is None


PUBLISHED_TABLES = (
    PublishedTable(
        "oee_snapshots", SNAPSHOTS, "snapshot_time", "OEE per machine per 15-minute window", snapshots_query
    ),
    PublishedTable("oee_downtime_events", DOWNTIME, "start_time", "Stops, by start time", downtime_query),
    PublishedTable(
        "shift_reports", SHIFT_REPORTS, "shift_start", "One row per line per shift", shift_reports_query
    ),
    PublishedTable(
        "oee_data_mart", DATA_MART, "snapshot_time", "The denormalized OEE data mart", data_mart_query
    ),
    PublishedTable(
        "telemetry_hourly", TELEMETRY_AGGREGATES, "bucket", "Hourly avg/min/max/count per machine and signal"
    ),
    PublishedTable(
        "material_consumption",
        MATERIAL_CONSUMPTION,
        "planned_start",
        "Material consumed per work order and material, by the order's planned start",
        material_consumption_query,
    ),
    PublishedTable(
        "production_variance",
        PRODUCTION_VARIANCE,
        "planned_start",
        "Yield and material variance per work order, by the order's planned start",
        production_variance_query,
    ),
    PublishedTable(
        "oee_losses",
        LOSSES,
        "day",
        "The six big losses per machine, shift and UTC day, with their reason codes",
        losses_query,
    ),
)


def day_range(day: date) -> TimeRange:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return TimeRange(start=start, end=start + timedelta(days=1), by_window_end=True)


def organizations(conn: Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM organizations ORDER BY id").fetchall()]


def warehouse_day(conn: Connection, published: PublishedTable, org_id: str, day: date) -> pa.Table:
    if published.query is None:
        raise ValueError(f"{published.name} is read from the lake, not the warehouse")
    query = published.query(org_id, day_range(day))
    batches = copy_batches(conn, query.statement, query.params, published.table)
    return pa.Table.from_batches(list(batches), schema=published.table.arrow_schema)


def _day_files(lake: Lake, day: date) -> list[str]:
    enriched = lake.list_files(f"{ENRICHED_TELEMETRY_FOLDER}/{Lake.date_folder(day)}")
    files = enriched or sorted(
        lake.fs.glob(lake.path(RAW_TELEMETRY_FOLDER, "source=*", Lake.date_folder(day), "*.parquet"))
    )
    prefix = "" if lake.is_local else lake.url_root.split("://", 1)[0] + "://"
    return [prefix + path for path in files]


def hourly_telemetry(lake: Lake, day: date, org_ids: list[str]) -> dict[str, pa.Table]:
    """Each organization's hourly aggregates of the day (an empty table where it has no readings)."""
    empty = TELEMETRY_AGGREGATES.arrow_schema.empty_table()
    files = _day_files(lake, day)
    if not files:
        return dict.fromkeys(org_ids, empty)
    window = day_range(day)
    connection = duckdb.connect(config={"threads": 2})
    try:
        lake.register_in(connection)
        parameters = {"files": files, "start": window.start, "end": window.end}
        rows = connection.sql(HOURLY_AGGREGATES_SQL, params=parameters).to_arrow_table()
    finally:
        connection.close()
    by_org = {}
    for org_id in org_ids:
        own = rows.filter(pc.equal(rows.column("org_id"), org_id))
        by_org[org_id] = pa.Table.from_batches(
            [TELEMETRY_AGGREGATES.conform(batch) for batch in own.to_batches()],
            schema=TELEMETRY_AGGREGATES.arrow_schema,
        )
    return by_org
