"""The validation every import kind shares: header, cell types, known ids, duplicates, and the split
into rows to land and rows turned away. Each kind describes its columns in an `ImportSpec`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal

import numpy as np
import pandas as pd

from oee_pipelines.domain.imports import cells
from oee_pipelines.domain.imports.model import (
    HEADER_ROW,
    ImportKind,
    ImportReference,
    ImportReport,
    ImportResult,
    Landed,
    TextSheet,
)

CellType = Literal["text", "timestamp", "number", "whole_number"]
ReferenceSet = Literal["machine_ids", "line_ids", "product_ids", "work_order_ids", "recipe_ids"]

NOT_A_NUMBER = "not a number (write digits with '.' as the decimal point, e.g. 75.5)"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    cell_type: CellType = "text"
    required: bool = False
    known_in: ReferenceSet | None = None
    # Other header names accepted for this column (e.g. `timestamp` for a state log's `start`).
    aliases: tuple[str, ...] = ()

    @property
    def header_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Checked:
    """A sheet after the shared checks: cleaned text and parsed values for every spec column."""

    text: pd.DataFrame
    raw: pd.DataFrame
    parsed: pd.DataFrame
    problems: cells.Problems
    reference: ImportReference


@dataclass(frozen=True)
class ImportSpec(Generic[Landed]):
    kind: ImportKind
    columns: tuple[ColumnSpec, ...]
    # (column in the file, column in the landed rows): the identity of a row for duplicate checks.
    key: tuple[tuple[str, str], ...]
    check_rows: Callable[[Checked], None]
    land: Callable[[pd.DataFrame, ImportReference, str, str | None], Landed]
    empty_landing: Callable[[], Landed]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


def normalized_header(name: object) -> str:
    """Header names are matched without case, surrounding blanks, or space/hyphen differences."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def validate(
    spec: ImportSpec[Landed],
    sheet: TextSheet,
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    quarantine_invalid: bool = False,
    ingest_run_id: str | None = None,
) -> ImportResult[Landed]:
    problems = cells.Problems(sheet.row_numbers, spec.column_names)
    problems.add_read_errors(sheet.read_errors)
    raw, absent = _columns_by_spec(spec, sheet.frame, problems)
    text = pd.DataFrame({name: cells.clean_text(raw[name]) for name in spec.column_names})
    parsed = _parse_columns(spec, text, raw, absent, problems, reference, sheet.excel_epoch)
    checked = Checked(text, raw, parsed, problems, reference)
    spec.check_rows(checked)
    _check_duplicates(spec, checked, sheet.row_numbers, existing_keys)

    rejected_mask = problems.rejected(len(sheet.frame))
    rows_valid = int((~rejected_mask).sum())
    errors = problems.errors()
    lands = (not errors or quarantine_invalid) and rows_valid > 0
    landing = (
        spec.land(checked.parsed[~rejected_mask], reference, sheet.file_name, ingest_run_id)
        if lands
        else spec.empty_landing()
    )
    report = ImportReport(
        kind=spec.kind,
        file_name=sheet.file_name,
        rows_read=sheet.rows_read,
        rows_valid=rows_valid,
        # Rows of the file, not landed records: one state-log row lands as several state readings.
        rows_to_land=rows_valid if lands else 0,
        errors=errors,
    )
    rejected = _rejected_rows(sheet, raw, rejected_mask, problems) if quarantine_invalid else None
    return ImportResult(report=report, rows=landing, rejected=rejected)


def _columns_by_spec(
    spec: ImportSpec[Landed], frame: pd.DataFrame, problems: cells.Problems
) -> tuple[pd.DataFrame, set[str]]:
    """The sheet's columns under the spec's names (absent ones empty), and the names of the absent.

    A missing required column is reported once, on the header, not once per row."""
    position_by_name: dict[str, int] = {}
    header_names = {name for column in spec.columns for name in column.header_names}
    for position, original in enumerate(frame.columns):
        name = normalized_header(original)
        if name in position_by_name and name in header_names:
            first = frame.columns[position_by_name[name]]
            problems.add_header(
                name, f"column appears more than once ('{first}' and '{original}')", str(original)
            )
        position_by_name.setdefault(name, position)
    columns = {}
    absent: set[str] = set()
    for column in spec.columns:
        found = [name for name in column.header_names if name in position_by_name]
        if len(found) > 1:
            written = " and ".join(f"'{frame.columns[position_by_name[name]]}'" for name in found)
            problems.add_header(column.name, f"columns {written} both give {column.name}; keep one")
        if found:
            columns[column.name] = frame.iloc[:, position_by_name[found[0]]].reset_index(drop=True)
            continue
        if column.required:
            problems.add_header(column.name, "required column is missing")
        absent.add(column.name)
        columns[column.name] = pd.Series(pd.NA, index=range(len(frame)), dtype=cells.TEXT_DTYPE)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame))), absent


