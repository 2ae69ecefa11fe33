"""Vectorised cell parsers for imports and the collector that keeps every problem with its row.

Every parser takes cleaned text (stripped, empty cells missing) and returns the parsed values plus
what was wrong with each present-but-unusable cell, so a file is checked in a handful of column
operations rather than row by row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.imports.model import HEADER_ROW, RowError

TEXT_DTYPE = "string[pyarrow]"
PARSE_SLICE_ROWS = 100_000
UTC_MICROS = "datetime64[us, UTC]"
HEADER_CHECK, UNREADABLE_CHECK = -1, -2

# A time of day followed by Z or a numeric offset: the writer said which zone they meant.
_HAS_OFFSET = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# A zone designator after a time of any shape (`00:14:0Z`, `00Z`): pandas reads such a cell as aware,
# and then every plain cell parsed with it as UTC. The ones `_HAS_OFFSET` does not accept are reported.
_ANY_ZONE = r"[Tt ]\S*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_PLAIN_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# Cells Arrow parses to the very float pandas gives: up to 15 characters of digits, so the digits fit
# a double exactly and both round the one division by a power of ten correctly.
_FAST_NUMBER = r"^-?[0-9]+(?:\.[0-9]+)?$"
FAST_NUMBER_CHARS = 15
_NEGATIVE_ZERO = r"^-0+$"
_WHOLE_NUMBER = r"^[+-]?[0-9]+$"
# Timestamps Arrow parses to the very instant pandas' ISO 8601 parser gives: year 1700-2259 (inside
# pandas' nanosecond range), at most microseconds, Z or a +hh:mm offset (day of month checked apart).
_FAST_TIMESTAMP = (
    r"^(?:1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?$"
)
# Excel serials 61.. are 1900-03-01 onwards (below that Excel's 1900 leap-year bug shifts days);
# 2958466 is 10000-01-01.
_EXCEL_SERIAL_MIN, _EXCEL_SERIAL_END = 61.0, 2958466.0
TIMESTAMP_HINT = "expected a date and time such as 2025-10-05 14:30:00 or 2025-10-05T12:30:00Z"


# A reason computed only for the entries a report shows (e.g. "duplicate of row 17"), so a file with
# millions of bad rows does not build millions of strings.
LazyReasons = Callable[[np.ndarray], list[str]]
# Row numbers inside per-row reasons ("overlaps ... in row 17") do not make another kind of error.
_ROW_NUMBER = r"\brow \d+"


@dataclass(frozen=True)
class _Found:
    """One check's problems: entries at sheet `positions` (-1: the header or an unreadable row)."""

    positions: np.ndarray
    rows: np.ndarray
    column: str | None
    cells: pd.Series | Sequence[str | None] | None  # the whole column (by position), or one per entry
    reason: str | pd.Series | Sequence[str] | LazyReasons  # one for all, one per entry, or computed
    kind: str | None  # what the report counts; None: the reason of each entry, row numbers masked
    # Which `Problems.add` call found them, counting calls that found nothing (the header's: -1,
    # unreadable rows: -2): the same check has the same number in every slice of a file.
    check: int = 0

    def values(self, entries: np.ndarray) -> list[str | None]:
        if self.cells is None:
            return [None] * len(entries)
        if isinstance(self.cells, pd.Series):
            return _texts(self.cells.iloc[self.positions[entries]])
        return [self.cells[entry] for entry in entries]

    def reasons(self, entries: np.ndarray) -> list[str]:
        if isinstance(self.reason, str):
            return [self.reason] * len(entries)
        if callable(self.reason):
            return self.reason(entries)
        if isinstance(self.reason, pd.Series):
            return [str(text) for text in self.reason.iloc[entries]]
        return [self.reason[entry] for entry in entries]

    def kind_counts(self) -> Counter[str]:
        where = self.column or "row"
        if self.kind is not None or isinstance(self.reason, str):
            return Counter({f"{where}: {self.kind or self.reason}": len(self.positions)})
        reasons = pd.Series(self.reasons(np.arange(len(self.positions))), dtype=TEXT_DTYPE)
        counts = reasons.str.replace(_ROW_NUMBER, "row N", regex=True).value_counts(sort=False)
        return Counter({f"{where}: {kind}": int(count) for kind, count in counts.items()})


