"""The validation every import kind shares: header, cell types, known ids, duplicates, and the split
into rows to land and rows turned away. Each kind describes its columns in an `ImportSpec`."""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable
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
    RowError,
    TextSheet,
)

CellType = Literal["text", "timestamp", "number", "whole_number"]
ReferenceSet = Literal["machine_ids", "line_ids", "product_ids", "work_order_ids", "recipe_ids"]

# The report lists this many problems (the first in file order) and counts every one by kind.
MAX_REPORTED_ERRORS = 1_000
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
    # Whether every row check looks at one row alone (besides duplicates): then a file can be
    # validated a slice of rows at a time (`validate_in_slices`).
    row_local: bool = False
    # The landed rows of a file's slices, in order, as one landing: what `land` gives for the file.
    combine_landed: Callable[[list[Landed]], Landed] | None = None

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
    land_valid_rows: bool = False,
    ingest_run_id: str | None = None,
    error_limit: int = MAX_REPORTED_ERRORS,
) -> ImportResult[Landed]:
    """Check every row of `sheet`; the report names the first `error_limit` problems and counts all.

    All or nothing: the rows land only when none is bad, unless `quarantine_invalid` (the valid rows
    land, the rejected ones come back with their reasons) or `land_valid_rows` (the valid rows come
    back to be looked up, without the rejected ones: a first pass before the keys already imported
    are known)."""
    problems = cells.Problems(sheet.row_numbers, spec.column_names)
    problems.add_read_errors(sheet.read_errors)
    duplicates = cells.DuplicateFinder(len(spec.key))
    checked = _check(spec, sheet, reference, problems, problems, duplicates, existing_keys)
    raw = checked.raw

    rejected_mask = problems.rejected(len(sheet.frame))
    rows_valid = int((~rejected_mask).sum())
    summary = problems.summary(error_limit)
    lands = (not summary.total or quarantine_invalid or land_valid_rows) and rows_valid > 0
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
        errors=summary.first,
        error_counts=summary.counts_by_kind,
        total_errors=summary.total,
        # Unreadable rows are not in the frame, so they are not in the mask either.
        total_bad_rows=int(rejected_mask.sum()) + len({error.row for error in sheet.read_errors}),
    )
    rejected = _rejected_rows(sheet, raw, rejected_mask, problems) if quarantine_invalid else None
    return ImportResult(report=report, rows=landing, rejected=rejected)


def _check(
    spec: ImportSpec[Landed],
    sheet: TextSheet,
    reference: ImportReference,
    problems: cells.Problems,
    header_problems: cells.Problems,
    duplicates: cells.DuplicateFinder,
    existing_keys: pd.DataFrame | None,
) -> Checked:
    """Every check of `sheet`'s rows into `problems`; the header's into `header_problems`."""
    raw, absent = _columns_by_spec(spec, sheet.frame, header_problems)
    problems.header_failed = problems.header_failed or header_problems.header_failed
    text = pd.DataFrame({name: cells.clean_text(raw[name]) for name in spec.column_names})
    parsed = _parse_columns(spec, text, raw, absent, problems, reference, sheet.excel_epoch)
    checked = Checked(text, raw, parsed, problems, reference)
    spec.check_rows(checked)
    _check_duplicates(spec, checked, sheet.row_numbers, duplicates, existing_keys)
    return checked


