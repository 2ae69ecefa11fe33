"""Vectorised cell parsers for imports and the collector that keeps every problem with its row.

Every parser takes cleaned text (stripped, empty cells missing) and returns the parsed values plus
what was wrong with each present-but-unusable cell, so a file is checked in a handful of column
operations rather than row by row.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from oee_pipelines.domain.imports.model import HEADER_ROW, RowError

TEXT_DTYPE = "string[pyarrow]"
UTC_MICROS = "datetime64[us, UTC]"

# A time of day followed by Z or a numeric offset: the writer said which zone they meant.
_HAS_OFFSET = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_PLAIN_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# Excel serials 61.. are 1900-03-01 onwards (below that Excel's 1900 leap-year bug shifts days);
# 2958466 is 10000-01-01.
_EXCEL_SERIAL_MIN, _EXCEL_SERIAL_END = 61.0, 2958466.0
TIMESTAMP_HINT = "expected a date and time such as 2025-10-05 14:30:00 or 2025-10-05T12:30:00Z"


class Problems:
    """Every problem found in one sheet, gathered column by column as boolean masks."""

    def __init__(self, row_numbers: np.ndarray, column_order: Sequence[str] = ()) -> None:
        self.row_numbers = np.asarray(row_numbers, dtype=np.int64)
        self._column_rank = {name: rank for rank, name in enumerate(column_order)}
        self._parts: list[pd.DataFrame] = []
        self.header_failed = False

    def add(
        self,
        mask: np.ndarray | pd.Series,
        column: str | None,
        raw: pd.Series | None,
        reason: str | pd.Series,
    ) -> None:
        """Record `reason` for every row where `mask` holds; `raw` gives the cell text to quote."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if positions.size == 0:
            return
        values = _texts(raw.iloc[positions]) if raw is not None else [None] * positions.size
        reasons = reason if isinstance(reason, str) else _texts(reason.iloc[positions])
        self._parts.append(
            pd.DataFrame(
                {
                    "position": positions,
                    "row": self.row_numbers[positions],
                    "column": column,
                    "value": values,
                    "reason": reasons,
                }
            )
        )

    def add_header(self, column: str, reason: str, written: str | None = None) -> None:
        """A problem with the header makes every row unusable, so nothing from the file lands."""
        self.header_failed = True
        self._parts.append(
            pd.DataFrame(
                {
                    "position": [-1],
                    "row": [HEADER_ROW],
                    "column": [column],
                    "value": [written],
                    "reason": [reason],
                }
            )
        )

    def add_read_errors(self, errors: Collection[RowError]) -> None:
        if not errors:
            return
        self._parts.append(
            pd.DataFrame(
                {
                    "position": -1,
                    "row": [error.row for error in errors],
                    "column": [error.column for error in errors],
                    "value": [error.value for error in errors],
                    "reason": [error.reason for error in errors],
                }
            )
        )

    def rejected(self, row_count: int) -> np.ndarray:
        """A boolean mask of the sheet's rows that have at least one problem."""
        if self.header_failed:
            return np.ones(row_count, dtype=bool)
        mask = np.zeros(row_count, dtype=bool)
        for part in self._parts:
            positions = part["position"].to_numpy()
            mask[positions[positions >= 0]] = True
        return mask

    def frame(self) -> pd.DataFrame:
        """All problems, by row as the user sees it, then by column as the file lays them out."""
        if not self._parts:
            return pd.DataFrame(columns=["position", "row", "column", "value", "reason"])
        combined = pd.concat(self._parts, ignore_index=True)
        rank = combined["column"].map(self._column_rank).fillna(-1)
        order = np.lexsort((rank.to_numpy(), combined["row"].to_numpy()))
        return combined.iloc[order].reset_index(drop=True)

    def errors(self) -> list[RowError]:
        frame = self.frame()
        return [
            RowError(int(row), column, value, reason)
            for row, column, value, reason in zip(
                frame["row"], frame["column"], frame["value"], frame["reason"], strict=True
            )
        ]


def _texts(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(value) else str(value) for value in series.astype(object)]


def clean_text(raw: pd.Series) -> pd.Series:
    """Strip surrounding blanks; an empty cell is missing."""
    stripped = raw.astype(TEXT_DTYPE).str.strip()
    return stripped.mask(stripped == "")


