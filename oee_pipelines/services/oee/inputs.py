"""What the telemetry and OEE stages read and write besides their own table: reference data and the
production plan from the warehouse, telemetry day folders from the lake, and data-quality alerts.

Shared by `defs/telemetry`, `defs/oee` and `defs/mart` so every stage reads a day the same way.

The ideal cycle time of a reading follows the plant model's precedence: the machine's own time for
the product (`machine_cycle_times`, plant model before MES), else the product's default
(`products.ideal_cycle_time_seconds`), else the MES recipe of the schedule.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from psycopg import Connection, sql

from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.downtime import DowntimeSettings, Timeline, build_timeline
from oee_pipelines.domain.enrichment import ProductionContext, build_context, enrich_telemetry
from oee_pipelines.domain.quality import RuleResult, check_ranges, drop_duplicates
from oee_pipelines.domain.shifts import expand_shifts, line_shift_instances
from oee_pipelines.domain.telemetry import (
    MACHINE_STATE,
    PIECES_GOOD,
    PIECES_REJECTED,
    TELEMETRY_SCHEMA,
)
from oee_pipelines.services.quality_alerts import replace_day_alerts
from oee_pipelines.storage.lake import Lake


class WarehouseResource(Protocol):
    """What these inputs need of the warehouse (the Dagster `WarehouseResource` provides it)."""

    def query_frame(
        self, query: str | sql.Composable, params: Sequence[Any] | dict[str, Any] = ()
    ) -> pd.DataFrame: ...

    def connect(self) -> AbstractContextManager[Connection]: ...


RAW_TELEMETRY = "telemetry"
ENRICHED_TELEMETRY = "enriched_telemetry"
DERIVED_SOURCE = "derived"
OEE_SIGNALS = [MACHINE_STATE, PIECES_GOOD, PIECES_REJECTED]
TIMELINE_COLUMNS = [
    "org_id",
    "line_id",
    "machine_id",
    "signal",
    "ts",
    "value",
    "text_value",
    "quality",
    "source_system",
    "source_ref",
    "ideal_cycle_time_s",
    "ingest_run_id",
]
# Context reaches this far around a day: night shifts and schedules crossing midnight, any zone.
PLAN_MARGIN = timedelta(days=1)
# Rows of the next day read to finish a day: its first counter closes the day's last window, its
# states end a stop running through midnight.
NEXT_DAY_LOOKAHEAD = timedelta(hours=6)


@dataclass(frozen=True)
class PlantReference:
    """The warehouse reference tables the OEE needs (every organization)."""

    sites: pd.DataFrame
    lines: pd.DataFrame
    machines: pd.DataFrame
    shifts: pd.DataFrame
    shift_breaks: pd.DataFrame
    reason_codes: pd.DataFrame
    recipes: pd.DataFrame
    sensor_ranges: pd.DataFrame
    iot_sensors: pd.DataFrame
    # machine_id, product_id, ideal_cycle_time_seconds (a plant_model row wins over a mes row).
    machine_cycle_times: pd.DataFrame
    # id, ideal_cycle_time_seconds: the product's default over every machine (plant model).
    products: pd.DataFrame


@dataclass(frozen=True)
class DayPlan:
    """Shift instances per line and the production context around one UTC day."""

    day: date
    line_shifts: pd.DataFrame
    context: ProductionContext
    work_orders: pd.DataFrame
    operator_shifts: pd.DataFrame


def load_reference(warehouse: WarehouseResource) -> PlantReference:
    def table(name: str, where: str = "") -> pd.DataFrame:
        return numbers_as_floats(warehouse.query_frame(f"SELECT * FROM {name} {where}"))  # fixed names

    return PlantReference(
        sites=table("sites"),
        lines=table("production_lines"),
        machines=table("machines", "WHERE is_active ORDER BY id"),
        shifts=table("shifts", "WHERE is_active"),
        shift_breaks=table("shift_breaks"),
        reason_codes=table("reason_codes"),
        recipes=table("recipes"),
        sensor_ranges=table("sensor_range_config"),
        iot_sensors=table("iot_sensors"),
        machine_cycle_times=table(
            "machine_cycle_times", "ORDER BY machine_id, product_id, source = 'plant_model' DESC"
        ),
        products=table("products"),
    )


def load_day_plan(warehouse: WarehouseResource, reference: PlantReference, day: date) -> DayPlan:
    start, end = day_bounds(day)
    first, last = start - PLAN_MARGIN, end + PLAN_MARGIN
    calendar = expand_shifts(reference.shifts, reference.sites, first, last, reference.shift_breaks)
    line_shifts = line_shift_instances(calendar.instances, reference.lines)
    overlapping = "WHERE planned_end > %s AND planned_start < %s"
    schedules = numbers_as_floats(
        warehouse.query_frame(f"SELECT * FROM production_schedules {overlapping}", (first, last))
    )
    work_orders = numbers_as_floats(
        warehouse.query_frame(f"SELECT * FROM work_orders {overlapping}", (first, last))
    )
    operator_shifts = warehouse.query_frame(
        "SELECT * FROM operator_shifts WHERE end_time > %s AND start_time < %s", (first, last)
    )
    context = build_context(
        schedules=_utc(schedules, "planned_start", "planned_end"),
        work_orders=work_orders,
        recipes=reference.recipes,
        line_shifts=line_shifts,
        operator_shifts=_utc(operator_shifts, "start_time", "end_time"),
        machines=reference.machines,
        machine_cycle_times=reference.machine_cycle_times,
        products=reference.products,
    )
    return DayPlan(day, line_shifts, context, work_orders, operator_shifts)


def raw_telemetry_day(lake: Lake, day: date, row_filter: pc.Expression | None = None) -> pa.Table:
    """Every source's readings of one day (`telemetry/source=*/date=D/*.parquet`), in TELEMETRY_SCHEMA.

    Files are concatenated in path order, each in its own row order; a column a file lacks is NULL,
    other types (dictionary strings, other integer widths, timestamp units) are cast to the schema's.
    A whole day is read with DuckDB (issue 19: faster than a pyarrow dataset scan, see bench_enrichment); a
    filtered read stays a pyarrow scan, whose filter skips the row groups and files it excludes."""
    files = _raw_day_files(lake, day)
    if not files:
        return TELEMETRY_SCHEMA.empty_table()
    if row_filter is None:
        return _read_telemetry_files(lake, files)
    dataset = pads.dataset(files, schema=TELEMETRY_SCHEMA, filesystem=lake.fs, format="parquet")
    return dataset.to_table(filter=row_filter)


def _read_telemetry_files(lake: Lake, files: list[str]) -> pa.Table:
    """The files' rows with DuckDB (default threads: one per core), conformed to TELEMETRY_SCHEMA."""
    prefix = "" if lake.is_local else lake.url_root.split("://", 1)[0] + "://"
    # No hive columns from `source=`/`date=`; columns matched by name, file by file, in file order.
    source = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
    parameters = {"files": [prefix + path for path in files]}
    connection = duckdb.connect()
    try:
        lake.register_in(connection)
        described = {
            row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}", parameters).fetchall()
        }
        present = [name for name in TELEMETRY_SCHEMA.names if name in described]
        # A SQL query, not the relation API's `select`, which reads this about 1.5x slower.
        columns_sql = ", ".join(f'"{name}"' for name in present) or "NULL AS no_telemetry_column"
        table = connection.sql(f"SELECT {columns_sql} FROM {source}", params=parameters).to_arrow_table()
    finally:
        connection.close()
    # DuckDB hands back TIMESTAMPTZ as tz "Etc/UTC" and may widen types across files: cast back.
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in present
        else pa.nulls(table.num_rows, field.type)
        for field in TELEMETRY_SCHEMA
    ]
    return pa.Table.from_arrays(columns, schema=TELEMETRY_SCHEMA)