@dataclass(frozen=True)
class ProblemSummary:
    """A bounded view of a sheet's problems: the first `limit` in file order, and a count per kind."""

    first: list[RowError]
    counts_by_kind: dict[str, int]
    total: int
    # Each kind's first check (`_Found.check`), kinds in the order they were first found.
    first_check: dict[str, int] = field(default_factory=dict)


class Problems:
    """Every problem found in one sheet, gathered column by column as boolean masks.

    Problems are kept as positions plus a reference to the column and the reason, so the text of
    each is built only for the problems a report shows: memory grows with the rows, not with
    strings per bad row.
    """

    def __init__(self, row_numbers: np.ndarray, column_order: Sequence[str] = ()) -> None:
        self.row_numbers = np.asarray(row_numbers, dtype=np.int64)
        self._column_rank = {name: rank for rank, name in enumerate(column_order)}
        self._found: list[_Found] = []
        self._checks = 0
        self.header_failed = False

    def add(
        self,
        mask: np.ndarray | pd.Series,
        column: str | None,
        raw: pd.Series | None,
        reason: str | pd.Series | LazyReasons,
        kind: str | None = None,
    ) -> None:
        """Record `reason` for every row where `mask` holds; `raw` gives the cell text to quote.

        `reason` is one text, a Series over the sheet's rows, or a function computing the reasons of
        chosen entries (indexes into the rows where `mask` holds); give a `kind` with a function."""
        self._checks += 1
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if positions.size == 0:
            return
        if callable(reason) and kind is None:
            raise ValueError("a computed reason needs a kind to be counted by")
        reasons = reason.iloc[positions].reset_index(drop=True) if isinstance(reason, pd.Series) else reason
        self._found.append(
            _Found(positions, self.row_numbers[positions], column, raw, reasons, kind, self._checks)
        )

    def add_header(self, column: str, reason: str, written: str | None = None) -> None:
        """A problem with the header makes every row unusable, so nothing from the file lands."""
        self.header_failed = True
        self._found.append(
            _Found(np.array([-1]), np.array([HEADER_ROW]), column, [written], reason, None, HEADER_CHECK)
        )

    def add_read_errors(self, errors: Collection[RowError]) -> None:
        # Read errors may name different columns; one entry each keeps each with its own.
        for error in errors:
            self._found.append(
                _Found(
                    np.array([-1]),
                    np.array([error.row]),
                    error.column,
                    [error.value],
                    error.reason,
                    None,
                    UNREADABLE_CHECK,
                )
            )

    def rejected(self, row_count: int) -> np.ndarray:
        """A boolean mask of the sheet's rows that have at least one problem."""
        if self.header_failed:
            return np.ones(row_count, dtype=bool)
        mask = np.zeros(row_count, dtype=bool)
        for found in self._found:
            mask[found.positions[found.positions >= 0]] = True
        return mask

    @property
    def count(self) -> int:
        return sum(len(found.positions) for found in self._found)

    def summary(self, limit: int | None) -> ProblemSummary:
        """The first `limit` problems (all with None) and the count of each kind over all of them."""
        counts: Counter[str] = Counter()
        first_check: dict[str, int] = {}
        for found in self._found:
            found_counts = found.kind_counts()
            counts.update(found_counts)
            for kind in found_counts:
                first_check.setdefault(kind, found.check)
        return ProblemSummary(self.errors(limit), dict(counts.most_common()), self.count, first_check)

    def errors(self, limit: int | None = None) -> list[RowError]:
        """Problems by row as the user sees it, then by column as the file lays them out."""
        if not self._found:
            return []
        # Each check's entries are in file order, so the first `limit` overall are among each check's
        # first `limit`: only those are sorted, however many problems the file has.
        heads = [found.rows[:limit] for found in self._found]
        rows = np.concatenate(heads)
        ranks = np.concatenate(
            [
                np.full(len(head), self._column_rank.get(found.column or "", -1))
                for head, found in zip(heads, self._found, strict=True)
            ]
        )
        owner = np.concatenate(
            [np.full(len(head), index, dtype=np.int32) for index, head in enumerate(heads)]
        )
        entry = np.concatenate([np.arange(len(head)) for head in heads])
        order = np.lexsort((ranks, rows))[:limit]
        chosen_owner, chosen_entry = owner[order], entry[order]
        texts: dict[int, dict[int, tuple[str | None, str]]] = {}
        for index in np.unique(chosen_owner):
            found, entries = self._found[index], chosen_entry[chosen_owner == index]
            texts[int(index)] = dict(
                zip(
                    entries.tolist(),
                    zip(found.values(entries), found.reasons(entries), strict=True),
                    strict=True,
                )
            )
        return [
            RowError(int(rows[position]), self._found[index].column, *texts[index][item])
            for position, index, item in zip(
                order.tolist(), chosen_owner.tolist(), chosen_entry.tolist(), strict=True
            )
        ]

    def frame(self) -> pd.DataFrame:
        """All problems in report order (for the quarantine's rejected rows)."""
        errors = self.errors()
        return pd.DataFrame(
            {
                "row": [error.row for error in errors],
                "column": [error.column for error in errors],
                "value": [error.value for error in errors],
                "reason": [error.reason for error in errors],
            },
            columns=["row", "column", "value", "reason"],
        )


