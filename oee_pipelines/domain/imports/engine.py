"""The validation every import kind shares: header, cell types, known ids, duplicates, and the split
into rows to land and rows turned away. Each kind describes its columns in an `ImportSpec`."""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
class OverlapCheck:
    """Rows of one machine whose time spans must not overlap: each row is compared with the one before
    it in (machine, start, row) order. The only check that looks across rows besides duplicates."""

    group: str
    start: str
    end: str
    # Whether a row without an end is left out (a stop needs both ends; a state may run to the next).
    end_required: bool
    # The reason, with `{row}` for the earlier row's number.
    reason: str

    @property
    def columns(self) -> tuple[str, str, str]:
        return (self.group, self.start, self.end)


@dataclass(frozen=True)
class Overlaps:
    """The rows of a file that overlap an earlier row (by row number, ascending) and that row's number."""

    rows: np.ndarray
    earlier_rows: np.ndarray

    def in_slice(self, row_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A mask over a slice's rows of those overlapping, and for each of them the earlier row."""
        if not len(self.rows):
            return np.zeros(len(row_numbers), dtype=bool), np.empty(0, dtype=np.int64)
        inside = np.minimum(np.searchsorted(self.rows, row_numbers), len(self.rows) - 1)
        mask = self.rows[inside] == row_numbers
        return mask, self.earlier_rows[inside[mask]]


class SpanCollector:
    """A compact projection of a file's rows for `OverlapCheck`, gathered slice by slice: per row a
    machine code, start and end as int64 microseconds, and the row number (28 bytes a row)."""

    def __init__(self, check: OverlapCheck) -> None:
        self.check = check
        self._codes = cells.Codebook()
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, group: pd.Series, start: pd.Series, end: pd.Series, row_numbers: np.ndarray) -> None:
        codes = self._codes.codes(group).astype(np.int32)
        starts, ends = _micros(start), _micros(end)
        keep = (codes >= 0) & (starts != _NAT)
        if self.check.end_required:
            keep &= ends != _NAT
        rows = np.asarray(row_numbers, dtype=np.int64)
        self._parts.append((codes[keep], starts[keep], ends[keep], rows[keep]))

    def overlaps(self) -> Overlaps:
        """What `pandas` sorting by (machine, start, row) and comparing each row with the one before
        finds, computed on the integer arrays."""
        if not self._parts:
            return Overlaps(np.empty(0, np.int64), np.empty(0, np.int64))
        codes, starts, ends, rows = (np.concatenate(part) for part in zip(*self._parts, strict=True))
        self._parts = [(codes, starts, ends, rows)]
        order = np.lexsort((rows, starts, codes))
        codes, starts, ends, rows = codes[order], starts[order], ends[order], rows[order]
        same_machine = codes[1:] == codes[:-1]
        previous_end = ends[:-1]
        overlapping = same_machine & (previous_end != _NAT) & (starts[1:] < previous_end)
        flagged, earlier = rows[1:][overlapping], rows[:-1][overlapping]
        by_row = np.argsort(flagged, kind="stable")
        return Overlaps(flagged[by_row], earlier[by_row])


_NAT = np.iinfo(np.int64).min