@dataclass(frozen=True)
class CleanReadings:
    """Raw readings after the range rules and duplicate removal (each with its alerts and counts)."""

    ranges: RuleResult
    unique: RuleResult

    @property
    def frame(self) -> pd.DataFrame:
        return self.unique.frame.reset_index(drop=True)


def clean_readings(readings: pd.DataFrame, reference: PlantReference) -> CleanReadings:
    """REJECTed readings removed, DEGRADEd ones at quality 50, duplicates removed."""
    ranges = check_ranges(readings, reference.sensor_ranges)
    return CleanReadings(ranges=ranges, unique=drop_duplicates(ranges.frame))


@dataclass(frozen=True)
class CleanTable:
    """A day's raw readings cleaned: the rules' results, and the kept readings as an Arrow table."""

    readings: pd.DataFrame
    clean: CleanReadings
    # The kept readings in TELEMETRY_SCHEMA: what `to_telemetry_table(clean.frame)` gives, taken from the
    # raw table (no pandas round trip of the whole day).
    table: pa.Table


def clean_table(raw: pa.Table, reference: PlantReference) -> CleanTable:
    """`clean_readings` of a raw table (in TELEMETRY_SCHEMA), with the kept rows taken from `raw`."""
    readings = raw.to_pandas()
    clean = clean_readings(readings, reference)
    kept = clean.unique.frame
    # `readings` has a RangeIndex and the rules keep their rows' labels, in order: the labels are raw
    # positions, ascending. A mask filters chunk by chunk (a take first joins each column's chunks).
    keep = np.zeros(raw.num_rows, dtype=bool)
    keep[kept.index.to_numpy(dtype=np.int64)] = True
    table = raw.filter(pa.array(keep))
    # As from pandas: the rules' quality (DEGRADE), and a NaN value is a null.
    quality = pa.array(kept["quality"].to_numpy(), from_pandas=True).cast(pa.int16())
    table = table.set_column(
        table.schema.get_field_index("quality"), TELEMETRY_SCHEMA.field("quality"), quality
    )
    value = table["value"]
    if table.num_rows and pc.any(pc.is_nan(value)).as_py():
        not_a_number = pc.fill_null(pc.is_nan(value), False)
        value = pc.if_else(not_a_number, pa.scalar(None, pa.float64()), value)
        table = table.set_column(
            table.schema.get_field_index("value"), TELEMETRY_SCHEMA.field("value"), value
        )
    return CleanTable(readings=readings, clean=clean, table=table.combine_chunks())


