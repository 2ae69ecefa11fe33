"""CSV files as people save them: UTF-8 with or without a BOM, UTF-16 from Excel's "Unicode text",
Windows code pages and other legacy encodings from older tools (detected, or named by the user: see
`encodings.py`); `,`, `;` or tab between fields. Every cell is read as text.

Row numbers are CSV records counted from the header (row 1), which is what a spreadsheet shows even
when a quoted value spans several lines.
"""

from __future__ import annotations

import csv
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from oee_pipelines.connectors.files import encodings
from oee_pipelines.connectors.files.errors import UnreadableFileError
from oee_pipelines.connectors.files.sheets import build_sheet, header_names
from oee_pipelines.domain.imports import RowError, TextSheet
from oee_pipelines.domain.imports.model import FIRST_DATA_ROW

DELIMITERS = (",", ";", "\t")
SNIFF_CHARS = 64 * 1024
# Files above this size are parsed from the disk when they are UTF-8 (see `read_csv_file`).
STREAM_FROM_BYTES = 1024 * 1024
# Files above this size can be validated a slice of rows at a time (`read_csv_file_in_slices`), each
# slice about this many bytes of the file.
SLICED_FROM_BYTES = 16 * 1024 * 1024
SLICE_BYTES = 8 * 1024 * 1024
# Arrow's default block, as `read_csv` reads a whole file with: a record longer than a block is
# refused alike either way.
READ_BLOCK_BYTES = 1024 * 1024
# How often a read-ahead thread waiting to hand on a slice checks whether it is still wanted.
_HAND_ON_SECONDS = 0.05
# Whether a file read whole is parsed on all of Arrow's threads first (see `_parse`).
PARSE_WITH_THREADS = True
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
_UTF8_BOM = b"\xef\xbb\xbf"


def read_csv(data: bytes, file_name: str, encoding: str | None = None) -> TextSheet:
    """Every row of a CSV file as text, with the row number the user sees.

    `encoding`: the file's encoding as the user names it; None detects it (and refuses when unsure).
    """
    utf8, encoding = _as_utf8(data, file_name, encoding)
    header_text = _first_line(utf8).decode("utf-8").rstrip("\r")
    return _sheet(lambda: pa.BufferReader(pa.py_buffer(utf8)), header_text, file_name, encoding)


def read_csv_file(path: Path, file_name: str, encoding: str | None = None) -> TextSheet:
    """`read_csv` of a file on disk. A large UTF-8 file is parsed straight from the disk, so its bytes
    are not held in memory beside the cells read from them; anything else is read whole."""
    if path.stat().st_size <= STREAM_FROM_BYTES:
        return read_csv(path.read_bytes(), file_name, encoding)
    header_text = _streamable_header(path, file_name, encoding)
    if header_text is None:
        return read_csv(path.read_bytes(), file_name, encoding)
    # Arrow skips a UTF-8 byte-order mark itself.
    return _sheet(lambda: pa.input_stream(str(path)), header_text, file_name, "utf-8")


def read_csv_file_in_slices(
    path: Path,
    file_name: str,
    encoding: str | None = None,
    *,
    from_bytes: int = SLICED_FROM_BYTES,
    slice_bytes: int = SLICE_BYTES,
    reported_encoding: str = "utf-8",
) -> Iterator[TextSheet] | None:
    """The rows of a large UTF-8 CSV file as TextSheets of about `slice_bytes` each, read one at a
    time, so only one slice's cells are in memory; None for a file under `from_bytes` or one that
    must be read whole (another encoding, no final newline): read it with `read_csv_file`.

    Each slice's `read_errors` are the rows found unreadable since the previous slice (they may lie
    beyond it). There is at least one slice, empty for a file of only a header. A file that turns
    out unreadable part way raises `UnreadableFileError` while it is iterated. `reported_encoding`: the
    encoding the sheets name (the original's, for a file transcoded by `transcode_csv_file`)."""
    size = path.stat().st_size
    if not size or size <= from_bytes:
        return None
    header_text = _streamable_header(path, file_name, encoding)
    if header_text is None:
        return None
    delimiter = _detect_delimiter(header_text)
    header = next(csv.reader([header_text], delimiter=delimiter), [])
    names, positions = header_names(header)
    if not names:
        raise UnreadableFileError(file_name, "the first row holds no column names")
    details = {"format": "csv", "encoding": reported_encoding, "delimiter": delimiter}
    return _sheet_slices(path, file_name, len(header), delimiter, names, positions, slice_bytes, details)


