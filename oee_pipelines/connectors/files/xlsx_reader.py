"""Excel workbooks (.xlsx) read with openpyxl in read-only mode; every cell becomes text.

The first worksheet is the data; its first row is the header. Formulas are never evaluated: a formula
cell is read as the formula text the user typed (e.g. `=cmd|' /C calc'!A0`), so it reaches the
validator, and the warehouse, as plain text.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import openpyxl
import pandas as pd

from oee_pipelines.connectors.files.errors import UnreadableFileError
from oee_pipelines.connectors.files.sheets import build_sheet, header_names
from oee_pipelines.domain.imports import TextSheet

# A workbook is a ZIP of XML: refuse archives that would inflate past this (a "zip bomb").
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
# Above 2**53 a float no longer holds every whole number; print those as floats.
_EXACT_WHOLE_LIMIT = 2**53


def read_xlsx(data: bytes, file_name: str) -> TextSheet:
    """Every row of the first worksheet as text, numbered as Excel numbers them."""
    if not data:
        raise UnreadableFileError(file_name, "the file is empty")
    _check_archive(io.BytesIO(data), file_name)
    workbook = _open_workbook(io.BytesIO(data), file_name)
    try:
        if not workbook.worksheets:
            raise UnreadableFileError(file_name, "the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        names, positions = header_names(next(rows, ()) or ())
        if not names:
            raise UnreadableFileError(file_name, "the first row of the first sheet holds no column names")
        columns: list[list[str | None]] = [[] for _ in names]
        for row in rows:
            for column, position in zip(columns, positions, strict=True):
                column.append(cell_text(row[position]) if position < len(row) else None)
        epoch, sheet_name = workbook.epoch, sheet.title
    finally:
        workbook.close()
    frame = pd.DataFrame(dict(enumerate(columns)), dtype="string[pyarrow]")
    frame.columns = names
    return build_sheet(
        frame,
        np.arange(2, 2 + len(frame), dtype=np.int64),
        file_name,
        excel_epoch=epoch,
        details={"format": "xlsx", "sheet": sheet_name},
    )


def read_xlsx_file_in_slices(path: Path, file_name: str, rows_per_slice: int) -> Iterator[TextSheet]:
    """The rows of the first worksheet of a workbook on disk as TextSheets of `rows_per_slice` rows
    (before blank rows are dropped), read one at a time with openpyxl's read-only (streaming) mode, so
    only one slice's cells are in memory. The same sheets, row numbers and refusals as `read_xlsx`;
    at least one slice (empty for a sheet of only a header)."""
    if not path.stat().st_size:
        raise UnreadableFileError(file_name, "the file is empty")
    with path.open("rb") as handle:
        _check_archive(handle, file_name)
        workbook = _open_workbook(handle, file_name)
        try:
            if not workbook.worksheets:
                raise UnreadableFileError(file_name, "the workbook has no worksheet")
            sheet = workbook.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            names, positions = header_names(next(rows, ()) or ())
            if not names:
                raise UnreadableFileError(file_name, "the first row of the first sheet holds no column names")
            details = {"format": "xlsx", "sheet": sheet.title}
            next_row, slices = 2, 0
            while True:
                columns: list[list[str | None]] = [[] for _ in names]
                for _, row in zip(range(rows_per_slice), rows, strict=False):
                    for column, position in zip(columns, positions, strict=True):
                        column.append(cell_text(row[position]) if position < len(row) else None)
                if slices and not columns[0]:
                    return
                frame = pd.DataFrame(dict(enumerate(columns)), dtype="string[pyarrow]")
                frame.columns = names
                numbers = np.arange(next_row, next_row + len(frame), dtype=np.int64)
                next_row += len(frame)
                slices += 1
                yield build_sheet(frame, numbers, file_name, excel_epoch=workbook.epoch, details=details)
                del columns, frame
        finally:
            workbook.close()


def _open_workbook(content: IO[bytes], file_name: str) -> Any:
    try:
        return openpyxl.load_workbook(content, read_only=True, data_only=False)
    # openpyxl raises many kinds of errors on damaged parts; all mean "not a readable workbook".
    except Exception as exc:
        raise UnreadableFileError(
            file_name, f"not a readable Excel workbook ({type(exc).__name__})"
        ) from None


def _check_archive(content: IO[bytes], file_name: str) -> None:
    try:
        with zipfile.ZipFile(content) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise UnreadableFileError(file_name, "not an Excel workbook (.xlsx is a ZIP archive)") from None
    if inflated > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableFileError(
            file_name, f"the workbook unpacks to {inflated:,} bytes, more than {MAX_UNCOMPRESSED_BYTES:,}"
        )


def cell_text(value: Any) -> str | None:
    """A cell as the user sees it: whole numbers without `.0`, dates as ISO text, formulas as typed."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < _EXACT_WHOLE_LIMIT else repr(value)
    if isinstance(value, datetime):
        return _to_millisecond(value).isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _to_millisecond(value: datetime) -> datetime:
    """Excel keeps milliseconds; the microseconds openpyxl returns beyond that are float noise."""
    rounded = value + timedelta(microseconds=500)
    return rounded.replace(microsecond=rounded.microsecond // 1000 * 1000)