def _texts(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(value) else str(value) for value in series.astype(object)]


def clean_text(raw: pd.Series) -> pd.Series:
    """Strip surrounding blanks; an empty cell is missing.

    Done with Arrow compute, and a column with nothing to strip and no empty cell is returned as it
    is: a large file's text is then held once, not once per step."""
    text = raw.astype(TEXT_DTYPE)
    cells = text.array.__arrow_array__()
    if not _may_need_cleaning(cells):
        return text
    stripped = pc.utf8_trim_whitespace(cells)
    empty = pc.equal(stripped, "")
    if (
        not pc.any(empty).as_py()
        and pc.all(pc.equal(pc.binary_length(stripped), pc.binary_length(cells))).as_py()
    ):
        return text
    cleaned = pc.if_else(empty, pa.scalar(None, stripped.type), stripped)
    return pd.Series(pd.arrays.ArrowStringArray(cleaned), index=raw.index, name=raw.name)


# Bytes a cell may start or end with and still be left as it is by `utf8_trim_whitespace`: printable
# ASCII other than the space. (Any Unicode blank is a control or space byte, or starts or ends with a
# byte above 0x7f in UTF-8.)
_KEPT_EDGE_BYTES = np.zeros(256, dtype=bool)
_KEPT_EDGE_BYTES[0x21:0x7F] = True


def _may_need_cleaning(cells: pa.ChunkedArray | pa.Array) -> bool:
    """False when no cell is missing or empty and none starts or ends with a blank: `clean_text` then
    keeps the column as it is. Looks only at each cell's first and last byte (through the offsets), so
    the usual column costs no trimmed copy; True (do the full check) whenever unsure."""
    chunks = cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]
    for chunk in chunks:
        if chunk.null_count:
            return True
        if not len(chunk):
            continue
        layout = _string_layout(chunk)
        if layout is None:
            return True
        offsets, data = layout
        starts, ends = offsets[:-1], offsets[1:]
        if bool(np.any(ends <= starts)):  # an empty cell
            return True
        if not (_KEPT_EDGE_BYTES[data[starts]].all() and _KEPT_EDGE_BYTES[data[ends - 1]].all()):
            return True
    return False


