"""Streaming writers: Arrow record batches in, chunks of a CSV / JSON / Parquet / XLSX file out.

Every writer consumes its batches lazily and yields bytes as it goes, so memory stays bounded by
one batch (one row group for Parquet) whatever the row count. XLSX is the exception that proves
the rule: a workbook is a zip, so it is written to a scratch file in xlsxwriter's constant-memory
mode and then streamed from disk.

Spreadsheet formula injection: a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage
return is a formula to Excel when it opens a CSV. CSV text cells like that are prefixed with a single
quote (OWASP's advice), which Excel shows as text; XLSX text cells are always written as strings, never
as formulas, so they keep their value unchanged. JSON and Parquet are data formats and are not touched.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xlsxwriter

from oee_pipelines.exports.columns import ExportTable, Kind
from oee_pipelines.observability.metrics import count_exported_rows

FORMATTING_THREADS = 2  # CSV batches / JSON slices formatted at once, ahead of the socket, in order
Item = TypeVar("Item")
Result = TypeVar("Result")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"
    XLSX = "xlsx"


MEDIA_TYPES: dict[ExportFormat, str] = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# A sheet holds 1,048,576 rows including the header; xlsxwriter and openpyxl do not raise past it.
XLSX_MAX_DATA_ROWS = 1_048_575
PARQUET_ROW_GROUP_ROWS = 128_000
PARQUET_COMPRESSION = "zstd"
_EXCEL_EPOCH_DAYS = 25_569  # 1970-01-01 as an Excel serial day
_MICROSECONDS_PER_DAY = 86_400_000_000
_FILE_CHUNK_BYTES = 1 << 20


class TooManyRowsForSheetError(ValueError):
    """More rows than one Excel sheet holds."""


def export_stream(
    export_format: ExportFormat,
    table: ExportTable,
    batches: Iterable[pa.RecordBatch],
    *,
    include_headers: bool = True,
    scratch_dir: str | None = None,
) -> Iterator[bytes]:
    """The file's bytes, chunk by chunk, in the requested format."""
    batches = count_exported_rows(batches, table.key, export_format.value)
    if export_format is ExportFormat.CSV:
        return csv_stream(table, batches, include_headers=include_headers)
    if export_format is ExportFormat.JSON:
        return json_stream(table, batches)
    if export_format is ExportFormat.PARQUET:
        return parquet_stream(table, batches)
    return xlsx_stream(table, batches, include_headers=include_headers, scratch_dir=scratch_dir)


def iso_timestamps(array: pa.Array, unit: str) -> pa.Array:
    """UTC timestamps as `2025-01-15T00:15:00Z` strings, formatted once for the whole column.

    Casting a naive timestamp to string is ~20x faster than strftime on a zoned one.
    """
    naive = array.cast(pa.timestamp(unit, tz="UTC"), safe=False).cast(pa.timestamp(unit))
    text = pc.utf8_replace_slice(naive.cast(pa.string()), 10, 11, "T")
    return pc.binary_join_element_wise(text, pa.scalar("Z"), "")


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[=+\\-@\t\r]"


_FORMULA_FIRST_BYTES = np.zeros(256, dtype=bool)
_FORMULA_FIRST_BYTES[[ord(trigger) for trigger in FORMULA_TRIGGERS]] = True


def _text_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A plain string array's offsets and UTF-8 bytes as numpy views (no copy); None for other layouts."""
    if array.type != pa.string():
        return None
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return offsets, data


def _may_hold_formulas(array: pa.Array) -> bool:
    """False when no value starts with a trigger (each one ASCII byte): a look at first bytes only."""
    buffers = _text_buffers(array)
    if buffers is None:
        return True
    offsets, data = buffers
    starts = offsets[:-1][offsets[1:] > offsets[:-1]]  # non-empty slots (a null slot counts too: safe side)
    return bool(_FORMULA_FIRST_BYTES[data[starts]].any())