def transcode_csv_file(path: Path, file_name: str, encoding: str | None = None) -> tuple[Path, str]:
    """A CSV file in any encoding rewritten as UTF-8 (no byte-order mark, ending with a newline) into
    a temporary file, a chunk at a time, for `read_csv_file_in_slices`; and the encoding it was read
    as. The encoding is named or detected on a bounded sample exactly as `read_csv` decides it, and
    the file is refused as `read_csv` refuses it (empty, binary, ambiguous, undecodable). The caller
    removes the temporary file."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_CHARS)
    if not head or (len(head) < SNIFF_CHARS and head.isspace()):
        raise UnreadableFileError(file_name, "the file is empty")
    if not head.startswith(_UTF16_BOMS) and not encodings.is_wide(encoding):
        _refuse_binary(head, file_name)
    codec, used = encodings.file_codec(path, file_name, encoding)
    handle_number, name = tempfile.mkstemp(prefix="oee-import-", suffix=".utf8.csv")
    target = Path(name)
    try:
        with os.fdopen(handle_number, "wb") as output:
            start, last, checked = "", "", False
            for text in encodings.transcode_file(path, codec, output, file_name):
                if not checked:
                    start += text[: SNIFF_CHARS - len(start)]
                    # Binary content is refused as soon as its start is known, not after the rest.
                    checked = len(start) >= SNIFF_CHARS and _checked_text(start, file_name) is not None
                last = text[-1:] or last
            if not checked:
                _checked_text(start, file_name)
            if last != "\n":
                # The parser needs the last line terminated, as `_as_utf8` makes sure.
                output.write(b"\n")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, used


def _next_slice(batches: Iterator[pa.RecordBatch], blocks: int) -> pa.Table | None:
    """The next `blocks` batches as one table; None at the end."""
    taken = [batch for _, batch in zip(range(blocks), batches, strict=False)]
    return pa.Table.from_batches(taken) if taken else None


def _read_ahead(
    batches: Iterator[pa.RecordBatch], blocks: int, skipped: list[RowError]
) -> Generator[tuple[pa.Table | None, int], None, None]:
    """The slices of `_next_slice` (None last), each with how many rows the parser had refused when
    it was read; the next slice is parsed on a thread meanwhile (Arrow's parser releases the GIL), so
    parsing overlaps validating the slice before. The parser is still called one slice after another,
    single-threaded, so it numbers the rows it refuses and refuses them in the same order.

    At most one slice waits beside the one being validated. An error while parsing is raised here,
    in its place among the slices; leaving early stops the thread before returning."""
    ready: queue.Queue[tuple[pa.Table | None, int, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_on(item: tuple[pa.Table | None, int, BaseException | None]) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_HAND_ON_SECONDS)
                return
            except queue.Full:
                continue

    def parse() -> None:
        try:
            while not stop.is_set():
                table = _next_slice(batches, blocks)
                hand_on((table, len(skipped), None))
                if table is None:
                    return
        except BaseException as exc:  # handed to the reader, raised there
            hand_on((None, len(skipped), exc))

    parser = threading.Thread(target=parse, name="csv-read-ahead", daemon=True)
    parser.start()
    try:
        while True:
            table, refused, error = ready.get()
            if error is not None:
                raise error
            yield table, refused
            if table is None:
                return
    finally:
        stop.set()
        parser.join()


def _streamable_header(path: Path, file_name: str, encoding: str | None) -> str | None:
    """The header line of a UTF-8 file that Arrow can parse from the disk; None when it cannot."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_CHARS)
        handle.seek(-1, os.SEEK_END)
        ends_with_newline = handle.read(1) == b"\n"
    streamable = (
        ends_with_newline and not encodings.is_wide(encoding) and encodings.is_utf8_file(path, encoding)
    )
    if not streamable:
        return None
    _refuse_binary(head, file_name)
    _checked_text(head.decode("utf-8", errors="ignore"), file_name)
    header = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    if b"\n" not in header:  # bytes, not a memoryview: `in` on a memoryview compares single bytes
        return None  # a header longer than the sniffed part
    return _first_line(memoryview(header)).decode("utf-8").rstrip("\r")


def _sheet_slices(
    path: Path,
    file_name: str,
    width: int,
    delimiter: str,
    names: list[str],
    positions: list[int],
    slice_bytes: int,
    details: dict[str, str],
) -> Iterator[TextSheet]:
    skipped: list[RowError] = []
    handed_on = 0
    skipped_rows = np.empty(0, dtype=np.int64)
    next_row = FIRST_DATA_ROW
    slices = 0
    read_options, parse_options, convert_options = _csv_options(width, delimiter, skipped)
    # Arrow reads up to 32 blocks ahead of the parser: blocks smaller than a slice bound that, and a
    # slice gathers several of them.
    read_options.block_size = min(READ_BLOCK_BYTES, slice_bytes)
    blocks_per_slice = max(1, slice_bytes // read_options.block_size)
    with pa.input_stream(str(path)) as stream:  # Arrow skips a UTF-8 byte-order mark itself
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            # Closed (its thread stopped) before the stream is, however this generator ends.
            with closing(_read_ahead(iter(reader), blocks_per_slice, skipped)) as ahead:
                for batch, refused in ahead:
                    # Rows refused so far include every one before this batch's end (the parser may
                    # have read ahead), so the batch's rows are the next ones not refused.
                    found, handed_on = skipped[handed_on:refused], refused
                    skipped_rows = np.union1d(skipped_rows, [error.row for error in found])
                    if batch is None:
                        break
                    later_refused = skipped_rows[skipped_rows >= next_row]
                    candidates = np.arange(next_row, next_row + batch.num_rows + len(later_refused))
                    numbers = candidates[~np.isin(candidates, later_refused)][: batch.num_rows]
                    next_row = int(numbers[-1]) + 1 if len(numbers) else next_row
                    table = batch.select(positions).rename_columns(names).combine_chunks()
                    frame = table.to_pandas(types_mapper=_text_types)
                    slices += 1
                    yield build_sheet(frame, numbers, file_name, read_errors=found, details=details)
                    # The slice just validated is garbage now: hand its memory back before the next.
                    del table, frame
                    pa.default_memory_pool().release_unused()
        except pa.ArrowInvalid as exc:
            raise UnreadableFileError(file_name, f"not a readable CSV file: {exc}") from None
    if found or not slices:
        empty = pa.table([pa.array([], pa.large_string()) for _ in names], names=names)
        frame = empty.to_pandas(types_mapper=_text_types)
        yield build_sheet(frame, np.empty(0, dtype=np.int64), file_name, read_errors=found, details=details)


def _sheet(
    content: Callable[[], pa.NativeFile], header_text: str, file_name: str, encoding: str
) -> TextSheet:
    delimiter = _detect_delimiter(header_text)
    header = next(csv.reader([header_text], delimiter=delimiter), [])
    names, positions = header_names(header)
    if not names:
        raise UnreadableFileError(file_name, "the first row holds no column names")
    table, skipped = _parse(content, len(header), delimiter, file_name)
    # The parser's scratch blocks are free now; hand them back before validation allocates its own.
    pa.default_memory_pool().release_unused()
    frame = table.select(positions).rename_columns(names).to_pandas(types_mapper=_text_types)
    return build_sheet(
        frame,
        _kept_row_numbers(table.num_rows, skipped),
        file_name,
        read_errors=skipped,
        details={"format": "csv", "encoding": encoding, "delimiter": delimiter},
    )


def _as_utf8(data: bytes, file_name: str, encoding: str | None) -> tuple[memoryview, str]:
    """The content as UTF-8 without a BOM, ending with a newline, and the encoding it was read as.

    UTF-8 content (the common case) is checked in chunks and handed on without a copy, so a large
    upload is not held three times over (bytes, text, bytes again) while it is parsed."""
    if not data or data.isspace():
        raise UnreadableFileError(file_name, "the file is empty")
    if not data.startswith(_UTF16_BOMS) and not encodings.is_wide(encoding):
        _refuse_binary(data, file_name)
    if encodings.is_utf8(data, encoding):
        _checked_text(data[:SNIFF_CHARS].decode("utf-8", errors="ignore"), file_name)
        content = memoryview(data)[len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0 :]
        used = "utf-8"
    else:
        text, used = encodings.decode(data, file_name, encoding)
        content = memoryview(_checked_text(text, file_name).encode("utf-8"))
    if content[-1:] != b"\n":
        # The parser needs the header line terminated, or a header-only file reads as "too short".
        content = memoryview(bytes(content) + b"\n")
    return content, used


def _first_line(content: memoryview) -> bytes:
    """The bytes before the first newline (all of them without one), read a block at a time."""
    for start in range(0, len(content), SNIFF_CHARS):
        end = bytes(content[start : start + SNIFF_CHARS]).find(b"\n")
        if end >= 0:
            return bytes(content[: start + end])
    return bytes(content)


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


def _parse(
    content: Callable[[], pa.NativeFile], width: int, delimiter: str, file_name: str
) -> tuple[pa.Table, list[RowError]]:
    """The file's rows as text, and the rows refused with their numbers.

    Parsed first on all of Arrow's threads; a file with a row to refuse (whose number only the
    single-threaded parser knows) or that cannot be parsed is parsed again single-threaded, which
    refuses it, or numbers its refused rows, as ever. `content` opens the file's bytes anew."""
    if PARSE_WITH_THREADS:
        read_options, parse_options, convert_options = _csv_options(width, delimiter, [])
        read_options.use_threads = True
        read_options.block_size = READ_BLOCK_BYTES
        # Threads do not know a row's number: the first row to refuse stops this attempt.
        parse_options.invalid_row_handler = _stop_at_refused_row
        try:
            return _read_csv(content, read_options, parse_options, convert_options), []
        except pa.ArrowInvalid:
            pass  # a row to refuse, or a file to refuse: parsed again single-threaded
    skipped: list[RowError] = []
    read_options, parse_options, convert_options = _csv_options(width, delimiter, skipped)
    read_options.block_size = READ_BLOCK_BYTES
    try:
        table = _read_csv(content, read_options, parse_options, convert_options)
    except pa.ArrowInvalid as exc:
        raise UnreadableFileError(file_name, f"not a readable CSV file: {exc}") from None
    return table, skipped


def _read_csv(
    content: Callable[[], pa.NativeFile],
    read_options: pa_csv.ReadOptions,
    parse_options: pa_csv.ParseOptions,
    convert_options: pa_csv.ConvertOptions,
) -> pa.Table:
    with content() as source:
        return pa_csv.read_csv(
            source, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )


def _stop_at_refused_row(row: pa_csv.InvalidRow) -> str:
    return "error"


def _csv_options(
    width: int, delimiter: str, skipped: list[RowError]
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    """Every cell as text; a row with the wrong number of fields is skipped and added to `skipped`."""

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
    return (
        # Single-threaded, so each refused row comes with its number.
        pa_csv.ReadOptions(column_names=column_names, skip_rows=1, use_threads=False),
        pa_csv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=refuse_row,
        ),
        pa_csv.ConvertOptions(
            # large_string is what pandas' Arrow-backed strings hold: no cast (and copy) later.
            column_types={name: pa.large_string() for name in column_names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _kept_row_numbers(kept_rows: int, skipped: list[RowError]) -> np.ndarray:
    """Rows 2.. of the file, without those the parser refused."""
    every_row = np.arange(2, 2 + kept_rows + len(skipped), dtype=np.int64)
    return every_row[~np.isin(every_row, [error.row for error in skipped])]


_ARROW_TEXT = pd.StringDtype("pyarrow")


def _text_types(arrow_type: pa.DataType) -> pd.StringDtype | None:
    # One dtype for every column: building a StringDtype per column and slice costs more than it reads.
    return _ARROW_TEXT if arrow_type in (pa.string(), pa.large_string()) else None
