"""Large import files read a slice of rows at a time, whatever their format and encoding.

A UTF-8 CSV is parsed from the disk as it is; a CSV in another encoding (UTF-16, Windows code pages,
Shift-JIS, ...) is first rewritten as UTF-8 into a temporary file a chunk at a time (its encoding
named or detected on a bounded sample, `encodings.file_codec`); a workbook's first sheet is streamed
with openpyxl's read-only mode. Validation may need the slices more than once (overlaps first, keys
already imported after), so a `SlicedFile` hands out a new pass on each `slices()` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from oee_pipelines.connectors.files.csv_reader import (
    SLICE_BYTES,
    SLICED_FROM_BYTES,
    read_csv_file_in_slices,
    transcode_csv_file,
)
from oee_pipelines.connectors.files.names import safe_file_name
from oee_pipelines.connectors.files.reader import CSV_SUFFIXES, XLSX_SUFFIXES, check_size
from oee_pipelines.connectors.files.xlsx_reader import read_xlsx_file_in_slices
from oee_pipelines.domain.imports import TextSheet

# A workbook is XML compressed about ten to one, and openpyxl builds Python objects per cell: one
# above this size is streamed.
XLSX_SLICED_FROM_BYTES = 1024 * 1024
# Rows per slice of a workbook: a slice of about `slice_bytes` of CSV text at this many bytes a row.
XLSX_BYTES_PER_ROW = 128


class SlicedFile:
    """A file to read slice by slice, as many times as needed; `close` removes any temporary copy."""

    def __init__(self, read: Callable[[], Iterator[TextSheet]], temporary: Path | None = None) -> None:
        self._read = read
        self._temporary = temporary

    def slices(self) -> Iterator[TextSheet]:
        """One pass over the file's rows, a TextSheet per slice (at least one)."""
        return self._read()

    def close(self) -> None:
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> SlicedFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_in_slices(
    path: Path,
    file_name: str | None = None,
    encoding: str | None = None,
    *,
    from_bytes: int = SLICED_FROM_BYTES,
    xlsx_from_bytes: int = XLSX_SLICED_FROM_BYTES,
    slice_bytes: int = SLICE_BYTES,
) -> SlicedFile | None:
    """`path` to be read in slices of about `slice_bytes`, or None when it is small enough to read whole
    (a CSV up to `from_bytes`, a workbook up to `xlsx_from_bytes`) or not a CSV or workbook (for
    `read_import_file` to refuse). Raises `UnreadableFileError` for a CSV whose encoding cannot be
    told or read, as `read_import_file` would."""
    name = safe_file_name(file_name or path.name)
    suffix = Path(name).suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        return None
    size = check_size(path, name)
    if suffix in XLSX_SUFFIXES:
        if size <= xlsx_from_bytes:
            return None
        rows = max(1, slice_bytes // XLSX_BYTES_PER_ROW)
        return SlicedFile(lambda: read_xlsx_file_in_slices(path, name, rows))
    if not size or size <= from_bytes:
        return None

    def utf8_slices(source: Path, reported: str) -> Iterator[TextSheet]:
        slices = read_csv_file_in_slices(
            source, name, "utf-8", from_bytes=0, slice_bytes=slice_bytes, reported_encoding=reported
        )
        assert slices is not None  # UTF-8 ending with a newline: always streamable
        return slices

    probe = read_csv_file_in_slices(path, name, encoding, from_bytes=0, slice_bytes=slice_bytes)
    if probe is not None:
        # The probe checked the whole file is UTF-8 and has not read a row yet: it is the first pass,
        # so the file is not checked twice (later passes check it again, as it may have changed).
        first_pass = [probe]
        return SlicedFile(lambda: first_pass.pop() if first_pass else utf8_slices(path, "utf-8"))
    transcoded, used = transcode_csv_file(path, name, encoding)
    return SlicedFile(lambda: utf8_slices(transcoded, used), temporary=transcoded)
