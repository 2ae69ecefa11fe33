"""CSV files as people save them: UTF-8 with or without a BOM, UTF-16 from Excel's "Unicode text",
Windows code pages and other legacy encodings from older tools (detected, or named by the user: see
`encodings.py`); `,`, `;` or tab between fields. Every cell is read as text.

Row numbers are CSV records counted from the header (row 1), which is what a spreadsheet shows even
when a quoted value spans several lines.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from oee_pipelines.connectors.files import encodings
from oee_pipelines.connectors.files.errors import UnreadableFileError
from oee_pipelines.connectors.files.sheets import build_sheet, header_names
from oee_pipelines.domain.imports import RowError, TextSheet

DELIMITERS = (",", ";", "\t")
SNIFF_CHARS = 64 * 1024
# Share of control characters (other than tab, CR, LF) above which the content is not text.
BINARY_CONTROL_SHARE = 0.01
ERROR_TEXT_CHARS = 200
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or ZIP archive; upload .xlsx files with their own extension",
    b"\xd0\xcf\x11\xe0": "an old Office file (.xls); save it as .xlsx or CSV",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\x1f\x8b": "a gzip archive",
}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_csv(data: bytes, file_name: str, encoding: str | None = None) -> TextSheet:
    """Every row of a CSV file as text, with the row number the user sees.

    `encoding`: the file's encoding as the user names it; None detects it (and refuses when unsure).
    """
    utf8, encoding = _as_utf8(data, file_name, encoding)
    if not utf8.endswith(b"\n"):
        # The parser needs the header line terminated, or a header-only file reads as "too short".
        utf8 += b"\n"
    header_line = utf8[: utf8.find(b"\n")] if b"\n" in utf8 else utf8
    header_text = header_line.decode("utf-8").rstrip("\r")
    delimiter = _detect_delimiter(header_text)
    header = next(csv.reader([header_text], delimiter=delimiter), [])
    names, positions = header_names(header)
    if not names:
        raise UnreadableFileError(file_name, "the first row holds no column names")
    table, skipped = _parse(utf8, len(header), delimiter, file_name)
    frame = table.select(positions).rename_columns(names).to_pandas(types_mapper=_text_types)
    return build_sheet(
        frame,
        _kept_row_numbers(table.num_rows, skipped),
        file_name,
        read_errors=skipped,
        details={"format": "csv", "encoding": encoding, "delimiter": delimiter},
    )


def _as_utf8(data: bytes, file_name: str, encoding: str | None) -> tuple[bytes, str]:
    """The content as UTF-8 without a BOM, and the encoding it was read as."""
    if not data.strip():
        raise UnreadableFileError(file_name, "the file is empty")
    if not data.startswith(_UTF16_BOMS) and not encodings.is_wide(encoding):
        _refuse_binary(data, file_name)
    text, used = encodings.decode(data, file_name, encoding)
    return _checked_text(text, file_name).encode("utf-8"), used


def _refuse_binary(data: bytes, file_name: str) -> None:
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise UnreadableFileError(file_name, f"this is {what}, not a CSV text file")
    if b"\x00" in data[:SNIFF_CHARS]:
        raise UnreadableFileError(file_name, "this is a binary file, not a CSV text file")


def _checked_text(text: str, file_name: str) -> str:
    sample = text[:SNIFF_CHARS]
    controls = sum(1 for char in sample if char < " " and char not in "\t\r\n")
    if controls > BINARY_CONTROL_SHARE * len(sample):
        raise UnreadableFileError(file_name, "this is a binary file, not a CSV text file")
    return text


def _detect_delimiter(header_text: str) -> str:
    """The delimiter used most in the header line; a one-column file defaults to a comma."""
    counts = {delimiter: header_text.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _parse(utf8: bytes, width: int, delimiter: str, file_name: str) -> tuple[pa.Table, list[RowError]]:
    skipped: list[RowError] = []

    def refuse_row(row: pa_csv.InvalidRow) -> str:
        hint = ""
        if row.text.count('"') % 2:
            hint = " (a double quote opened in this row is never closed)"
        elif row.actual_columns > width:
            hint = " (a value holding the delimiter must be in double quotes)"
        skipped.append(
            RowError(
                row=int(row.number),
                column=None,
                value=row.text[:ERROR_TEXT_CHARS],
                reason=f"has {row.actual_columns} field{'s' if row.actual_columns != 1 else ''} "
                f"but the header has {width}{hint}",
            )
        )
        return "skip"

    column_names = [f"column_{index}" for index in range(width)]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(utf8),
            # Single-threaded, so each refused row comes with its number.
            read_options=pa_csv.ReadOptions(column_names=column_names, skip_rows=1, use_threads=False),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=refuse_row,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in column_names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise UnreadableFileError(file_name, f"not a readable CSV file: {exc}") from None
    return table, skipped


def _kept_row_numbers(kept_rows: int, skipped: list[RowError]) -> np.ndarray:
    """Rows 2.. of the file, without those the parser refused."""
    every_row = np.arange(2, 2 + kept_rows + len(skipped), dtype=np.int64)
    return every_row[~np.isin(every_row, [error.row for error in skipped])]


def _text_types(arrow_type: pa.DataType) -> pd.StringDtype | None:
    return pd.StringDtype("pyarrow") if arrow_type == pa.string() else None