def enriched_folder(day: date) -> str:
    return posixpath.join(ENRICHED_TELEMETRY, Lake.date_folder(day))


def enriched_day(
    lake: Lake, day: date, columns: list[str] | None = None, signals: list[str] | None = None
) -> pa.Table | None:
    """One day of enriched telemetry (optionally some columns and signals); None if not built yet."""
    files = lake.list_files(enriched_folder(day))
    if not files:
        return None
    dataset = pads.dataset(files, filesystem=lake.fs, format="parquet")
    row_filter = pc.field("signal").isin(signals) if signals else None
    return dataset.to_table(columns=columns, filter=row_filter)


class ReadingsCache:
    """`oee_readings` per day, shared by the OEE assets of one process (issue 19: each of the four read,
    cleaned and enriched the same day again).

    The key is everything the readings are computed from: the lake, the day, each file read (the
    enriched day, the raw days before and after: path, size, modification time in ns, inode or the
    object store's ETag) and a digest of the warehouse inputs (the range rules, the plan's context).
    A rebuilt folder, a landed late file, a changed rule or plan is a new key: a miss, never a stale
    hit. The files are fingerprinted before and after the computation and a result is kept only if
    they did not change meanwhile. On an object store without versions in its listing nothing is
    kept. Bounded: at most `max_entries` days and `max_rows` rows, least recently used first out.
    Thread-safe; every caller gets its own copy."""

    def __init__(self, max_entries: int = 8, max_rows: int = 2_000_000) -> None:
        self.max_entries = max_entries
        self.max_rows = max_rows
        self._entries: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(
        self,
        lake: Lake,
        day: date,
        reference: PlantReference,
        plan: DayPlan,
        compute: Callable[[], pd.DataFrame],
    ) -> pd.DataFrame:
        files = _input_files_fingerprint(lake, day)
        if files is None or self.max_entries <= 0:
            return compute()
        key = (lake.url_root, day, files, _inputs_digest(reference, plan))
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return cached.copy()
            self.misses += 1
        readings = compute()
        if _input_files_fingerprint(lake, day) == files and len(readings) <= self.max_rows:
            with self._lock:
                self._entries[key] = readings.copy()
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries or self._rows() > self.max_rows:
                    self._entries.popitem(last=False)
        return readings

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _rows(self) -> int:
        return sum(len(frame) for frame in self._entries.values())


