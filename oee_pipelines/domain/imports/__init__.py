"""Validation of user-supplied import files (sensor logs, machine-state logs, production counts,
downtime, schedules).

Pure functions on a `TextSheet` (every cell as the user wrote it): each collects every problem
with the row the user sees (header = row 1), and returns the rows ready to land. All or nothing by
default; `quarantine_invalid=True` lands the valid rows and hands back the rejected ones. The report
lists the first `engine.MAX_REPORTED_ERRORS` problems and counts every one by kind, so a file with
millions of bad rows gives a report of bounded size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.imports import engine
from oee_pipelines.domain.imports.downtime import DOWNTIME, DOWNTIME_COLUMNS
from oee_pipelines.domain.imports.engine import ImportSpec, Overlaps
from oee_pipelines.domain.imports.machine_state_log import MACHINE_STATE_LOG
from oee_pipelines.domain.imports.model import (
    IMPORT_KINDS,
    TELEMETRY_KINDS,
    ImportKind,
    ImportReference,
    ImportReport,
    ImportResult,
    RowError,
    TextSheet,
)
from oee_pipelines.domain.imports.production_count import PRODUCTION_COUNT
from oee_pipelines.domain.imports.schedule import SCHEDULE, SCHEDULE_COLUMNS
from oee_pipelines.domain.imports.sensor_log import SENSOR_LOG

__all__ = [
    "DOWNTIME_COLUMNS",
    "IMPORT_KINDS",
    "SCHEDULE_COLUMNS",
    "SLICED_KINDS",
    "SPECS",
    "TELEMETRY_KINDS",
    "ImportKind",
    "ImportReference",
    "ImportReport",
    "ImportResult",
    "Overlaps",
    "RowError",
    "TextSheet",
    "find_import_overlaps",
    "validate_downtime",
    "validate_import",
    "validate_import_in_slices",
    "validate_schedule",
    "validate_sensor_log",
]

SPECS: dict[ImportKind, ImportSpec[Any]] = {
    "sensor_log": SENSOR_LOG,
    "machine_state_log": MACHINE_STATE_LOG,
    "production_count": PRODUCTION_COUNT,
    "downtime": DOWNTIME,
    "schedule": SCHEDULE,
}
# The kinds a large file of which can be validated a slice of rows at a time: all of them (the checks
# across rows, duplicates and overlaps, keep a compact projection of the file between slices).
SLICED_KINDS: tuple[ImportKind, ...] = tuple(SPECS)


def validate_sensor_log(
    sheet: TextSheet,
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    quarantine_invalid: bool = False,
    ingest_run_id: str | None = None,
) -> ImportResult[pa.Table]:
    """Readings as a TELEMETRY_SCHEMA table. `existing_keys`: machine_id, signal, ts already landed."""
    return engine.validate(
        SENSOR_LOG,
        sheet,
        reference,
        existing_keys=existing_keys,
        quarantine_invalid=quarantine_invalid,
        ingest_run_id=ingest_run_id,
    )


def validate_downtime(
    sheet: TextSheet,
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    quarantine_invalid: bool = False,
) -> ImportResult[pd.DataFrame]:
    """Stops in the `oee_downtime_events` columns. `existing_keys`: machine_id, start_time."""
    return engine.validate(
        DOWNTIME, sheet, reference, existing_keys=existing_keys, quarantine_invalid=quarantine_invalid
    )


def validate_schedule(
    sheet: TextSheet,
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    quarantine_invalid: bool = False,
) -> ImportResult[pd.DataFrame]:
    """Planned runs in the `production_schedules` columns. `existing_keys`: external_id."""
    return engine.validate(
        SCHEDULE, sheet, reference, existing_keys=existing_keys, quarantine_invalid=quarantine_invalid
    )


def validate_import(
    kind: ImportKind,
    sheet: TextSheet,
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    quarantine_invalid: bool = False,
    land_valid_rows: bool = False,
    ingest_run_id: str | None = None,
) -> ImportResult[Any]:
    """The validator for `kind`, for callers that pick the kind at run time (e.g. a file sensor)."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r} (expected one of {', '.join(IMPORT_KINDS)})")
    return engine.validate(
        SPECS[kind],
        sheet,
        reference,
        existing_keys=existing_keys,
        quarantine_invalid=quarantine_invalid,
        land_valid_rows=land_valid_rows,
        ingest_run_id=ingest_run_id,
    )


def find_import_overlaps(
    kind: ImportKind, slices: Iterable[TextSheet], reference: ImportReference
) -> Overlaps | None:
    """The rows of the file these slices make up that overlap an earlier row of the same machine
    (downtime, machine-state logs), for `validate_import_in_slices`; None for the other kinds (no
    slice is read then)."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r} (expected one of {', '.join(IMPORT_KINDS)})")
    if SPECS[kind].overlaps is None:
        return None
    return engine.find_overlaps(SPECS[kind], slices, reference)


def validate_import_in_slices(
    kind: ImportKind,
    slices: Iterable[TextSheet],
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    ingest_run_id: str | None = None,
    on_valid_rows: Callable[[Any], None] | None = None,
    keep_valid_rows: bool = False,
    overlaps: Overlaps | None = None,
) -> ImportResult[Any]:
    """The report `validate_import` gives for the file these slices make up, holding one slice at a
    time. `overlaps`: what `find_import_overlaps` found in the same file (required for the kinds it
    checks). Nothing lands unless `keep_valid_rows` and the file has no problem (see
    `engine.validate_in_slices`)."""
    if kind not in SLICED_KINDS:
        raise ValueError(f"unknown import kind {kind!r} (expected one of {', '.join(IMPORT_KINDS)})")
    return engine.validate_in_slices(
        SPECS[kind],
        slices,
        reference,
        existing_keys=existing_keys,
        ingest_run_id=ingest_run_id,
        on_valid_rows=on_valid_rows,
        keep_valid_rows=keep_valid_rows,
        overlaps=overlaps,
    )
