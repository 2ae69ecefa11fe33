"""One entry point for import files: pick the reader from the name, refuse what cannot be read."""

from __future__ import annotations

from pathlib import Path

from oee_pipelines.connectors.files.csv_reader import read_csv, read_csv_file
from oee_pipelines.connectors.files.errors import UnreadableFileError
from oee_pipelines.connectors.files.names import safe_file_name
from oee_pipelines.connectors.files.xlsx_reader import read_xlsx
from oee_pipelines.domain.imports import TextSheet

MAX_FILE_BYTES = 1024 * 1024 * 1024
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def read_import_file(
    source: Path | bytes, file_name: str | None = None, encoding: str | None = None
) -> TextSheet:
    """A CSV or XLSX file as a TextSheet. `file_name` (required for bytes) may be a user's upload name;
    only its last component is kept. `encoding` names a CSV file's encoding (None: detected; a
    workbook has none)."""
    if file_name is None:
        if not isinstance(source, Path):
            raise ValueError("file_name is required when reading bytes")
        file_name = source.name
    name = safe_file_name(file_name)
    suffix = Path(name).suffix.lower()
    if suffix in CSV_SUFFIXES and isinstance(source, Path):
        check_size(source, name)
        return read_csv_file(source, name, encoding)
    data = _read_bytes(source, name) if isinstance(source, Path) else source
    if suffix in CSV_SUFFIXES:
        return read_csv(data, name, encoding)
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(data, name)
    if suffix == ".xls":
        raise UnreadableFileError(name, "the old .xls format is not supported; save the file as .xlsx or CSV")
    supported = ", ".join(CSV_SUFFIXES + XLSX_SUFFIXES)
    raise UnreadableFileError(
        name, f"unsupported file type {suffix or '(none)'}; expected one of {supported}"
    )


def _read_bytes(path: Path, name: str) -> bytes:
    check_size(path, name)
    return path.read_bytes()


def check_size(path: Path, name: str) -> int:
    """The file's size; UnreadableFileError when it is missing or larger than `MAX_FILE_BYTES`."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnreadableFileError(name, "no such file") from None
    if size > MAX_FILE_BYTES:
        raise UnreadableFileError(name, f"the file has {size:,} bytes, more than {MAX_FILE_BYTES:,}")
    return size