READINGS_CACHE = ReadingsCache()


def _input_files_fingerprint(lake: Lake, day: date) -> tuple[Any, ...] | None:
    """Each file `oee_readings` reads with what identifies its version; None if one is unknown."""
    files = [
        *lake.list_files(enriched_folder(day)),
        *_raw_day_files(lake, day - timedelta(days=1)),
        *_raw_day_files(lake, day + timedelta(days=1)),
    ]
    versions: list[tuple[Any, ...]] = []
    for path in files:
        try:
            if lake.is_local:
                stat = os.stat(path)
                versions.append((path, stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns))
                continue
            info = lake.fs.info(path)
        except FileNotFoundError:
            return None  # replaced while listed: not a state to remember
        version = next((info[name] for name in _OBJECT_VERSION_FIELDS if info.get(name)), None)
        if version is None:
            return None
        versions.append((path, info.get("size"), str(version)))
    return tuple(versions)


# Fields an object store lists that change with the content (a modification time in seconds does not
# tell two writes in one second apart).
_OBJECT_VERSION_FIELDS = ("ETag", "etag", "generation", "md5Hash", "content_md5")


def _inputs_digest(reference: PlantReference, plan: DayPlan) -> bytes:
    """A digest of the warehouse inputs of `oee_readings` (equal bytes: equal inputs)."""
    context = plan.context
    frames = (
        reference.sensor_ranges,
        context.schedules,
        context.shifts,
        context.operators,
        context.machine_lines,
        context.machine_cycle_times,
        context.product_cycle_times,
    )
    return hashlib.blake2b(pickle.dumps(frames, protocol=5), digest_size=32).digest()


def _raw_day_files(lake: Lake, day: date) -> list[str]:
    return sorted(lake.fs.glob(lake.path(RAW_TELEMETRY, "source=*", Lake.date_folder(day), "*.parquet")))


def oee_readings(lake: Lake, day: date, reference: PlantReference, plan: DayPlan) -> pd.DataFrame:
    """State and counter readings the OEE of `day` needs: the enriched day, the last state before it,
    and the first hours of the next day (so a stop through midnight is judged whole and the counter at
    00:00 closes the day's last window). The neighbours come from the raw lake, cleaned and enriched
    here, so a day's OEE does not wait for the next day's enrichment.

    The four OEE assets of a run ask for the same days: the answer is kept in a small process-wide
    cache (`READINGS_CACHE`) keyed by everything it is computed from, so a rebuilt lake file, a changed
    range rule or a changed plan is a different key, never a stale answer. Each caller gets its own copy."""
    return READINGS_CACHE.get_or_compute(
        lake, day, reference, plan, lambda: _compute_oee_readings(lake, day, reference, plan)
    )