def _string_layout(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string array's offsets (one more than its cells) and data bytes, without a copy; None for
    another type or an array without data bytes (every cell empty or missing)."""
    if chunk.type == pa.large_string():
        offset_type: type[np.signedinteger] = np.int64
    elif chunk.type == pa.string():
        offset_type = np.int32
    else:
        return None
    _, offset_buffer, data_buffer = chunk.buffers()
    if offset_buffer is None or data_buffer is None or not len(data_buffer):
        return None
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[chunk.offset : chunk.offset + len(chunk) + 1]
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)


def _bytes_from_end(cells: pa.ChunkedArray | pa.Array, back: int) -> np.ndarray | None:
    """Each cell's byte `back` places before its end, read through the offsets; meaningless for a cell
    shorter than `back` or missing (the caller looks only at cells it knows are long enough). None when
    the cells are not laid out as plain strings."""
    parts = []
    for chunk in cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]:
        if not len(chunk):
            continue
        layout = _string_layout(chunk)
        if layout is None:
            return None
        offsets, data = layout
        parts.append(data[np.clip(offsets[1:] - back, 0, len(data) - 1)])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)


def present(text: pd.Series) -> np.ndarray:
    return text.notna().to_numpy(dtype=bool)


def parse_numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing) and a mask of cells that hold text but no finite number.

    Plain decimals (`_FAST_NUMBER`) are parsed with Arrow in one pass; only the other present cells
    go through pandas (`_pandas_numbers`), which gives them exactly what it gave before. pandas parses
    a slice's whole-number cells as integers unless the slice holds another number, so a slice with a
    whole number Arrow does not parse alike (`-0`, `+5`, 16 digits and more) is parsed by pandas whole.
    """
    cells = _arrow_text(text)
    numbers = np.full(len(text), np.nan, dtype=np.float64)
    fast = _plain_decimals(cells)
    # Only a cell starting "-0" can be a negative zero: the regex looks at those alone.
    maybe_negative_zero = fast & _mask(pc.starts_with(cells, "-0"))
    if maybe_negative_zero.any():
        candidates = cells.filter(pa.array(maybe_negative_zero))
        fast[maybe_negative_zero] = ~_mask(pc.match_substring_regex(candidates, _NEGATIVE_ZERO))
    if fast.all():
        numbers[:] = _arrow_floats(cells)
    elif fast.any():
        numbers[fast] = _arrow_floats(cells.filter(pa.array(fast)))
    slow = present(text) & ~fast
    if slow.any():
        whole_number = slow & _mask(pc.match_substring_regex(cells, _WHOLE_NUMBER))
        for start in np.unique(np.flatnonzero(whole_number) // PARSE_SLICE_ROWS) * PARSE_SLICE_ROWS:
            part = slice(start, start + PARSE_SLICE_ROWS)
            numbers[part] = _pandas_numbers(text.iloc[part])
            slow[part] = False
        positions = np.flatnonzero(slow)
        if positions.size:
            numbers[positions] = _pandas_numbers(text.iloc[positions])
    return numbers, present(text) & ~np.isfinite(numbers)


def _plain_decimals(cells: pa.ChunkedArray) -> np.ndarray:
    """The cells matching `_FAST_NUMBER` in at most `FAST_NUMBER_CHARS` characters. Cells of ASCII
    digits alone (whole-number columns) match it without the regex, which looks at the others only."""
    short = _mask(pc.less_equal(pc.utf8_length(cells), FAST_NUMBER_CHARS))
    digits = _mask(pc.ascii_is_decimal(cells))
    others = ~digits
    if others.all():
        return short & _mask(pc.match_substring_regex(cells, _FAST_NUMBER))
    fast = short & digits
    if others.any():
        matched = _mask(pc.match_substring_regex(cells.filter(pa.array(others)), _FAST_NUMBER))
        fast[others] = short[others] & matched
    return fast


def _pandas_numbers(text: pd.Series) -> np.ndarray:
    return np.concatenate(
        [
            pd.to_numeric(part, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            for part in _slices(text)
        ]
        or [np.empty(0, dtype=np.float64)]
    )


def _arrow_floats(cells: pa.ChunkedArray) -> np.ndarray:
    floats = pc.cast(cells, pa.float64())
    return np.asarray(floats.to_numpy(), dtype=np.float64)


def _arrow_text(text: pd.Series) -> pa.ChunkedArray:
    """The column's cells as one Arrow string array (no copy for pandas' Arrow-backed strings)."""
    cells = pa.chunked_array(text.astype(TEXT_DTYPE).array.__arrow_array__())
    return cells.combine_chunks() if cells.num_chunks > 1 else cells


def _is_arrow_text(values: pd.Series | np.ndarray) -> bool:
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _mask(flags: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow boolean result as a numpy mask, missing as False."""
    return np.asarray(pc.fill_null(flags, False).to_numpy(zero_copy_only=False), dtype=bool)


def _slices(text: pd.Series) -> list[pd.Series]:
    """The column in slices of `PARSE_SLICE_ROWS`: pandas parses text through Python objects, so a
    slice at a time bounds that copy whatever the file's size."""
    return [text.iloc[start : start + PARSE_SLICE_ROWS] for start in range(0, len(text), PARSE_SLICE_ROWS)]


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

    Cells written the usual way (`_FAST_TIMESTAMP`) are parsed with Arrow and localized by pandas in
    column operations; every other present cell goes through pandas' parser as before
    (`_pandas_timestamps`), so its value and reason are what they always were.
    """
    micros = np.full(len(text), _NAT_MICROS, dtype=np.int64)
    cells = _arrow_text(text)
    fast = _mask(pc.match_substring_regex(cells, _FAST_TIMESTAMP))
    try:
        aware, naive, aware_micros, wall_clock = _arrow_timestamps(cells, fast)
    except pa.ArrowInvalid:  # a day its month does not have (30 February): leave those to pandas
        fast = _existing_days(cells, fast)
        aware, naive, aware_micros, wall_clock = _arrow_timestamps(cells, fast)
    micros[aware] = aware_micros
    if naive.any():
        local = pd.DatetimeIndex(wall_clock.view("datetime64[us]"))
        localized = local.tz_localize(plant_timezone, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC")
        micros[naive] = localized.asi8
        # A time a daylight-saving change skips or repeats: pandas' own path gives its reason.
        fast[np.flatnonzero(naive)[localized.isna()]] = False
    reasons = pd.Series(pd.NA, index=text.index, dtype=TEXT_DTYPE)
    slow = np.flatnonzero(present(text) & ~fast)
    if slow.size:
        stamps, why = _pandas_timestamps(text.iloc[slow], plant_timezone, excel_epoch)
        micros[slow] = pd.DatetimeIndex(stamps.astype(UTC_MICROS)).asi8
        reasons.iloc[slow] = why.to_numpy()
    parsed = pd.Series(pd.DatetimeIndex(micros.view("datetime64[us]")).tz_localize("UTC"), index=text.index)
    return parsed, reasons


_NAT_MICROS = np.iinfo(np.int64).min


def _arrow_timestamps(
    cells: pa.ChunkedArray, fast: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The `fast` cells with a zone (Z or an offset) and those without, and their int64 microseconds:
    UTC instants for the first, wall-clock times for the others. Raises ArrowInvalid for a day that
    does not exist."""
    # In a `_FAST_TIMESTAMP` cell only an offset puts a sign sixth from the end. Such a cell is ASCII
    # and at least 16 characters long, so its bytes are its characters.
    last, sixth_last = _bytes_from_end(cells, 1), _bytes_from_end(cells, 6)
    if last is not None and sixth_last is not None:
        aware = fast & ((last == ord("Z")) | (sixth_last == ord("+")) | (sixth_last == ord("-")))
    else:
        sign = pc.is_in(pc.utf8_slice_codeunits(cells, -6, -5), value_set=pa.array(["+", "-"], cells.type))
        aware = fast & _mask(pc.or_(pc.ends_with(cells, "Z"), sign))
    naive = fast & ~aware
    aware_micros = _arrow_micros(_selected(cells, aware), pa.timestamp("us", tz="UTC"))
    wall_clock = _arrow_micros(_selected(cells, naive), pa.timestamp("us"))
    return aware, naive, aware_micros, wall_clock


def _selected(cells: pa.ChunkedArray | pa.Array, mask: np.ndarray) -> pa.ChunkedArray | pa.Array:
    """The cells where `mask` holds (all of them without a filtered copy)."""
    return cells if mask.all() else cells.filter(pa.array(mask))


def _existing_days(cells: pa.ChunkedArray, fast: np.ndarray) -> np.ndarray:
    """`fast` without the cells whose day of the month does not exist (their year and month are valid)."""
    fast = fast.copy()
    candidates = cells.filter(pa.array(fast))
    year, month, day = (
        np.asarray(pc.cast(pc.utf8_slice_codeunits(candidates, start, stop), pa.int32()), dtype=np.int64)
        for start, stop in ((0, 4), (5, 7), (8, 10))
    )
    months = (year - 1970) * 12 + (month - 1)
    first_days = [(months + step).astype("datetime64[M]").astype("datetime64[D]") for step in (0, 1)]
    month_days = (first_days[1] - first_days[0]).astype(np.int64)
    fast[np.flatnonzero(fast)[day > month_days]] = False
    return fast


def _arrow_micros(cells: pa.ChunkedArray, target: pa.DataType) -> np.ndarray:
    stamps = pc.cast(cells, target)
    return np.asarray(pc.cast(stamps, pa.int64()).to_numpy(), dtype=np.int64)


def _pandas_timestamps(
    text: pd.Series, plant_timezone: str, excel_epoch: datetime | None
) -> tuple[pd.Series, pd.Series]:
    if len(text) <= PARSE_SLICE_ROWS:
        return _parse_timestamps(text, plant_timezone, excel_epoch)
    parts = [_parse_timestamps(part, plant_timezone, excel_epoch) for part in _slices(text)]
    return pd.concat([stamps for stamps, _ in parts]), pd.concat([reasons for _, reasons in parts])


def _parse_timestamps(
    text: pd.Series, plant_timezone: str, excel_epoch: datetime | None
) -> tuple[pd.Series, pd.Series]:
    parsed = pd.Series(pd.NaT, index=text.index, dtype=UTC_MICROS)
    reasons = pd.Series(pd.NA, index=text.index, dtype=TEXT_DTYPE)
    is_present = pd.Series(present(text), index=text.index)
    has_offset = is_present & text.str.contains(_HAS_OFFSET, regex=True).fillna(False).astype(bool)
    is_number = is_present & text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)

    aware = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
    parsed[has_offset] = aware.astype(UTC_MICROS)

    odd_zone = is_present & ~has_offset & text.str.contains(_ANY_ZONE, regex=True).fillna(False).astype(bool)
    naive_mask = is_present & ~has_offset & ~is_number & ~odd_zone
    naive = _naive_datetimes(text[naive_mask])
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


def _naive_datetimes(text: pd.Series) -> pd.Series:
    """Cells without a zone as naive datetimes (NaT where unreadable).

    pandas turns the whole batch aware when one cell carries a zone in a shape the patterns above do
    not foresee; then the cells are read one by one and every aware one counts as unreadable, so a
    plain cell is never taken for UTC.
    """
    naive = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if naive.dtype.kind == "M" and getattr(naive.dtype, "tz", None) is None:
        return naive
    one_by_one = [pd.to_datetime(cell, format="ISO8601", errors="coerce") for cell in text.tolist()]
    return pd.Series(
        [pd.NaT if pd.isna(stamp) or stamp.tzinfo is not None else stamp for stamp in one_by_one],
        index=text.index,
        dtype="datetime64[ns]",
    )


def _excel_serials(text: pd.Series, epoch: datetime) -> pd.Series:
    days = pd.to_numeric(text, errors="coerce").astype(np.float64)
    days = days.where((days >= _EXCEL_SERIAL_MIN) & (days < _EXCEL_SERIAL_END))
    # Excel stores times as fractions of a day; round away float noise at its millisecond precision.
    return (pd.Timestamp(epoch) + pd.to_timedelta(days, unit="D")).dt.round("ms")


def first_rows_of_duplicates(
    keys: Sequence[pd.Series], row_numbers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier row's key (missing keys never match), and that earlier row's number."""
    return DuplicateFinder(len(keys)).find(keys, row_numbers)


class Codebook:
    """Numbers values in order of first appearance, remembering them across calls.

    Timestamps and integers (most distinct values: one per row in a typical log) are kept as a sorted
    array with their codes, which needs no hash table beside it; Arrow-backed text is looked up in
    the Arrow array of the values known so far; other values in an index."""

    def __init__(self) -> None:
        self._known: pd.Index | None = None
        self._known_text: pa.Array | None = None
        self._sorted = np.empty(0, dtype=np.int64)
        self._sorted_codes = np.empty(0, dtype=np.int64)
        # Runs of values past all those before them (a log's slices in order), with their codes: kept
        # aside and joined to the sorted array only when a search needs it, so a file in order never
        # copies what it has numbered so far.
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._largest: int | None = None
        self._size = 0

    def codes(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """One code per value, -1 where it is missing."""
        if self._known is None and _is_arrow_text(values):
            return self._text_codes(_arrow_text(pd.Series(values)))
        local, uniques = _factorized(values)
        if isinstance(uniques, pd.DatetimeIndex):
            known = self._numbers_codes(uniques.asi8)
        elif isinstance(uniques, np.ndarray) and uniques.dtype == np.int64:
            known = self._numbers_codes(uniques)
        else:
            if self._known_text is not None:
                raise TypeError("a codebook of Arrow text was given other values")
            known = self._value_codes(uniques)
        if not len(known):  # every value missing
            return np.full(len(local), -1, dtype=np.int64)
        return np.where(local >= 0, known[np.maximum(local, 0)], -1)

    def _text_codes(self, cells: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """`pd.factorize`'s numbering of text, found by one hash lookup of the column in the values
        known so far (Arrow's `index_in`); the values new here are added in order of appearance.
        The first column given is numbered by one dictionary encoding, which numbers alike."""
        if self._known_text is None:
            whole = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
            encoded = pc.dictionary_encode(whole)
            self._known_text = encoded.dictionary
            self._size = len(encoded.dictionary)
            return np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
        known = self._known_text
        found = pc.index_in(cells, value_set=known)
        new = _mask(pc.and_(pc.is_null(found), pc.is_valid(cells)))
        if new.any():
            added = pc.unique(cells.filter(pa.array(new)))
            known = pa.concat_arrays([known, added.cast(known.type)])
            found = pc.index_in(cells, value_set=known)
        self._known_text = known
        self._size = len(known)
        return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)

    def _numbers_codes(self, numbers: np.ndarray) -> np.ndarray:
        """Codes for distinct integers, new ones numbered in their order here.

        The values are looked up and inserted in sorted order: a sorted array searched in order stays
        in the cache, where searching it in the values' own order would not."""
        if _all_after(numbers, self._largest):
            # A log's times (and the codes combined from them) in order, past every value known:
            # what the search below finds, without sorting or searching.
            codes = self._size + np.arange(len(numbers), dtype=np.int64)
            self._runs.append((numbers, codes))
            self._largest = int(numbers[-1])
            self._size += len(numbers)
            return codes
        self._join_runs()
        # Stable (timsort): the values of a log come mostly in order, which it sorts in one pass.
        order = np.argsort(numbers, kind="stable")
        in_order = numbers[order]
        at = np.searchsorted(self._sorted, in_order)
        known = np.full(len(numbers), -1, dtype=np.int64)
        if len(self._sorted):
            inside = np.minimum(at, len(self._sorted) - 1)
            found = (at < len(self._sorted)) & (self._sorted[inside] == in_order)
            known[order[found]] = self._sorted_codes[inside[found]]
        else:
            found = np.zeros(len(numbers), dtype=bool)
        # New values are numbered by where they appear among `numbers` (first appearance).
        new_places = order[~found]
        new_codes = np.empty(len(new_places), dtype=np.int64)
        new_codes[np.argsort(new_places)] = self._size + np.arange(len(new_places), dtype=np.int64)
        known[new_places] = new_codes
        self._sorted = _inserted(self._sorted, at[~found], in_order[~found])
        self._sorted_codes = _inserted(self._sorted_codes, at[~found], new_codes)
        if len(self._sorted):
            self._largest = int(self._sorted[-1])
        self._size += len(new_places)
        return known

    def _join_runs(self) -> None:
        """The runs kept aside appended to the sorted values (they all come after them, in order)."""
        if self._runs:
            self._sorted = np.concatenate([self._sorted, *(values for values, _ in self._runs)])
            self._sorted_codes = np.concatenate([self._sorted_codes, *(codes for _, codes in self._runs)])
            self._runs = []

    def _value_codes(self, uniques: pd.Index | np.ndarray | pd.api.extensions.ExtensionArray) -> np.ndarray:
        if self._known is None:
            self._known = pd.Index(uniques)
            self._size = len(self._known)
            return np.arange(len(self._known), dtype=np.int64)
        known = np.asarray(self._known.get_indexer(uniques), dtype=np.int64)
        new = known < 0
        known[new] = len(self._known) + np.arange(int(new.sum()))
        if new.any():
            self._known = self._known.append(pd.Index(uniques[new]))
        self._size = len(self._known)
        return known


def _factorized(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    """`pd.factorize`, without hashing integers or timestamps that come in order (a log's times and
    the codes combined from them): then the codes of equal neighbours are one run each."""
    numbers: np.ndarray | None = None
    times = isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype)
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        numbers = values
    elif isinstance(values, pd.Series) and times:
        numbers = np.asarray(values.array.asi8, dtype=np.int64)
    if numbers is None or not numbers.size:
        return pd.factorize(values)
    # A missing time is the smallest number (factorize gives it -1): first if the numbers are in order.
    if bool(np.all(numbers[1:] > numbers[:-1])):  # each value new (a log's times): one pass, no cumsum
        if times and numbers[0] == _NAT_MICROS:
            return pd.factorize(values)
        return np.arange(len(numbers), dtype=np.intp), numbers.copy()
    if (times and numbers.min() == _NAT_MICROS) or not bool(np.all(numbers[1:] >= numbers[:-1])):
        return pd.factorize(values)
    starts = np.flatnonzero(np.concatenate([[True], numbers[1:] != numbers[:-1]]))
    local = np.cumsum(np.concatenate([[True], numbers[1:] != numbers[:-1]])) - 1
    return local.astype(np.intp), numbers[starts]


def _all_after(numbers: np.ndarray, largest: int | None) -> bool:
    """Whether `numbers` are strictly increasing and all above `largest` (None: nothing known)."""
    if not len(numbers) or not bool(np.all(numbers[1:] > numbers[:-1])):
        return False
    return largest is None or bool(numbers[0] > largest)


def _inserted(array: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`np.insert`; new values all after the known ones (a log's times) are appended in place into
    spare room at the end of the array's buffer, which doubles when full, so a file's slices do not
    copy everything known so far each time."""
    if len(at) and at[0] < len(array):
        return np.insert(array, at, values)
    return _appended(array, values)


def _appended(array: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`array` followed by `values`, written into spare room after `array` when its buffer has some."""
    size = len(array) + len(values)
    base = array.base if isinstance(array.base, np.ndarray) and array.base.ndim == 1 else None
    if base is None or len(base) < size or not np.shares_memory(base[:1], array[:1]):
        base = np.empty(max(size, 2 * len(array), 1024), dtype=array.dtype)
        base[: len(array)] = array
    base[len(array) : size] = values
    return base[:size]


class DuplicateFinder:
    """Finds rows repeating an earlier row's key, over one sheet or over a file's slices in order.

    Each key column is reduced to integer codes and the codes to one integer per key, so millions
    of rows are compared without copying their text; what is remembered between slices is one
    entry per distinct value and per distinct key."""

    def __init__(self, key_width: int) -> None:
        self._columns = [Codebook() for _ in range(key_width)]
        # Combines the codes so far with the next column's: one codebook per added column.
        self._pairs = [Codebook() for _ in range(max(key_width - 1, 0))]
        self._first_rows = np.empty(0, dtype=np.int64)

    def find(self, keys: Sequence[pd.Series], row_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For this slice's rows: which repeat an earlier key (here or in an earlier slice), and the
        number of the row where that key first appeared."""
        size = len(row_numbers)
        repeated = np.zeros(size, dtype=bool)
        first_row = np.zeros(size, dtype=np.int64)
        # Last column first: a key ends with its timestamp, whose codes come in row order, so the
        # combined codes do too and their codebooks sort them in one pass (the same keys either way).
        column_codes = [
            book.codes(column) for book, column in zip(self._columns, list(keys)[::-1], strict=True)
        ]
        complete = np.ones(size, dtype=bool)
        for codes in column_codes:
            complete &= codes >= 0
        positions = np.flatnonzero(complete)
        if not positions.size:
            return repeated, first_row
        combined = column_codes[0][positions]
        for book, codes in zip(self._pairs, column_codes[1:], strict=True):
            # Both codes count distinct values, far below 2**31, so the pair fits in 64 bits.
            combined = book.codes(combined * (1 << 32) + codes[positions])
        known = len(self._first_rows)
        # (A slice repeating only keys seen before, none of them the newest, adds nothing.)
        # Codes are numbered by first appearance, so a new key's first row is where its code appears
        # first: assigning in reverse leaves the earliest.
        first_rows = np.concatenate(
            [self._first_rows, np.zeros(max(int(combined.max()) + 1 - known, 0), dtype=np.int64)]
        )
        new = combined >= known
        slice_rows = np.asarray(row_numbers, dtype=np.int64)[positions]
        first_rows[combined[new][::-1]] = slice_rows[new][::-1]
        self._first_rows = first_rows
        firsts = first_rows[combined]
        later = firsts != slice_rows
        repeated[positions[later]] = True
        first_row[positions[later]] = firsts[later]
        return repeated, first_row


def already_present(keys: pd.DataFrame, existing: pd.DataFrame) -> np.ndarray:
    """Rows whose complete key is among `existing` (same column names and comparable types)."""
    if existing.empty or keys.empty:
        return np.zeros(len(keys), dtype=bool)
    complete = keys.notna().all(axis=1).to_numpy()
    ours = pd.MultiIndex.from_frame(keys[list(keys.columns)].astype(object))
    theirs = pd.MultiIndex.from_frame(existing[list(keys.columns)].astype(object))
    return complete & ours.isin(theirs)
