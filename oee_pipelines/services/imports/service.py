"""The import service: the one way to land an import file, used by the inbox asset, the API upload
endpoints and `oee import`.

`FileImporter.import_file` records the attempt in `import_jobs`, reads and validates the file against
the organization's reference data and what was imported before, and lands it all or nothing (see
`landings.py` for where each kind goes). Warehouse rows and the job's final state commit in one
transaction; lake files are written inside it and removed again if it does not commit.

It is the only writer of `import_jobs`, `import_rejected_rows` and the lake files under
`telemetry/source=import/`. Plain Python (psycopg, the lake, the file readers): no Dagster, so the
API and the CLI need no run.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg.types.json import Jsonb

from oee_pipelines.connectors.files import UnreadableFileError, read_import_file, safe_file_name
from oee_pipelines.connectors.files.csv_reader import SLICE_BYTES, SLICED_FROM_BYTES
from oee_pipelines.connectors.files.slices import XLSX_SLICED_FROM_BYTES, SlicedFile, open_in_slices
from oee_pipelines.domain.imports import (
    IMPORT_KINDS,
    SLICED_KINDS,
    SPECS,
    ImportKind,
    ImportReference,
    ImportResult,
    TextSheet,
    find_import_overlaps,
    validate_import,
    validate_import_in_slices,
)
from oee_pipelines.domain.progress import Progress, ProgressCallback, ignore_progress
from oee_pipelines.services.imports.landings import (
    LANDINGS,
    Job,
    Landing,
    load_reference,
    machines_of,
    remove_files,
)
from oee_pipelines.storage.lake import Lake

LANDED_STATUSES = ("SUCCESS", "PARTIAL")
_HASH_CHUNK_BYTES = 1024 * 1024


class ImportSetupError(Exception):
    """The import cannot start (unknown organization or import type); says which."""


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file; `errors` are `{row, column, value, reason}` (row None: the whole file).

    `errors` lists the first problems in file order (at most 1,000: `engine.MAX_REPORTED_ERRORS`);
    `error_counts` counts every problem by kind, `total_errors` all of them, `total_bad_rows` the rows
    with one.
    """

    job_id: int
    kind: ImportKind
    file_name: str
    checksum: str
    status: str
    rows_read: int
    rows_imported: int
    rows_rejected: int
    errors: list[dict[str, Any]]
    error_counts: dict[str, int] = field(default_factory=dict)
    total_errors: int = 0
    total_bad_rows: int = 0
    affected_days: list[date] = field(default_factory=list)
    lake_files: list[str] = field(default_factory=list)
    duplicate_of_job: int | None = None
    # A dry run (`import_file(dry_run=True)`): the outcome the import would have; nothing was written.
    dry_run: bool = False

    @property
    def landed(self) -> bool:
        return self.status in LANDED_STATUSES

    @property
    def truncated(self) -> bool:
        return self.total_errors > len(self.errors)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the API answer and the report written beside an inbox file. A dry run's has
        `dry_run` true and no job (`job_id` null): its job row was rolled back."""
        dry_run = {"dry_run": True} if self.dry_run else {}
        return {
            **dry_run,
            "job_id": None if self.dry_run else self.job_id,
            "type": self.kind,
            "file_name": self.file_name,
            "checksum": self.checksum,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_rejected": self.rows_rejected,
            "affected_days": [day.isoformat() for day in self.affected_days],
            "duplicate_of_job": self.duplicate_of_job,
            "total_bad_rows": self.total_bad_rows,
            "total_errors": self.total_errors,
            "error_counts": self.error_counts,
            "truncated": self.truncated,
            "errors": self.errors,
        }


def file_checksum(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def encoding_in_name(file_name: str) -> str | None:
    """The encoding an `@<encoding>` marker before the extension names: `stops@cp1250.csv` -> cp1250.

    A marker that is no encoding's name (`report@home.csv`) is part of the name, not a marker."""
    stem, at, marker = Path(file_name).stem.rpartition("@")
    if not (at and stem and marker):
        return None
    try:
        codecs.lookup(marker)
    except LookupError:
        return None
    return marker


def file_error(reason: str, value: str | None = None) -> dict[str, Any]:
    return {"row": None, "column": None, "value": value, "reason": reason}


