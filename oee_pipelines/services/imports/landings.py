"""How each import kind lands its validated rows, and finds the rows imported before.

Telemetry kinds (sensor logs, machine-state logs, production counts) are written to the lake as
`telemetry/source=import/date=D/import-<job id>.parquet`; downtime goes to `oee_downtime_events`
(`source_system='import'`) and schedules to `production_schedules`. Every landing runs inside the
import job's transaction (`service.py`); the lake files it wrote are removed if that does not commit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from oee_pipelines.domain.imports import ImportKind, ImportReference
from oee_pipelines.domain.telemetry import MACHINE_STATE, PIECES_GOOD
from oee_pipelines.services.mes_erp.schedules import land_production_schedules
from oee_pipelines.storage.bulk_load import copy_arrow
from oee_pipelines.storage.lake import Lake

IMPORT_LAKE_FOLDER = "telemetry/source=import"
SOURCE_SYSTEM = "import"
_EXISTING_KEY_COLUMNS = ["machine_id", "signal", "ts"]
STAGED_SUFFIX = ".staged"  # not `*.parquet`: no reader sees a file until all of the import's days are written


@dataclass(frozen=True)
class Job:
    """One `import_jobs` row being worked on."""

    job_id: int
    org_id: str
    kind: ImportKind
    file_name: str
    checksum: str
    run_id: str


@dataclass(frozen=True)
class Landing:
    """How one kind checks for rows imported before, and lands its validated rows."""

    existing_keys: Callable[[psycopg.Connection, Lake, str, Any], pd.DataFrame]
    land: Callable[[psycopg.Connection, Lake, Job, Any, pd.DataFrame], tuple[list[date], list[str]]]
    # For a file validated in slices: the few rows of a slice's valid rows that `existing_keys` needs
    # (e.g. the first of each day), looked up once for all slices together; None: each slice's valid
    # rows are looked up as they come.
    rows_to_look_up: Callable[[Any], Any] | None = None


# --- reference data --------------------------------------------------------------------------------


def load_reference(conn: psycopg.Connection, org_id: str) -> ImportReference:
    """The organization's ids and reason codes; naive timestamps are read in its first site's zone."""

    def ids(query: str) -> frozenset[str]:
        return frozenset(row[0] for row in conn.execute(query, (org_id,)).fetchall())

    zone = conn.execute(
        "SELECT timezone FROM sites WHERE org_id = %s ORDER BY id LIMIT 1", (org_id,)
    ).fetchone()
    codes = conn.execute(
        "SELECT code, is_planned, loss_category FROM reason_codes WHERE org_id = %s", (org_id,)
    ).fetchall()
    return ImportReference(
        org_id=org_id,
        plant_timezone=zone[0] if zone else "UTC",
        machine_ids=ids("SELECT id FROM machines WHERE org_id = %s"),
        line_ids=ids("SELECT id FROM production_lines WHERE org_id = %s"),
        reason_codes=pd.DataFrame(codes, columns=["code", "is_planned", "loss_category"]),
        product_ids=ids("SELECT id FROM products WHERE org_id = %s"),
        work_order_ids=ids("SELECT id FROM work_orders WHERE org_id = %s"),
        recipe_ids=ids("SELECT id FROM recipes WHERE org_id = %s"),
    )


def machines_of(conn: psycopg.Connection, org_id: str) -> pd.DataFrame:
    """Each machine's line and site, to complete landed rows."""
    rows = conn.execute(
        """SELECT m.id AS machine_id, m.line_id, l.site_id
           FROM machines m JOIN production_lines l ON l.id = m.line_id WHERE m.org_id = %s""",
        (org_id,),
    ).fetchall()
    return pd.DataFrame(rows, columns=["machine_id", "line_id", "site_id"]).set_index("machine_id")


# --- telemetry kinds: the lake -------------------------------------------------------------------------


def _utc_days(timestamps: pa.ChunkedArray | pa.Array) -> list[date]:
    if len(timestamps) == 0:
        return []
    return sorted(pc.unique(pc.cast(timestamps, pa.date32())).to_pylist())


def import_day_folder(day: date) -> str:
    return f"{IMPORT_LAKE_FOLDER}/{Lake.date_folder(day)}"