def neutralise_formulas(array: pa.Array) -> pa.Array:
    """Text that a spreadsheet would run as a formula, prefixed with `'` so it stays text."""
    if not _may_hold_formulas(array):
        return array  # the common case: nothing to prefix, and no copy of the column
    risky = pc.match_substring_regex(array, _FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'"), array, ""), array)


def _for_text_format(array: pa.Array, kind: Kind, unit: str, neutralise: bool) -> pa.Array:
    if kind is Kind.TIMESTAMP:
        return iso_timestamps(array, unit)
    if kind is Kind.TEXT and neutralise:
        return neutralise_formulas(array)
    return array


def _with_text_timestamps(
    table: ExportTable, batch: pa.RecordBatch, *, neutralise: bool = False
) -> pa.RecordBatch:
    columns = [
        _for_text_format(array, column.kind, table.timestamp_unit, neutralise)
        for array, column in zip(batch.columns, table.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=table.column_names)


def csv_stream(
    table: ExportTable, batches: Iterable[pa.RecordBatch], *, include_headers: bool = True
) -> Iterator[bytes]:
    """CSV, a batch at a time, the next batches formatted on other threads while one is sent."""

    def formatted(numbered: tuple[int, pa.RecordBatch]) -> bytes:
        number, batch = numbered
        buffer = io.BytesIO()
        pacsv.write_csv(
            _with_text_timestamps(table, batch, neutralise=True),
            buffer,
            pacsv.WriteOptions(include_header=include_headers and number == 0),
        )
        return buffer.getvalue()

    header_pending = include_headers
    for chunk in in_order_on_threads(formatted, enumerate(batches), "oee-csv"):
        header_pending = False
        yield chunk
    if header_pending:
        buffer = io.BytesIO()
        pacsv.write_csv(_text_schema(table).empty_table(), buffer)
        yield buffer.getvalue()


def in_order_on_threads(work: Callable[[Item], Result], items: Iterable[Item], name: str) -> Iterator[Result]:
    """`work` of each item, in the items' order, up to FORMATTING_THREADS items at once ahead of the
    caller: Arrow's kernels and writers run without the GIL, so formatting overlaps sending.

    Closing the generator (the client hung up) drops the items not started and ends the threads.
    """
    pool = ThreadPoolExecutor(FORMATTING_THREADS, thread_name_prefix=name)
    try:
        waiting: deque[Future[Result]] = deque()
        for item in items:
            waiting.append(pool.submit(work, item))
            if len(waiting) > FORMATTING_THREADS:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _text_schema(table: ExportTable) -> pa.Schema:
    """The schema CSV and JSON are written from: timestamps already formatted as text."""
    return pa.schema(
        [
            pa.field(column.name, pa.string() if column.kind is Kind.TIMESTAMP else column.arrow_type)
            for column in table.columns
        ]
    )


# JSON is written column by column in Arrow, each value exactly as orjson writes it (`orjson.dumps` of
# the rows as dicts was the reference, and stays the fallback for the values below that Arrow spells
# differently): floats in plain notation in [1e-5, 1e15), text needing no escapes, dates of years 1-9999.
# A column without nulls keeps its text as it is: its quotes (or a float's `.0`) go into the literal text
# between the columns, so that the one join of the row writes it, without a copy of the column first.
_JSON_PLAIN_FLOATS = (1e-5, 1e15)
JSON_ROWS_PER_CHUNK = 4_096  # about 3 MB of data-mart JSON (small batches are joined up to it)
_JSON_ESCAPED_BYTES = np.zeros(256, dtype=bool)
_JSON_ESCAPED_BYTES[[*range(0x20), ord('"'), ord("\\")]] = True
_DATE32_YEAR_1, _DATE32_YEAR_9999_END = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, days since 1970


@dataclass(frozen=True)
class _JsonColumn:
    """A column's JSON text: `values` (no nulls left), each written between `opening` and `closing`."""

    values: pa.Array
    opening: str = ""
    closing: str = ""


def _orjson_values(array: pa.Array) -> pa.Array:
    """Each value as orjson writes it, one Python object at a time (the exact, slow way)."""
    return pa.array([orjson.dumps(value).decode() for value in array.to_pylist()], pa.string())


def _holds_byte(text: pa.Array, byte: str) -> bool:
    """Whether any value of a plain string array holds `byte` (a look at its data buffer, no copy)."""
    buffers = _text_buffers(text)
    if buffers is None:
        return True
    offsets, data = buffers
    return bool((data[offsets[0] : offsets[-1]] == ord(byte)).any())


def _json_floats(array: pa.Array) -> _JsonColumn:
    text = array.cast(pa.string())  # the shortest round-trip digits, as orjson's, spelled differently
    values = array.to_numpy(zero_copy_only=False)  # nulls as NaN: they are filled with `null` later
    valid = np.asarray(array.is_valid())
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(values)
        plain = ((magnitude >= _JSON_PLAIN_FLOATS[0]) & (magnitude < _JSON_PLAIN_FLOATS[1])) | (values == 0)
        whole = plain & (np.floor(values) == values)
    unusual = valid & ~plain
    if _holds_byte(text, "e"):  # Arrow's exponent notation starts lower than orjson's
        unusual |= np.asarray(pc.fill_null(pc.match_substring(text, "e"), False))
    if whole.all() and not unusual.any():  # (no nulls either: a null is not whole)
        return _JsonColumn(text, closing=".0")  # orjson writes 15.0 where Arrow writes 15
    if whole.any():
        mask = pa.array(whole)
        text = pc.replace_with_mask(text, mask, pc.binary_join_element_wise(text.filter(mask), ".0", ""))
    if unusual.any():  # exponents, NaN, infinities: orjson's own spelling
        mask = pa.array(unusual)
        text = pc.replace_with_mask(text, mask, _orjson_values(array.filter(mask)))
    return _JsonColumn(text)


def _json_quoted(text: pa.Array) -> _JsonColumn:
    if text.null_count == 0:
        return _JsonColumn(text, opening='"', closing='"')
    return _JsonColumn(pc.binary_join_element_wise(pa.scalar('"'), text, pa.scalar('"'), ""))


def _json_text(array: pa.Array) -> _JsonColumn:
    buffers = _text_buffers(array)
    if buffers is None:
        return _JsonColumn(_orjson_values(array))
    offsets, data = buffers
    if _JSON_ESCAPED_BYTES[data[offsets[0] : offsets[-1]]].any():
        return _JsonColumn(_orjson_values(array))  # quotes, backslashes or control characters: orjson's
    return _json_quoted(array)


def _json_dates(array: pa.Array) -> _JsonColumn:
    days = array.cast(pa.int32())
    low, high = pc.min(days).as_py(), pc.max(days).as_py()
    if low is not None and (low < _DATE32_YEAR_1 or high > _DATE32_YEAR_9999_END):
        return _JsonColumn(_orjson_values(array))
    return _json_quoted(array.cast(pa.string()))


def _json_column(array: pa.Array, kind: Kind) -> _JsonColumn:
    """The column's values as JSON text; nulls as `null`."""
    if kind in (Kind.PERCENT, Kind.NUMBER) and pa.types.is_float64(array.type):
        encoded = _json_floats(array)
    elif kind is Kind.INTEGER and pa.types.is_integer(array.type):
        encoded = _JsonColumn(array.cast(pa.string()))
    elif kind is Kind.BOOLEAN and pa.types.is_boolean(array.type):
        encoded = _JsonColumn(pc.if_else(array, pa.scalar("true"), pa.scalar("false")))
    elif kind is Kind.DATE and pa.types.is_date32(array.type):
        encoded = _json_dates(array)
    elif kind in (Kind.TEXT, Kind.TIMESTAMP):  # timestamps arrive as ISO text
        encoded = _json_text(array)
    else:
        encoded = _JsonColumn(_orjson_values(array))
    if encoded.values.null_count:
        return _JsonColumn(pc.fill_null(encoded.values, "null"), encoded.opening, encoded.closing)
    return encoded


def _json_rows(table: ExportTable, batch: pa.RecordBatch) -> memoryview:
    """The batch's rows as JSON objects, comma-separated (no brackets), as a view of Arrow's buffer."""
    pieces: list[pa.Array | pa.Scalar] = []
    literal = "{"
    for index, (array, column) in enumerate(zip(batch.columns, table.columns, strict=True)):
        encoded = _json_column(array, column.kind)
        literal += ("" if index == 0 else ",") + orjson.dumps(column.name).decode() + ":" + encoded.opening
        pieces += [pa.scalar(literal), encoded.values]
        literal = encoded.closing
    pieces.append(pa.scalar(literal + "},"))
    rows = pc.binary_join_element_wise(*pieces, "")
    offsets, data = _text_buffers(rows) or (np.zeros(1, np.int32), np.zeros(0, np.uint8))
    return data[offsets[0] : offsets[-1] - 1].data  # all rows, without the last comma


def _json_slices(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches' rows in slices of `rows` (the last one shorter): big batches cut, small ones joined."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        start = 0
        while start < batch.num_rows:
            taken = min(rows - pending_rows, batch.num_rows - start)
            pending.append(batch.slice(start, taken))
            pending_rows, start = pending_rows + taken, start + taken
            if pending_rows == rows:
                yield _one_batch(pending)
                pending, pending_rows = [], 0
    if pending:
        yield _one_batch(pending)


def _one_batch(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def json_stream(table: ExportTable, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """A JSON array of objects, one per row; timestamps as ISO 8601 UTC strings.

    A slice at a time (bounded memory, and far from Arrow's 2 GiB limit of one string column), the next
    ones formatted on other threads while the last one is sent."""

    def formatted(part: pa.RecordBatch) -> memoryview:
        return _json_rows(table, _with_text_timestamps(table, part))

    separator = b"["
    # The bytes are made here, on one thread: made on the formatting threads, each thread's allocator
    # would keep a few chunks' worth of memory.
    for rows in in_order_on_threads(formatted, _json_slices(batches, JSON_ROWS_PER_CHUNK), "oee-json"):
        yield b"".join((separator, rows))
        separator = b","
    yield b"[]" if separator == b"[" else b"]"


class _ChunkSink:
    """A write-only file object that hands written bytes back to the generator that owns it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def parquet_stream(
    table: ExportTable, batches: Iterable[pa.RecordBatch], *, row_group_rows: int = PARQUET_ROW_GROUP_ROWS
) -> Iterator[bytes]:
    """Parquet (zstd, typed, timestamps in UTC), one row group at a time."""
    sink = _ChunkSink()
    writer = pq.ParquetWriter(sink, table.arrow_schema, compression=PARQUET_COMPRESSION)
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= row_group_rows:
            writer.write_table(pa.Table.from_batches(pending, schema=table.arrow_schema))
            pending, pending_rows = [], 0
            yield sink.drain()
    if pending_rows:
        writer.write_table(pa.Table.from_batches(pending, schema=table.arrow_schema))
    writer.close()
    yield sink.drain()


def _excel_serials(array: pa.Array, kind: Kind) -> list[Any]:
    """Timestamps and dates as Excel serial day numbers, computed for the whole column at once."""
    if kind is Kind.DATE:
        days = array.cast(pa.int32()).cast(pa.float64())
        return pc.add(days, _EXCEL_EPOCH_DAYS).to_pylist()
    micros = array.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).cast(pa.float64())
    return pc.add(pc.divide(micros, _MICROSECONDS_PER_DAY), _EXCEL_EPOCH_DAYS).to_pylist()


def _excel_values(array: pa.Array, kind: Kind) -> list[Any]:
    if kind in (Kind.TIMESTAMP, Kind.DATE):
        return _excel_serials(array, kind)
    if kind is Kind.PERCENT:
        # Stored 0-100; Excel's percent format expects a fraction.
        return pc.divide(array, 100.0).to_pylist()
    return array.to_pylist()


_NUMBER_FORMATS: dict[Kind, str] = {
    Kind.TIMESTAMP: "yyyy-mm-dd hh:mm:ss",
    Kind.DATE: "yyyy-mm-dd",
    Kind.PERCENT: "0.000%",
    Kind.NUMBER: "0.0000",
    Kind.INTEGER: "0",
}
_COLUMN_WIDTHS: dict[Kind, int] = {
    Kind.TIMESTAMP: 20,
    Kind.DATE: 12,
    Kind.PERCENT: 10,
    Kind.NUMBER: 12,
    Kind.INTEGER: 10,
    Kind.BOOLEAN: 8,
    Kind.TEXT: 16,
}


def _cell_writers(
    worksheet: Any, workbook: Any, table: ExportTable
) -> list[Callable[[int, int, Any], object]]:
    writers: list[Callable[[int, int, Any], object]] = []
    for column in table.columns:
        if column.kind is Kind.TEXT:
            writers.append(worksheet.write_string)
        elif column.kind is Kind.BOOLEAN:
            writers.append(worksheet.write_boolean)
        else:
            cell_format = workbook.add_format({"num_format": _NUMBER_FORMATS[column.kind]})
            writers.append(
                lambda row, col, value, fmt=cell_format: worksheet.write_number(row, col, value, fmt)
            )
    return writers


def _write_sheet(
    path: str, table: ExportTable, batches: Iterable[pa.RecordBatch], include_headers: bool
) -> None:
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    try:
        worksheet = workbook.add_worksheet(table.file_title[:31])
        for index, column in enumerate(table.columns):
            worksheet.set_column(index, index, max(len(column.name) + 2, _COLUMN_WIDTHS[column.kind]))
        row = 0
        if include_headers:
            header = workbook.add_format({"bold": True, "bg_color": "#1F4E78", "font_color": "#FFFFFF",
                                          "border": 1, "text_wrap": False})  # fmt: skip
            worksheet.write_row(0, 0, table.column_names, header)
            worksheet.freeze_panes(1, 0)
            row = 1
        writers = _cell_writers(worksheet, workbook, table)
        for batch in batches:
            if row - int(include_headers) + batch.num_rows > XLSX_MAX_DATA_ROWS:
                raise TooManyRowsForSheetError(
                    f"more than {XLSX_MAX_DATA_ROWS:,} rows do not fit in one Excel sheet"
                )
            columns = [_excel_values(batch.column(i), c.kind) for i, c in enumerate(table.columns)]
            for values in zip(*columns, strict=True):
                for col, (write, value) in enumerate(zip(writers, values, strict=True)):
                    if value is not None:
                        write(row, col, value)
                row += 1
        if include_headers:
            worksheet.autofilter(0, 0, max(row - 1, 0), len(table.columns) - 1)
    finally:
        workbook.close()


def xlsx_stream(
    table: ExportTable,
    batches: Iterable[pa.RecordBatch],
    *,
    include_headers: bool = True,
    scratch_dir: str | None = None,
) -> Iterator[bytes]:
    """An XLSX workbook: header styled and frozen, widths, number formats, autofilter."""
    handle, path = tempfile.mkstemp(prefix="oee-export-", suffix=".xlsx", dir=scratch_dir)
    os.close(handle)
    try:
        _write_sheet(path, table, batches, include_headers)
        with open(path, "rb") as workbook_file:
            while chunk := workbook_file.read(_FILE_CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)