class FileImporter:
    """Lands import files into one warehouse and lake."""

    def __init__(
        self,
        database_url: str,
        lake: Lake,
        *,
        sliced_from_bytes: int = SLICED_FROM_BYTES,
        slice_bytes: int = SLICE_BYTES,
        progress: ProgressCallback = ignore_progress,
    ) -> None:
        self.database_url = database_url
        self.lake = lake
        # Hears of a large file's rows read so far, slice by slice, and of its landing (`oee import`).
        self.progress = progress
        # A CSV file larger than this (a workbook larger than this or `XLSX_SLICED_FROM_BYTES`) is
        # validated a slice of about `slice_bytes` at a time (`_import_in_slices`).
        self.sliced_from_bytes = sliced_from_bytes
        self.slice_bytes = slice_bytes

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
        encoding: str | None = None,
        dry_run: bool = False,
    ) -> ImportOutcome:
        """Import `path` for `org_id`. `file_name` (the user's name, sanitised) defaults to the path's.

        `encoding` names a CSV file's text encoding; None detects it, or takes it from an `@<encoding>`
        marker before the file name's extension (`downtime_week3@cp1250.csv`, see `encoding_in_name`).

        `dry_run`: every check of a real import, in one transaction that is rolled back, and no lake
        file written; the outcome is what the import would be (the import wizard's "Check the file").
        """
        if kind not in IMPORT_KINDS:
            raise ImportSetupError(
                f"unknown import type {kind!r} (expected one of {', '.join(IMPORT_KINDS)})"
            )
        name = safe_file_name(file_name or path.name)
        checksum = file_checksum(path)
        with psycopg.connect(self.database_url, autocommit=not dry_run) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            job = _start_job(conn, org_id, kind, name, checksum, submitted_by, dagster_run_id)
            encoding = encoding or encoding_in_name(name)
            if dry_run:
                try:
                    return replace(
                        self._run(conn, job, path, quarantine_invalid, encoding, True), dry_run=True
                    )
                finally:
                    conn.rollback()
            try:
                return self._run(conn, job, path, quarantine_invalid, encoding, dry_run=False)
            except BaseException as exc:
                _fail_job(conn, job, exc)
                raise

    def _run(
        self,
        conn: psycopg.Connection,
        job: Job,
        path: Path,
        quarantine_invalid: bool,
        encoding: str | None,
        dry_run: bool,
    ) -> ImportOutcome:
        earlier = _landed_job_with_checksum(conn, job)
        if earlier is not None:
            return _refuse_duplicate(conn, job, earlier)
        reference = load_reference(conn, job.org_id)
        landing = LANDINGS[job.kind]
        if not quarantine_invalid and job.kind in SLICED_KINDS:
            outcome = self._import_in_slices(conn, job, path, reference, landing, encoding, dry_run)
            if outcome is not None:
                return outcome
        try:
            sheet = read_import_file(path, file_name=job.file_name, encoding=encoding)
        except UnreadableFileError as exc:
            return _finish(conn, job, rows_read=0, errors=[file_error(exc.reason)])
        result = self._validate(conn, job, sheet, reference, landing, quarantine_invalid)
        return self._land(conn, job, result, landing, quarantine_invalid, dry_run)

    def _import_in_slices(
        self,
        conn: psycopg.Connection,
        job: Job,
        path: Path,
        reference: ImportReference,
        landing: Landing,
        encoding: str | None,
        dry_run: bool,
    ) -> ImportOutcome | None:
        """Land or refuse a large file read and validated a slice of rows at a time, so its cells are
        never all in memory at once; None when it is small enough to be read whole.

        The same outcome as `_validate` on the whole file: the overlaps of a machine's stops or states
        are found first on a compact projection of the file, and the keys already imported are looked
        up for the first pass's valid rows (a second pass then names the rows colliding with them)."""
        try:
            sliced = open_in_slices(
                path,
                job.file_name,
                encoding,
                from_bytes=self.sliced_from_bytes,
                xlsx_from_bytes=min(self.sliced_from_bytes, XLSX_SLICED_FROM_BYTES),
                slice_bytes=self.slice_bytes,
            )
            if sliced is None:
                return None
            with sliced:
                result = self._validate_in_slices(conn, job, sliced, reference, landing)
        except UnreadableFileError as exc:
            return _finish(conn, job, rows_read=0, errors=[file_error(exc.reason)])
        return self._land(conn, job, result, landing, quarantine_invalid=False, dry_run=dry_run)

    def _validate_in_slices(
        self,
        conn: psycopg.Connection,
        job: Job,
        sliced: SlicedFile,
        reference: ImportReference,
        landing: Landing,
    ) -> ImportResult[Any]:
        overlaps = (
            find_import_overlaps(job.kind, self._reported(sliced.slices(), job, "rows scanned"), reference)
            if SPECS[job.kind].overlaps is not None
            else None
        )
        lookup = _SliceLookup(conn, self.lake, job.org_id, landing)
        result = validate_import_in_slices(
            job.kind,
            self._reported(sliced.slices(), job, "rows checked"),
            reference,
            ingest_run_id=job.run_id,
            on_valid_rows=lookup.add,
            keep_valid_rows=True,
            overlaps=overlaps,
        )
        existing = lookup.existing_keys()
        if existing.empty:
            return result
        del result  # its rows would collide: free them before the second pass
        return validate_import_in_slices(
            job.kind,
            self._reported(sliced.slices(), job, "rows checked against earlier imports"),
            reference,
            existing_keys=existing,
            ingest_run_id=job.run_id,
            keep_valid_rows=True,
            overlaps=overlaps,
        )

    def _reported(self, slices: Iterator[TextSheet], job: Job, what: str) -> Iterator[TextSheet]:
        """The slices of a large file as they are read, reporting the rows so far after each."""
        rows = 0
        for sheet in slices:
            rows += len(sheet.frame)
            self.progress(_rows_progress(job, rows, what))
            yield sheet

    def _validate(
        self,
        conn: psycopg.Connection,
        job: Job,
        sheet: TextSheet,
        reference: ImportReference,
        landing: Landing,
        quarantine_invalid: bool,
    ) -> ImportResult[Any]:
        """Validate once; again with the keys already imported only when some could collide.

        The first pass keeps the valid rows even when the file will be refused, so the keys already
        imported are looked up for every row that could land, and the report names all duplicates.
        """
        first = validate_import(
            job.kind,
            sheet,
            reference,
            quarantine_invalid=quarantine_invalid,
            land_valid_rows=True,
            ingest_run_id=job.run_id,
        )
        existing = landing.existing_keys(conn, self.lake, job.org_id, first.rows)
        if existing.empty and (quarantine_invalid or not first.report.errors):
            return first
        if existing.empty:
            # Nothing collides, so a second pass would find the same problems: refuse the file as is.
            return replace(first, report=replace(first.report, rows_to_land=0))
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
        job: Job,
        result: ImportResult[Any],
        landing: Landing,
        quarantine_invalid: bool,
        dry_run: bool,
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
                    error_counts=report.error_counts,
                    total_errors=report.total_errors,
                    total_bad_rows=report.total_bad_rows,
                )
                if dry_run:
                    return outcome
                if quarantine_invalid and result.rejected is not None:
                    _store_rejected_rows(conn, job, result.rejected)
                days: list[date] = []
                if report.rows_to_land:
                    self.progress(_rows_progress(job, 0, "rows landed", report.rows_to_land))
                    machines = machines_of(conn, job.org_id)
                    days, written = landing.land(conn, self.lake, job, result.rows, machines)
                    landed = report.rows_to_land
                    self.progress(_rows_progress(job, landed, "rows landed", landed))
        except psycopg.errors.UniqueViolation:
            remove_files(self.lake, written)
            earlier = _landed_job_with_checksum(conn, job)
            return _refuse_duplicate(conn, job, earlier or 0)
        except BaseException:
            remove_files(self.lake, written)
            raise
        return replace(outcome, affected_days=days, lake_files=written)