def _parse_columns(
    spec: ImportSpec[Landed],
    text: pd.DataFrame,
    raw: pd.DataFrame,
    absent: set[str],
    problems: cells.Problems,
    reference: ImportReference,
    excel_epoch: datetime | None,
) -> pd.DataFrame:
    parsed: dict[str, pd.Series | np.ndarray] = {}
    for column in spec.columns:
        values, original = text[column.name], raw[column.name]
        if column.required and column.name not in absent:
            problems.add(~cells.present(values), column.name, original, "required value is missing")
        if column.cell_type == "timestamp":
            stamps, reasons = cells.parse_timestamps(values, reference.plant_timezone, excel_epoch)
            problems.add(reasons.notna(), column.name, original, reasons)
            parsed[column.name] = stamps
        else:
            parsed[column.name] = _parse_cells(column, values, original, problems, reference)
    return pd.DataFrame(parsed, index=text.index)


def _parse_cells(
    column: ColumnSpec,
    values: pd.Series,
    original: pd.Series,
    problems: cells.Problems,
    reference: ImportReference,
) -> pd.Series | np.ndarray:
    if column.cell_type in ("number", "whole_number"):
        numbers, bad = cells.parse_numbers(values)
        problems.add(bad, column.name, original, NOT_A_NUMBER)
        if column.cell_type == "whole_number":
            problems.add(cells.not_whole(numbers), column.name, original, "not a whole number")
        return numbers
    known = getattr(reference, column.known_in) if column.known_in else None
    if known is not None:
        label = column.name.removesuffix("_id").replace("_", " ")
        problems.add(cells.unknown_ids(values, known), column.name, original, f"unknown {label}")
    return values


def _check_duplicates(
    spec: ImportSpec[Landed],
    checked: Checked,
    row_numbers: np.ndarray,
    existing_keys: pd.DataFrame | None,
) -> None:
    file_columns = [file_column for file_column, _ in spec.key]
    keys = checked.parsed[file_columns]
    reported_column = file_columns[-1]
    original = checked.raw[reported_column]
    key_text = ", ".join(file_columns)

    repeated, first_rows = cells.first_rows_of_duplicates(keys, row_numbers)
    reasons = pd.Series([f"duplicate of row {row} (same {key_text})" for row in first_rows[repeated]])
    problems_reason = pd.Series(pd.NA, index=keys.index, dtype=cells.TEXT_DTYPE)
    problems_reason[repeated] = reasons.to_numpy()
    checked.problems.add(repeated, reported_column, original, problems_reason)

    if existing_keys is None:
        return
    existing = _existing_in_file_terms(spec, existing_keys)
    checked.problems.add(
        cells.already_present(keys, existing),
        reported_column,
        original,
        f"already imported (same {key_text})",
    )


def _existing_in_file_terms(spec: ImportSpec[Landed], existing_keys: pd.DataFrame) -> pd.DataFrame:
    renamed = existing_keys.rename(columns={landed: file_column for file_column, landed in spec.key})
    timestamp_columns = {c.name for c in spec.columns if c.cell_type == "timestamp"}
    for file_column, landed in spec.key:
        if landed not in existing_keys.columns:
            raise ValueError(f"existing keys lack column {landed!r} (expected {[k[1] for k in spec.key]})")
        if file_column in timestamp_columns:
            renamed[file_column] = pd.to_datetime(renamed[file_column], utc=True).astype(cells.UTC_MICROS)
    return renamed


def _rejected_rows(
    sheet: TextSheet, raw: pd.DataFrame, rejected_mask: np.ndarray, problems: cells.Problems
) -> pd.DataFrame:
    """The rejected rows as written, in the template's columns, with their row number and every reason."""
    found = problems.frame()
    described = found["column"].fillna("row") + ": " + found["reason"]
    reasons = described.groupby(found["row"], sort=True).agg("; ".join)
    rows = raw[rejected_mask].reset_index(drop=True)
    rows.insert(0, "row", sheet.row_numbers[rejected_mask])
    unreadable = sorted({error.row for error in sheet.read_errors})
    if unreadable:
        rows = pd.concat([rows, pd.DataFrame({"row": unreadable})], ignore_index=True)
    rows["errors"] = rows["row"].map(reasons)
    if HEADER_ROW in reasons.index:
        header = "header: " + reasons[HEADER_ROW]
        rows["errors"] = (header + "; " + rows["errors"]).fillna(header)
    return rows.sort_values("row", kind="stable", ignore_index=True)


def require_end_after_start(checked: Checked, start_column: str, end_column: str) -> None:
    start, end = checked.parsed[start_column], checked.parsed[end_column]
    backwards = (start.notna() & end.notna() & (end <= start)).to_numpy(dtype=bool)
    checked.problems.add(backwards, end_column, checked.raw[end_column], f"must be after {start_column}")