def present(text: pd.Series) -> np.ndarray:
    return text.notna().to_numpy(dtype=bool)


def parse_numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing) and a mask of cells that hold text but no finite number."""
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers, present(text) & ~np.isfinite(numbers)


def not_whole(numbers: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(numbers) & (numbers != np.floor(numbers))


def unknown_ids(text: pd.Series, known: Collection[str]) -> np.ndarray:
    return present(text) & ~text.isin(list(known)).to_numpy(dtype=bool)


def parse_timestamps(
    text: pd.Series, plant_timezone: str, excel_epoch: datetime | None = None
) -> tuple[pd.Series, pd.Series]:
    """UTC timestamps (NaT where missing or bad) and, per row, why a present cell was not one.

    Text with an offset or Z is taken as written; naive text is wall-clock time in `plant_timezone`.
    A local time that a daylight-saving change skips or repeats is refused rather than guessed.
    A bare number is an Excel serial date only when the sheet came from a workbook.
    """
    parsed = pd.Series(pd.NaT, index=text.index, dtype=UTC_MICROS)
    reasons = pd.Series(pd.NA, index=text.index, dtype=TEXT_DTYPE)
    is_present = pd.Series(present(text), index=text.index)
    has_offset = is_present & text.str.contains(_HAS_OFFSET, regex=True).fillna(False).astype(bool)
    is_number = is_present & text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)

    aware = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
    parsed[has_offset] = aware.astype(UTC_MICROS)

    naive_mask = is_present & ~has_offset & ~is_number
    naive = pd.to_datetime(text[naive_mask], format="ISO8601", errors="coerce")
    if excel_epoch is not None and is_number.any():
        naive = pd.concat([naive, _excel_serials(text[is_number], excel_epoch)])
    elif is_number.any():
        reasons[is_number] = f"a bare number is not a timestamp; {TIMESTAMP_HINT}"
    localized = naive.dt.tz_localize(plant_timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    parsed[localized.index] = localized.astype(UTC_MICROS)

    local_gap = naive.notna() & localized.isna()
    reasons[local_gap[local_gap].index] = (
        f"local time is skipped or repeated by a daylight-saving change in {plant_timezone}; "
        "write it with an offset such as +01:00"
    )
    unparsed = is_present & parsed.isna() & reasons.isna()
    reasons[unparsed] = f"not a timestamp; {TIMESTAMP_HINT}"
    return parsed, reasons


def _excel_serials(text: pd.Series, epoch: datetime) -> pd.Series:
    days = pd.to_numeric(text, errors="coerce").astype(np.float64)
    days = days.where((days >= _EXCEL_SERIAL_MIN) & (days < _EXCEL_SERIAL_END))
    # Excel stores times as fractions of a day; round away float noise at its millisecond precision.
    return (pd.Timestamp(epoch) + pd.to_timedelta(days, unit="D")).dt.round("ms")


def first_rows_of_duplicates(keys: pd.DataFrame, row_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier row's key (missing keys never match), and that earlier row's number."""
    complete = keys.notna().all(axis=1).to_numpy()
    repeated = np.zeros(len(keys), dtype=bool)
    first_row = np.zeros(len(keys), dtype=np.int64)
    if not complete.any():
        return repeated, first_row
    candidates = keys[complete]
    involved = candidates.duplicated(keep=False).to_numpy()
    if not involved.any():
        return repeated, first_row
    group = candidates[involved]
    positions = np.flatnonzero(complete)[involved]
    rows = pd.Series(row_numbers[positions], index=group.index)
    firsts = rows.groupby([group[name] for name in group.columns], sort=False).transform("min")
    later = (rows != firsts).to_numpy()
    repeated[positions[later]] = True
    first_row[positions[later]] = firsts.to_numpy()[later]
    return repeated, first_row


def already_present(keys: pd.DataFrame, existing: pd.DataFrame) -> np.ndarray:
    """Rows whose complete key is among `existing` (same column names and comparable types)."""
    if existing.empty or keys.empty:
        return np.zeros(len(keys), dtype=bool)
    complete = keys.notna().all(axis=1).to_numpy()
    ours = pd.MultiIndex.from_frame(keys[list(keys.columns)].astype(object))
    theirs = pd.MultiIndex.from_frame(existing[list(keys.columns)].astype(object))
    return complete & ours.isin(theirs)
