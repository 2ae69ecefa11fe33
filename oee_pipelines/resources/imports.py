"""The one way to land an import file (sensor log, downtime, schedule), used by the inbox asset, the
API upload endpoints and `oee import`.

`FileImporter.import_file` records the attempt in `import_jobs`, reads and validates the file against
the organization's reference data and what was imported before, and lands it all or nothing: sensor
logs as `telemetry/source=import/date=D/import-<job id>.parquet`, downtime in `oee_downtime_events`,
schedules in `production_schedules`. Warehouse rows and the job's final state commit in one
transaction; lake files are written inside it and removed again if it does not commit.

Plain Python (psycopg, the lake, the file readers): no Dagster, so the API and the CLI need no run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg.types.json import Jsonb

from oee_pipelines.connectors.files import UnreadableFileError, read_import_file, safe_file_name
from oee_pipelines.domain.imports import (
    IMPORT_KINDS,
    ImportKind,
    ImportReference,
    ImportResult,
    TextSheet,
    validate_import,
)
from oee_pipelines.storage.bulk_load import copy_arrow
from oee_pipelines.storage.lake import Lake

IMPORT_LAKE_FOLDER = "telemetry/source=import"
SOURCE_SYSTEM = "import"
LANDED_STATUSES = ("SUCCESS", "PARTIAL")
# import_jobs.errors keeps this many; the API answer and the inbox report carry every error.
MAX_STORED_ERRORS = 10_000
_HASH_CHUNK_BYTES = 1024 * 1024
_EXISTING_KEY_COLUMNS = ["machine_id", "signal", "ts"]


class ImportSetupError(Exception):
    """The import cannot start (unknown organization or import type); says which."""


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file; `errors` are `{row, column, value, reason}` (row None: the whole file)."""

    job_id: int
    kind: ImportKind
    file_name: str
    checksum: str
    status: str
    rows_read: int
    rows_imported: int
    rows_rejected: int
    errors: list[dict[str, Any]]
    affected_days: list[date] = field(default_factory=list)
    lake_files: list[str] = field(default_factory=list)
    duplicate_of_job: int | None = None

    @property
    def landed(self) -> bool:
        return self.status in LANDED_STATUSES

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the API answer and the report written beside an inbox file."""
        return {
            "job_id": self.job_id,
            "type": self.kind,
            "file_name": self.file_name,
            "checksum": self.checksum,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_rejected": self.rows_rejected,
            "affected_days": [day.isoformat() for day in self.affected_days],
            "duplicate_of_job": self.duplicate_of_job,
            "errors": self.errors,
        }


def file_checksum(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def file_error(reason: str, value: str | None = None) -> dict[str, Any]:
    return {"row": None, "column": None, "value": value, "reason": reason}


@dataclass(frozen=True)
class _Job:
    job_id: int
    org_id: str
    kind: ImportKind
    file_name: str
    checksum: str
    run_id: str


@dataclass(frozen=True)
class _Landing:
    """How one kind checks for rows imported before, and lands its validated rows."""

    existing_keys: Callable[[psycopg.Connection, Lake, str, Any], pd.DataFrame]
    land: Callable[[psycopg.Connection, Lake, _Job, Any, pd.DataFrame], tuple[list[date], list[str]]]


class FileImporter:
    """Lands import files into one warehouse and lake."""

    def __init__(self, database_url: str, lake: Lake) -> None:
        self.database_url = database_url
        self.lake = lake

    def import_file(
        self,
        path: Path,
        kind: str,
        *,
        org_id: str,
        submitted_by: str,
        file_name: str | None = None,
        quarantine_invalid: bool = False,
        dagster_run_id: str | None = None,
    ) -> ImportOutcome:
        """Import `path` for `org_id`. `file_name` (the user's name, sanitised) defaults to the path's."""
        if kind not in IMPORT_KINDS:
            raise ImportSetupError(
                f"unknown import type {kind!r} (expected one of {', '.join(IMPORT_KINDS)})"
            )
        name = safe_file_name(file_name or path.name)
        checksum = file_checksum(path)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            job = _start_job(conn, org_id, kind, name, checksum, submitted_by, dagster_run_id)
            try:
                return self._run(conn, job, path, quarantine_invalid)
            except BaseException as exc:
                _fail_job(conn, job, exc)
                raise

    def _run(
        self, conn: psycopg.Connection, job: _Job, path: Path, quarantine_invalid: bool
    ) -> ImportOutcome:
        earlier = _landed_job_with_checksum(conn, job)
        if earlier is not None:
            return _refuse_duplicate(conn, job, earlier)
        try:
            sheet = read_import_file(path, file_name=job.file_name)
        except UnreadableFileError as exc:
            return _finish(conn, job, rows_read=0, errors=[file_error(exc.reason)])
        reference = load_reference(conn, job.org_id)
        landing = _LANDINGS[job.kind]
        result = self._validate(conn, job, sheet, reference, landing, quarantine_invalid)
        return self._land(conn, job, result, landing, quarantine_invalid)

    def _validate(
        self,
        conn: psycopg.Connection,
        job: _Job,
        sheet: TextSheet,
        reference: ImportReference,
        landing: _Landing,
        quarantine_invalid: bool,
    ) -> ImportResult[Any]:
        """Validate once; again with the keys already imported only when some could collide.

        The first pass keeps the valid rows even when the file will be refused, so the keys already
        imported are looked up for every row that could land, and the report names all duplicates.
        """
        first = validate_import(job.kind, sheet, reference, quarantine_invalid=True, ingest_run_id=job.run_id)
        existing = landing.existing_keys(conn, self.lake, job.org_id, first.rows)
        if existing.empty and (quarantine_invalid or not first.report.errors):
            return first
        return validate_import(
            job.kind,
            sheet,
            reference,
            existing_keys=None if existing.empty else existing,
            quarantine_invalid=quarantine_invalid,
            ingest_run_id=job.run_id,
        )

    def _land(
        self,
        conn: psycopg.Connection,
        job: _Job,
        result: ImportResult[Any],
        landing: _Landing,
        quarantine_invalid: bool,
    ) -> ImportOutcome:
        report = result.report
        written: list[str] = []
        try:
            with conn.transaction():
                # The job's final state first: a concurrent import of the same file fails here, before
                # anything is written (unique index on landed checksums).
                outcome = _finish(
                    conn,
                    job,
                    rows_read=report.rows_read,
                    errors=report.error_dicts(),
                    rows_imported=report.rows_to_land,
                    status=report.status,
                )
                if quarantine_invalid and result.rejected is not None:
                    _store_rejected_rows(conn, job, result.rejected)
                days: list[date] = []
                if report.rows_to_land:
                    days, written = landing.land(conn, self.lake, job, result.rows, _machines(conn, job))
        except psycopg.errors.UniqueViolation:
            _remove(self.lake, written)
            earlier = _landed_job_with_checksum(conn, job)
            return _refuse_duplicate(conn, job, earlier or 0)
        except BaseException:
            _remove(self.lake, written)
            raise
        return replace(outcome, affected_days=days, lake_files=written)


# --- the job row -----------------------------------------------------------------------------------


def _start_job(
    conn: psycopg.Connection,
    org_id: str,
    kind: ImportKind,
    file_name: str,
    checksum: str,
    submitted_by: str,
    dagster_run_id: str | None,
) -> _Job:
    if conn.execute("SELECT 1 FROM organizations WHERE id = %s", (org_id,)).fetchone() is None:
        raise ImportSetupError(f"no organization {org_id!r} in the warehouse (load the plant first)")
    row = conn.execute(
        """INSERT INTO import_jobs (org_id, import_type, file_name, checksum, submitted_by, status,
                                    dagster_run_id)
           VALUES (%s, %s, %s, %s, %s, 'RUNNING', %s) RETURNING job_id""",
        (org_id, kind, file_name, checksum, submitted_by, dagster_run_id),
    ).fetchone()
    assert row is not None
    job_id = int(row[0])
    return _Job(job_id, org_id, kind, file_name, checksum, dagster_run_id or f"import-{job_id}")


def _finish(
    conn: psycopg.Connection,
    job: _Job,
    *,
    rows_read: int,
    errors: list[dict[str, Any]],
    rows_imported: int = 0,
    status: str = "REJECTED",
    duplicate_of_job: int | None = None,
) -> ImportOutcome:
    stored = errors[:MAX_STORED_ERRORS]
    if len(errors) > MAX_STORED_ERRORS:
        stored.append(file_error(f"{len(errors) - MAX_STORED_ERRORS} more errors are in the import report"))
    conn.execute(
        """UPDATE import_jobs SET status = %s, rows_read = %s, rows_imported = %s, rows_rejected = %s,
                  errors = %s, completed_at = now()
           WHERE job_id = %s""",
        (status, rows_read, rows_imported, rows_read - rows_imported, Jsonb(stored), job.job_id),
    )
    return ImportOutcome(
        job_id=job.job_id,
        kind=job.kind,
        file_name=job.file_name,
        checksum=job.checksum,
        status=status,
        rows_read=rows_read,
        rows_imported=rows_imported,
        rows_rejected=rows_read - rows_imported,
        errors=errors,
        duplicate_of_job=duplicate_of_job,
    )


def _fail_job(conn: psycopg.Connection, job: _Job, exc: BaseException) -> None:
    if conn.closed or conn.broken:
        return
    reason = f"import failed: {type(exc).__name__}: {exc}".splitlines()[0]
    conn.execute(
        "UPDATE import_jobs SET status = 'FAILED', errors = %s, completed_at = now() WHERE job_id = %s",
        (Jsonb([file_error(reason)]), job.job_id),
    )


def _landed_job_with_checksum(conn: psycopg.Connection, job: _Job) -> int | None:
    row = conn.execute(
        """SELECT job_id FROM import_jobs
           WHERE org_id = %s AND checksum = %s AND status IN ('SUCCESS', 'PARTIAL') AND job_id <> %s
           ORDER BY job_id LIMIT 1""",
        (job.org_id, job.checksum, job.job_id),
    ).fetchone()
    return None if row is None else int(row[0])


def _refuse_duplicate(conn: psycopg.Connection, job: _Job, earlier_job: int) -> ImportOutcome:
    reason = f"this file was already imported (import job {earlier_job}, same sha256); nothing was imported"
    return _finish(
        conn, job, rows_read=0, errors=[file_error(reason, job.checksum)], duplicate_of_job=earlier_job
    )


def _store_rejected_rows(conn: psycopg.Connection, job: _Job, rejected: pd.DataFrame) -> None:
    cell_columns = [name for name in rejected.columns if name not in ("row", "errors")]
    cells = rejected[cell_columns].astype(object).where(rejected[cell_columns].notna(), None)
    with conn.cursor().copy(
        "COPY import_rejected_rows (org_id, job_id, row_number, cells, errors) FROM STDIN"
    ) as copy:
        for row_number, errors, values in zip(
            rejected["row"], rejected["errors"], cells.itertuples(index=False, name=None), strict=True
        ):
            copy.write_row(
                (
                    job.org_id,
                    job.job_id,
                    int(row_number),
                    Jsonb(dict(zip(cell_columns, values, strict=True))),
                    errors,
                )
            )


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


def _machines(conn: psycopg.Connection, job: _Job) -> pd.DataFrame:
    """Each machine's line and site, to complete landed rows."""
    rows = conn.execute(
        """SELECT m.id AS machine_id, m.line_id, l.site_id
           FROM machines m JOIN production_lines l ON l.id = m.line_id WHERE m.org_id = %s""",
        (job.org_id,),
    ).fetchall()
    return pd.DataFrame(rows, columns=["machine_id", "line_id", "site_id"]).set_index("machine_id")


# --- sensor logs: the lake -------------------------------------------------------------------------


def _utc_days(timestamps: pa.ChunkedArray | pa.Array) -> list[date]:
    if len(timestamps) == 0:
        return []
    return sorted(pc.unique(pc.cast(timestamps, pa.date32())).to_pylist())


def import_day_folder(day: date) -> str:
    return f"{IMPORT_LAKE_FOLDER}/{Lake.date_folder(day)}"


def _sensor_log_existing_keys(
    conn: psycopg.Connection, lake: Lake, org_id: str, rows: pa.Table
) -> pd.DataFrame:
    """machine_id, signal, ts of the organization's readings imported before on the file's days."""
    tables = [
        pq.read_table(
            path,
            columns=["org_id", *_EXISTING_KEY_COLUMNS],
            filesystem=lake.fs,
            filters=[("org_id", "=", org_id)],
        )
        for day in _utc_days(rows.column("ts"))
        for path in lake.list_files(import_day_folder(day))
    ]
    if not tables:
        return pd.DataFrame(columns=_EXISTING_KEY_COLUMNS)
    return pa.concat_tables(tables).select(_EXISTING_KEY_COLUMNS).to_pandas()


def _land_sensor_log(
    conn: psycopg.Connection, lake: Lake, job: _Job, rows: pa.Table, machines: pd.DataFrame
) -> tuple[list[date], list[str]]:
    machine_ids = rows.column("machine_id").to_pandas()
    for column in ("site_id", "line_id"):
        completed = pa.array(machine_ids.map(machines[column]), pa.string())
        rows = rows.set_column(rows.schema.get_field_index(column), column, completed)
    days = pc.cast(rows.column("ts"), pa.date32())
    written: list[str] = []
    for day in _utc_days(rows.column("ts")):
        day_rows = rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        written.append(lake.write_file(f"{import_day_folder(day)}/import-{job.job_id}.parquet", day_rows))
    return _utc_days(rows.column("ts")), written


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
    conn: psycopg.Connection, lake: Lake, job: _Job, rows: pd.DataFrame, machines: pd.DataFrame
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
    conn: psycopg.Connection, lake: Lake, job: _Job, rows: pd.DataFrame, machines: pd.DataFrame
) -> tuple[list[date], list[str]]:
    copy_arrow(
        conn,
        "production_schedules",
        _arrow(rows.assign(planned_quantity=rows["planned_quantity"].astype("int32"))),
    )
    return [], []


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # A column without any value (e.g. no description anywhere) has no type of its own: text NULLs.
    for index, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            table = table.set_column(index, column.name, table.column(index).cast(pa.string()))
    return table


def _remove(lake: Lake, paths: list[str]) -> None:
    for path in paths:
        if lake.fs.exists(path):
            lake.fs.rm(path)


_LANDINGS: dict[str, _Landing] = {
    "sensor_log": _Landing(_sensor_log_existing_keys, _land_sensor_log),
    "downtime": _Landing(_downtime_existing_keys, _land_downtime),
    "schedule": _Landing(_schedule_existing_keys, _land_schedule),
}