def _micros(stamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds, NaT as the smallest int64."""
    values = pd.Series(stamps).astype(cells.UTC_MICROS)
    return np.asarray(values.array.asi8, dtype=np.int64)


@dataclass(frozen=True)
class ImportSpec(Generic[Landed]):
    kind: ImportKind
    columns: tuple[ColumnSpec, ...]
    # (column in the file, column in the landed rows): the identity of a row for duplicate checks.
    key: tuple[tuple[str, str], ...]
    check_rows: Callable[[Checked], None]
    land: Callable[[pd.DataFrame, ImportReference, str, str | None], Landed]
    empty_landing: Callable[[], Landed]
    # Whether every row check looks at one row alone (besides duplicates and `overlaps`, which are
    # found across slices).
    row_local: bool = False
    # The landed rows of a file's slices, in order, as one landing: what `land` gives for the file.
    # None: `land` needs the file's rows together (a state runs until the machine's next row), so the
    # valid rows of a good file are kept parsed and landed once at the end.
    combine_landed: Callable[[list[Landed]], Landed] | None = None
    # Spans of one machine that must not overlap, checked after `check_rows` (see `OverlapCheck`).
    overlaps: OverlapCheck | None = None

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
    checked = _check(spec, sheet, reference, problems, problems, duplicates, existing_keys, None)
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
    overlaps: Overlaps | None,
) -> Checked:
    """Every check of `sheet`'s rows into `problems`; the header's into `header_problems`.

    `overlaps`: the whole file's (`find_overlaps`) when `sheet` is one slice of it; None finds them in
    `sheet` alone."""
    checked = _check_cells(spec, sheet, reference, problems, header_problems, overlaps)
    _check_duplicates(spec, checked, sheet.row_numbers, duplicates, existing_keys)
    return checked


def _check_cells(
    spec: ImportSpec[Landed],
    sheet: TextSheet,
    reference: ImportReference,
    problems: cells.Problems,
    header_problems: cells.Problems,
    overlaps: Overlaps | None,
) -> Checked:
    """`_check` but for duplicates: looks at `sheet` alone, so slices can be checked side by side."""
    raw, absent = _columns_by_spec(spec, sheet.frame, header_problems)
    problems.header_failed = problems.header_failed or header_problems.header_failed
    text = pd.DataFrame({name: cells.clean_text(raw[name]) for name in spec.column_names})
    parsed = _parse_columns(spec, text, raw, absent, problems, reference, sheet.excel_epoch)
    checked = Checked(text, raw, parsed, problems, reference)
    spec.check_rows(checked)
    _check_overlaps(spec, checked, sheet.row_numbers, overlaps)
    return checked


def find_overlaps(
    spec: ImportSpec[Landed], slices: Iterable[TextSheet], reference: ImportReference
) -> Overlaps | None:
    """The overlapping rows of the file these slices make up, for `validate_in_slices`; None for a
    kind without an overlap check. Reads only the check's three columns of each slice, as `validate`
    parses them, into a compact projection (`SpanCollector`)."""
    check = spec.overlaps
    if check is None:
        return None
    spans = SpanCollector(check)
    for sheet in slices:
        ignored = cells.Problems(sheet.row_numbers[:0])
        raw, _ = _columns_by_spec(spec, sheet.frame, ignored)
        group = cells.clean_text(raw[check.group])
        zone, epoch = reference.plant_timezone, sheet.excel_epoch
        start, end = (
            cells.parse_timestamps(cells.clean_text(raw[name]), zone, epoch)[0]
            for name in (check.start, check.end)
        )
        spans.add(group, start, end, sheet.row_numbers)
        del raw, group, start, end
    return spans.overlaps()


def _check_overlaps(
    spec: ImportSpec[Landed], checked: Checked, row_numbers: np.ndarray, overlaps: Overlaps | None
) -> None:
    check = spec.overlaps
    if check is None:
        return
    if overlaps is None:
        spans = SpanCollector(check)
        group, start, end = (checked.parsed[name] for name in check.columns)
        spans.add(group, start, end, row_numbers)
        overlaps = spans.overlaps()
    mask, earlier = overlaps.in_slice(np.asarray(row_numbers, dtype=np.int64))

    def reasons(entries: np.ndarray) -> list[str]:
        return [check.reason.format(row=int(row)) for row in earlier[entries]]

    # Counted as the masked reason ("... in row N"), as any reason naming a row is.
    kind = check.reason.format(row="N")
    checked.problems.add(mask, check.start, checked.raw[check.start], reasons, kind=kind)


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
    overlaps: Overlaps | None = None,
) -> ImportResult[Landed]:
    """`validate`'s report for a file read a slice of rows at a time, holding one slice at a time.

    Duplicates are found across slices as they come; overlaps (`spec.overlaps`) must be found first
    over the whole file (`find_overlaps`, a pass reading three columns) and are passed in; every other
    check looks at one row at a time. Each slice's `read_errors` are the unreadable rows found since
    the previous slice. `on_valid_rows` receives each slice's valid rows in landed form (e.g. to look
    up the keys already imported; a state log's slice is landed on its own there).

    Nothing lands (`rows_to_land` 0, no rows) unless `keep_valid_rows` and the file has no problem:
    then the rows are what `validate(..., land_valid_rows=True)` gives. The valid rows are kept only
    while no problem has been found, so a bad file never holds them all."""
    if spec.overlaps is not None and overlaps is None:
        raise ValueError(
            f"{spec.kind} rows are checked against each other: find their overlaps first (find_overlaps)"
        )
    kept: list[Landed] = []
    kept_parsed: list[pd.DataFrame] = []
    duplicates = cells.DuplicateFinder(len(spec.key))
    read_errors: list[RowError] = []
    first: list[RowError] = []
    counts: Counter[str] = Counter()
    # Where each kind stands in the whole file's count: (check, slice, place in the slice).
    kind_order: dict[str, tuple[int, int, int]] = {}
    total = rows_in_frames = rows_valid = bad_rows = 0
    file_name = ""
    for index, (sheet, problems, checking) in enumerate(_checked_ahead(spec, slices, reference, overlaps)):
        file_name = sheet.file_name
        read_errors.extend(sheet.read_errors)
        checked = checking.result()
        _check_duplicates(spec, checked, sheet.row_numbers, duplicates, existing_keys)
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
        if valid and keep and spec.combine_landed is None:
            kept_parsed.append(checked.parsed[~rejected_mask])
        if valid and (on_valid_rows is not None or (keep and spec.combine_landed is not None)):
            landed = spec.land(checked.parsed[~rejected_mask], reference, file_name, ingest_run_id)
            if on_valid_rows is not None:
                on_valid_rows(landed)
            if keep and spec.combine_landed is not None:
                kept.append(landed)
        if total or read_errors:
            kept.clear()
            kept_parsed.clear()
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
    lands = bool(kept or kept_parsed) and not total and not read_errors
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
    rows = _combined(spec, kept, kept_parsed, reference, file_name, ingest_run_id) if lands else None
    return ImportResult(report=report, rows=spec.empty_landing() if rows is None else rows)


def _checked_ahead(
    spec: ImportSpec[Landed],
    slices: Iterable[TextSheet],
    reference: ImportReference,
    overlaps: Overlaps | None,
) -> Iterator[tuple[TextSheet, cells.Problems, Future[Checked]]]:
    """Each slice with its problems and its cells' checks (`_check_cells`), which run on a thread: the
    next slice's cells are checked while the caller finds the duplicates of this one (Arrow, numpy and
    pandas release the GIL for most of it). Slices are read and checked in order, one at a time, with
    the same functions as one after another, so the problems found are the same."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-check") as checker:
        pending: tuple[TextSheet, cells.Problems, Future[Checked]] | None = None
        for index, sheet in enumerate(slices):
            problems = cells.Problems(sheet.row_numbers, spec.column_names)
            # The header is the same in every slice: its problems are reported once, with the first.
            header_problems = problems if index == 0 else cells.Problems(sheet.row_numbers[:0])
            checking = checker.submit(
                _check_cells, spec, sheet, reference, problems, header_problems, overlaps
            )
            if pending is not None:
                yield pending
            pending = (sheet, problems, checking)
        if pending is not None:
            yield pending


def _combined(
    spec: ImportSpec[Landed],
    kept: list[Landed],
    kept_parsed: list[pd.DataFrame],
    reference: ImportReference,
    file_name: str,
    ingest_run_id: str | None,
) -> Landed:
    if spec.combine_landed is not None:
        return spec.combine_landed(kept)
    return spec.land(pd.concat(kept_parsed, ignore_index=True), reference, file_name, ingest_run_id)


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
    # An empty report's columns come back as floats: object keeps "row: reason" a text concatenation.
    described = found["column"].astype(object).fillna("row") + ": " + found["reason"].astype(object)
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