def _rows_progress(job: Job, rows: int, what: str, total: int | None = None) -> Progress:
    return Progress(task=f"import {job.file_name}", done=rows, total=total, unit=what)


# --- the job row -----------------------------------------------------------------------------------


def _start_job(
    conn: psycopg.Connection,
    org_id: str,
    kind: ImportKind,
    file_name: str,
    checksum: str,
    submitted_by: str,
    dagster_run_id: str | None,
) -> Job:
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
    return Job(job_id, org_id, kind, file_name, checksum, dagster_run_id or f"import-{job_id}")


def _finish(
    conn: psycopg.Connection,
    job: Job,
    *,
    rows_read: int,
    errors: list[dict[str, Any]],
    rows_imported: int = 0,
    status: str = "REJECTED",
    duplicate_of_job: int | None = None,
    error_counts: dict[str, int] | None = None,
    total_errors: int | None = None,
    total_bad_rows: int | None = None,
) -> ImportOutcome:
    """Record the job's outcome; without counts (a file-level refusal) the listed errors are all."""
    if error_counts is None:
        error_counts = dict(Counter(f"{error['column'] or 'file'}: {error['reason']}" for error in errors))
    total_errors = len(errors) if total_errors is None else total_errors
    total_bad_rows = len({error["row"] for error in errors}) if total_bad_rows is None else total_bad_rows
    conn.execute(
        """UPDATE import_jobs SET status = %s, rows_read = %s, rows_imported = %s, rows_rejected = %s,
                  errors = %s, error_counts = %s, total_errors = %s, total_bad_rows = %s,
                  completed_at = now()
           WHERE job_id = %s""",
        (
            status,
            rows_read,
            rows_imported,
            rows_read - rows_imported,
            Jsonb(errors),
            Jsonb(error_counts),
            total_errors,
            total_bad_rows,
            job.job_id,
        ),
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
        error_counts=error_counts,
        total_errors=total_errors,
        total_bad_rows=total_bad_rows,
        duplicate_of_job=duplicate_of_job,
    )