def _compute_oee_readings(lake: Lake, day: date, reference: PlantReference, plan: DayPlan) -> pd.DataFrame:
    start, end = day_bounds(day)
    frames = []
    today = enriched_day(lake, day, TIMELINE_COLUMNS, OEE_SIGNALS)
    if today is not None:
        frames.append(today.to_pandas())
    states = pc.field("signal") == MACHINE_STATE
    before = raw_telemetry_day(lake, day - timedelta(days=1), states & (pc.field("ts") < start)).to_pandas()
    if len(before):
        frames.append(before.sort_values("ts", kind="stable").groupby("machine_id").tail(1))
    next_hours = pc.field("signal").isin(OEE_SIGNALS) & (pc.field("ts") < end + NEXT_DAY_LOOKAHEAD)
    after = raw_telemetry_day(lake, day + timedelta(days=1), next_hours)
    if after.num_rows:
        frames.append(enrich_telemetry(clean_table(after, reference).table, plan.context).table.to_pandas())
    if not frames:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    readings = pd.concat([frame.reindex(columns=TIMELINE_COLUMNS) for frame in frames], ignore_index=True)
    for column in readings.columns:
        if isinstance(readings[column].dtype, pd.CategoricalDtype):
            readings[column] = readings[column].astype(object)
    return readings.sort_values(["machine_id", "ts"], kind="stable").reset_index(drop=True)


def reported_downtime(warehouse: WarehouseResource, day: date) -> pd.DataFrame:
    """Downtime reported by other stages (imports, MES) overlapping the day: fills unknown time only."""
    start, end = day_bounds(day)
    frame = warehouse.query_frame(
        """SELECT * FROM oee_downtime_events
           WHERE source_system <> %s AND start_time < %s AND (end_time IS NULL OR end_time > %s)""",
        (DERIVED_SOURCE, end, start),
    )
    return _utc(numbers_as_floats(frame), "start_time", "end_time")


def day_timeline(
    readings: pd.DataFrame,
    reference: PlantReference,
    reported: pd.DataFrame,
    day: date,
    settings: DowntimeSettings | None = None,
) -> Timeline:
    start, end = day_bounds(day)
    return build_timeline(
        telemetry=readings,
        reason_codes=reference.reason_codes,
        machines=reference.machines,
        range_start=pd.Timestamp(start),
        range_end=pd.Timestamp(end),
        imported_downtime=reported,
        settings=settings,
    )


def replace_alerts(
    warehouse: WarehouseResource, alerts: pd.DataFrame, day: date, alert_types: list[str]
) -> int:
    """Make the day's alerts of `alert_types` exactly `alerts` (a re-run replaces, never adds)."""
    with warehouse.connect() as conn:
        return replace_day_alerts(conn, alerts, day, alert_types)


def alert_counts(warehouse: WarehouseResource, days: list[date], alert_types: list[str]) -> dict[str, float]:
    """Rows and summed metric per alert type over `days` (what the checks report)."""
    frame = warehouse.query_frame(
        """SELECT alert_type, count(*) AS alerts, COALESCE(sum(metric_value), 0) AS metric
           FROM data_quality_alerts WHERE partition_date = ANY(%s) AND alert_type = ANY(%s)
           GROUP BY alert_type""",
        (days, alert_types),
    )
    counts = {f"{t.lower()}_alerts": 0.0 for t in alert_types}
    for row in frame.itertuples(index=False):
        counts[f"{row.alert_type.lower()}_alerts"] = float(row.alerts)
        counts[f"{row.alert_type.lower()}_metric_sum"] = float(row.metric)
    return counts


def numbers_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """PostgreSQL numerics arrive as Decimal: the domain computes in float64."""
    for column in frame.columns:
        sample = frame[column].dropna()
        if len(sample) and isinstance(sample.iloc[0], Decimal):
            frame[column] = frame[column].astype("float64")
    return frame


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