def _telemetry_existing_keys(signals: tuple[str, ...] | None) -> Callable[..., pd.DataFrame]:
    """machine_id, signal, ts of the organization's readings imported before on the file's days.

    `signals`: only these signals' readings (a state log collides with states, not with counts).
    """

    def existing_keys(conn: psycopg.Connection, lake: Lake, org_id: str, rows: pa.Table) -> pd.DataFrame:
        filters: list[tuple[str, str, object]] = [("org_id", "=", org_id)]
        if signals is not None:
            filters.append(("signal", "in", list(signals)))
        tables = [
            pq.read_table(
                path,
                columns=["org_id", *_EXISTING_KEY_COLUMNS],
                filesystem=lake.fs,
                filters=filters,
            )
            for day in _utc_days(rows.column("ts"))
            for path in lake.list_files(import_day_folder(day))
        ]
        if not tables:
            return pd.DataFrame(columns=_EXISTING_KEY_COLUMNS)
        return pa.concat_tables(tables).select(_EXISTING_KEY_COLUMNS).to_pandas()

    return existing_keys


_UTC_MICROS = pa.timestamp("us", tz="UTC")
_MICROS_PER_DAY = 86_400_000_000


def utc_day_numbers(timestamps: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Days since 1970-01-01 of present timestamps, as their `date32` cast gives: for UTC microseconds
    (every landed row's `ts`) the microseconds divided by a day's, rounded down, without the cast."""
    if timestamps.type == _UTC_MICROS:
        micros = np.asarray(pc.cast(timestamps, pa.int64()).to_numpy(), dtype=np.int64)
        return np.floor_divide(micros, _MICROS_PER_DAY)
    return np.asarray(pc.cast(pc.cast(timestamps, pa.date32()), pa.int32()).to_numpy(), dtype=np.int64)


def _first_row_of_each_day(rows: pa.Table) -> pa.Table:
    """Telemetry rows reduced to the first of each UTC day: the lookup reads whole days."""
    timestamps = rows.column("ts")
    if timestamps.null_count:  # (landed rows all have their time)
        dates = pc.cast(timestamps, pa.date32())
        return rows.take(dates.to_pandas().drop_duplicates().index.to_numpy())
    days = utc_day_numbers(timestamps)
    if not len(days):
        return rows.slice(0, 0)
    if bool(np.all(days[1:] >= days[:-1])):  # rows in day order (a log): where each day starts
        firsts = np.flatnonzero(np.concatenate([[True], days[1:] != days[:-1]]))
    else:  # where each day first appears, in the rows' order (what `drop_duplicates` keeps)
        firsts = np.sort(np.unique(days, return_index=True)[1])
    return rows.take(pa.array(firsts))


def _rows_by_day(rows: pa.Table) -> dict[date, pa.Table]:
    """The rows of each UTC day, in the file's order: what filtering the rows by each day gives, found
    with one stable sort by day (none for rows already in day order) rather than one pass per day."""
    days = utc_day_numbers(rows.column("ts"))  # (landed rows all have their time)
    if not len(days):
        return {}
    ordered = bool(np.all(days[1:] >= days[:-1]))
    order = np.arange(len(days)) if ordered else np.argsort(days, kind="stable")
    in_order = rows if ordered else rows.take(pa.array(order))
    sorted_days = days[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_days[1:] != sorted_days[:-1]]))
    ends = np.append(starts[1:], len(days))
    epoch = date(1970, 1, 1)
    return {
        epoch + timedelta(days=int(sorted_days[start])): in_order.slice(int(start), int(end - start))
        for start, end in zip(starts, ends, strict=True)
    }


def _land_telemetry(
    conn: psycopg.Connection, lake: Lake, job: Job, rows: pa.Table, machines: pd.DataFrame
) -> tuple[list[date], list[str]]:
    machine_ids = rows.column("machine_id")
    # Each row's machine among the reference's (null for one it lacks), to take its site and line.
    at = pc.index_in(machine_ids, value_set=pa.array(machines.index.astype(str), pa.string()))
    for column in ("site_id", "line_id"):
        known = pa.array(machines[column].astype(object), pa.string())
        completed = pc.take(known, at) if len(known) else pa.nulls(rows.num_rows, pa.string())
        rows = rows.set_column(rows.schema.get_field_index(column), column, completed)
    by_day = _rows_by_day(rows)
    utc_days = sorted(by_day)  # `_utc_days` of the rows (landed rows all have their time), found once
    # Every day's file is written under a name readers skip, then all are renamed into place: a write
    # that fails (a full disk on the third day) leaves none of the file's days behind, and the days
    # imported before stay exactly as they were.
    targets = {day: f"{import_day_folder(day)}/import-{job.job_id}.parquet" for day in utc_days}

    def stage(day: date) -> str:
        return lake.write_file(targets[day] + STAGED_SUFFIX, by_day[day])

    staged: list[tuple[str, str]] = []
    try:
        # Days are encoded side by side (Arrow's Parquet writer releases the GIL); each file is the same.
        with ThreadPoolExecutor(max_workers=max(1, min(len(utc_days), os.cpu_count() or 1))) as pool:
            writes = [(day, pool.submit(stage, day)) for day in utc_days]
            for day, write in writes:
                if write.exception() is None:
                    staged.append((write.result(), lake.path(targets[day])))
            for _, write in writes:
                write.result()  # the first failure, once every write has finished
        for temporary, target in staged:
            lake.fs.mv(temporary, target)
    except BaseException:
        remove_files(lake, [path for pair in staged for path in pair])
        raise
    return utc_days, [target for _, target in staged]


# --- downtime and schedules: the warehouse ---------------------------------------------------------


def _downtime_existing_keys(
    conn: psycopg.Connection, lake: Lake, org_id: str, rows: pd.DataFrame
) -> pd.DataFrame:
    columns = ["machine_id", "start_time"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    found = conn.execute(
        """SELECT machine_id, start_time FROM oee_downtime_events
           WHERE org_id = %s AND source_system = %s AND start_time BETWEEN %s AND %s""",
        (org_id, SOURCE_SYSTEM, rows["start_time"].min(), rows["start_time"].max()),
    ).fetchall()
    return pd.DataFrame(found, columns=columns)


def _earliest_and_latest_stop(rows: pd.DataFrame) -> pd.DataFrame:
    """The lookup reads the stops between the earliest and the latest start."""
    if rows.empty:
        return rows
    return rows.iloc[[int(rows["start_time"].argmin()), int(rows["start_time"].argmax())]]


def _stop_days(rows: pd.DataFrame) -> list[date]:
    """The UTC days every stop touches (a stop over midnight changes both days)."""
    days: set[date] = set()
    for start, end in zip(rows["start_time"], rows["end_time"], strict=True):
        day, last = start.date(), (end - timedelta(microseconds=1)).date()
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


def _land_downtime(
    conn: psycopg.Connection, lake: Lake, job: Job, rows: pd.DataFrame, machines: pd.DataFrame
) -> tuple[list[date], list[str]]:
    rows = rows.assign(line_id=rows["line_id"].fillna(rows["machine_id"].map(machines["line_id"])))
    copy_arrow(conn, "oee_downtime_events", _arrow(rows))
    return _stop_days(rows), []


def _schedule_existing_keys(
    conn: psycopg.Connection, lake: Lake, org_id: str, rows: pd.DataFrame
) -> pd.DataFrame:
    found = conn.execute(
        "SELECT external_id FROM production_schedules WHERE org_id = %s AND external_id = ANY(%s)",
        (org_id, [str(value) for value in rows["external_id"]]),
    ).fetchall()
    return pd.DataFrame(found, columns=["external_id"])


def _land_schedule(
    conn: psycopg.Connection, lake: Lake, job: Job, rows: pd.DataFrame, machines: pd.DataFrame
) -> tuple[list[date], list[str]]:
    land_production_schedules(
        conn, _arrow(rows.assign(planned_quantity=rows["planned_quantity"].astype("int32")))
    )
    return [], []


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # A column without any value (e.g. no description anywhere) has no type of its own: text NULLs.
    for index, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            table = table.set_column(index, column.name, table.column(index).cast(pa.string()))
    return table


def remove_files(lake: Lake, paths: list[str]) -> None:
    for path in paths:
        if lake.fs.exists(path):
            lake.fs.rm(path)


LANDINGS: dict[str, Landing] = {
    "sensor_log": Landing(_telemetry_existing_keys(None), _land_telemetry, _first_row_of_each_day),
    "machine_state_log": Landing(
        _telemetry_existing_keys((MACHINE_STATE,)), _land_telemetry, _first_row_of_each_day
    ),
    "production_count": Landing(
        _telemetry_existing_keys((PIECES_GOOD,)), _land_telemetry, _first_row_of_each_day
    ),
    "downtime": Landing(_downtime_existing_keys, _land_downtime, _earliest_and_latest_stop),
    "schedule": Landing(_schedule_existing_keys, _land_schedule),
}