def _fail_job(conn: psycopg.Connection, job: Job, exc: BaseException) -> None:
    if conn.closed or conn.broken:
        return
    reason = f"import failed: {type(exc).__name__}: {exc}".splitlines()[0]
    conn.execute(
        "UPDATE import_jobs SET status = 'FAILED', errors = %s, completed_at = now() WHERE job_id = %s",
        (Jsonb([file_error(reason)]), job.job_id),
    )


def _landed_job_with_checksum(conn: psycopg.Connection, job: Job) -> int | None:
    row = conn.execute(
        """SELECT job_id FROM import_jobs
           WHERE org_id = %s AND checksum = %s AND status IN ('SUCCESS', 'PARTIAL') AND job_id <> %s
           ORDER BY job_id LIMIT 1""",
        (job.org_id, job.checksum, job.job_id),
    ).fetchone()
    return None if row is None else int(row[0])


def _refuse_duplicate(conn: psycopg.Connection, job: Job, earlier_job: int) -> ImportOutcome:
    reason = f"this file was already imported (import job {earlier_job}, same sha256); nothing was imported"
    return _finish(
        conn, job, rows_read=0, errors=[file_error(reason, job.checksum)], duplicate_of_job=earlier_job
    )


class _SliceLookup:
    """The keys already imported that a file's valid rows could collide with, gathered slice by slice:
    only the few rows each kind's lookup needs are kept (`Landing.rows_to_look_up`)."""

    def __init__(self, conn: psycopg.Connection, lake: Lake, org_id: str, landing: Landing) -> None:
        self.conn, self.lake, self.org_id, self.landing = conn, lake, org_id, landing
        self._rows: list[Any] = []
        self._found: list[pd.DataFrame] = []

    def add(self, rows: Any) -> None:
        if self.landing.rows_to_look_up is None:
            self._found.append(self.landing.existing_keys(self.conn, self.lake, self.org_id, rows))
        else:
            self._rows.append(self.landing.rows_to_look_up(rows))

    def existing_keys(self) -> pd.DataFrame:
        if self._rows:
            rows = (
                pa.concat_tables(self._rows)
                if isinstance(self._rows[0], pa.Table)
                else pd.concat(self._rows, ignore_index=True)
            )
            self._found.append(self.landing.existing_keys(self.conn, self.lake, self.org_id, rows))
        found = [frame for frame in self._found if not frame.empty]
        return pd.concat(found, ignore_index=True).drop_duplicates() if found else pd.DataFrame()


def _store_rejected_rows(conn: psycopg.Connection, job: Job, rejected: pd.DataFrame) -> None:
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