def validate_in_slices(
    spec: ImportSpec[Landed],
    slices: Iterable[TextSheet],
    reference: ImportReference,
    *,
    existing_keys: pd.DataFrame | None = None,
    ingest_run_id: str | None = None,
    on_valid_rows: Callable[[Landed], None] | None = None,
    keep_valid_rows: bool = False,
    error_limit: int = MAX_REPORTED_ERRORS,
) -> ImportResult[Landed]:
    """`validate`'s report for a file read a slice of rows at a time, holding one slice at a time.

    Only for kinds whose row checks look at one row at a time (`spec.row_local`): duplicates are
    found across slices, everything else within each. Each slice's `read_errors` are the unreadable
    rows found since the previous slice. `on_valid_rows` receives each slice's valid rows in landed
    form (e.g. to look up the keys already imported).

    Nothing lands (`rows_to_land` 0, no rows) unless `keep_valid_rows` and the file has no problem:
    then the rows are what `validate(..., land_valid_rows=True)` gives. The landed rows are kept only
    while no problem has been found, so a bad file never holds them all."""
    if not spec.row_local or spec.combine_landed is None:
        raise ValueError(f"{spec.kind} rows are checked against each other; validate the sheet whole")
    kept: list[Landed] = []
    duplicates = cells.DuplicateFinder(len(spec.key))
    read_errors: list[RowError] = []
    first: list[RowError] = []
    counts: Counter[str] = Counter()
    # Where each kind stands in the whole file's count: (check, slice, place in the slice).
    kind_order: dict[str, tuple[int, int, int]] = {}
    total = rows_in_frames = rows_valid = bad_rows = 0
    file_name = ""
    for index, sheet in enumerate(slices):
        file_name = sheet.file_name
        read_errors.extend(sheet.read_errors)
        problems = cells.Problems(sheet.row_numbers, spec.column_names)
        # The header is the same in every slice: its problems are reported once, with the first.
        header_problems = problems if index == 0 else cells.Problems(sheet.row_numbers[:0])
        checked = _check(spec, sheet, reference, problems, header_problems, duplicates, existing_keys)
        rejected_mask = problems.rejected(len(sheet.frame))
        valid = int((~rejected_mask).sum())
        rows_in_frames += len(sheet.frame)
        rows_valid += valid
        bad_rows += int(rejected_mask.sum())
        # Slices come in file order: once the report is full, later slices are only counted.
        summary = problems.summary(error_limit - len(first) if len(first) < error_limit else 0)
        first.extend(summary.first)
        counts.update(summary.counts_by_kind)
        _note_kind_order(kind_order, summary, index)
        total += summary.total
        keep = keep_valid_rows and not total and not read_errors
        if valid and (keep or on_valid_rows is not None):
            landed = spec.land(checked.parsed[~rejected_mask], reference, file_name, ingest_run_id)
            if on_valid_rows is not None:
                on_valid_rows(landed)
            if keep:
                kept.append(landed)
        if total or read_errors:
            kept.clear()
    unreadable = cells.Problems(np.empty(0, dtype=np.int64), spec.column_names)
    unreadable.add_read_errors(read_errors)
    unreadable_summary = unreadable.summary(error_limit)
    # Unreadable rows are never rows of a slice: merged in by row number, they keep the file order.
    errors = list(heapq.merge(unreadable_summary.first, first, key=lambda error: error.row))[:error_limit]
    all_counts = Counter(unreadable_summary.counts_by_kind)
    all_counts.update(counts)
    _note_kind_order(kind_order, unreadable_summary, -1)
    # As `Problems.summary` orders the whole file's: most first, ties in the order first found.
    in_order = sorted(all_counts, key=kind_order.__getitem__)
    error_counts = {
        kind: all_counts[kind] for kind in sorted(in_order, key=all_counts.__getitem__, reverse=True)
    }
    unreadable_rows = len({error.row for error in read_errors})
    lands = bool(kept) and not total and not read_errors
    report = ImportReport(
        kind=spec.kind,
        file_name=file_name,
        rows_read=rows_in_frames + unreadable_rows,
        rows_valid=rows_valid,
        rows_to_land=rows_valid if lands else 0,
        errors=errors,
        error_counts=error_counts,
        total_errors=total + unreadable_summary.total,
        total_bad_rows=bad_rows + unreadable_rows,
    )
    rows = spec.combine_landed(kept) if lands else spec.empty_landing()
    return ImportResult(report=report, rows=rows)


def _note_kind_order(
    kind_order: dict[str, tuple[int, int, int]], summary: cells.ProblemSummary, slice_index: int
) -> None:
    for place, (kind, check) in enumerate(summary.first_check.items()):
        kind_order[kind] = min(kind_order.get(kind, (check, slice_index, place)), (check, slice_index, place))


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
    duplicates: cells.DuplicateFinder,
    existing_keys: pd.DataFrame | None,
) -> None:
    file_columns = [file_column for file_column, _ in spec.key]
    reported_column = file_columns[-1]
    original = checked.raw[reported_column]
    key_text = ", ".join(file_columns)

    # Column by column: selecting the key's columns as one frame would copy their text.
    key_columns = [checked.parsed[name] for name in file_columns]
    repeated, first_rows = duplicates.find(key_columns, row_numbers)
    earlier_rows = first_rows[repeated]

    def duplicate_reasons(entries: np.ndarray) -> list[str]:
        return [f"duplicate of row {row} (same {key_text})" for row in earlier_rows[entries]]

    checked.problems.add(
        repeated, reported_column, original, duplicate_reasons, kind=f"duplicate row (same {key_text})"
    )

    if existing_keys is None:
        return
    existing = _existing_in_file_terms(spec, existing_keys)
    checked.problems.add(
        cells.already_present(checked.parsed[file_columns], existing),
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
