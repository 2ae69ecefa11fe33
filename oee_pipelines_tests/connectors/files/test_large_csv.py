"""A large UTF-8 CSV is parsed from the disk (not held in memory as bytes): the same sheet as from bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_pipelines.connectors.files import UnreadableFileError, read_import_file
from oee_pipelines.connectors.files.csv_reader import STREAM_FROM_BYTES

ROW = "2025-01-14T10:00:00Z;MACHINE-A01;température;75.5;°C;100\n"


def large_csv(path: Path, prefix: bytes = b"", broken_row: str = "") -> Path:
    rows = STREAM_FROM_BYTES // len(ROW.encode()) + 10
    body = "timestamp;machine_id;sensor_type;value;unit;quality\n" + ROW * rows + broken_row
    path.write_bytes(prefix + body.encode("utf-8"))
    return path


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"], ids=["no BOM", "UTF-8 BOM"])
def test_a_large_utf8_file_reads_as_its_bytes_do(tmp_path: Path, prefix: bytes) -> None:
    path = large_csv(tmp_path / "big.csv", prefix, broken_row='2025-01-14T11:00:00Z;"unclosed\n')

    from_disk = read_import_file(path)
    from_bytes = read_import_file(path.read_bytes(), file_name="big.csv")

    assert list(from_disk.frame.columns) == [
        "timestamp",
        "machine_id",
        "sensor_type",
        "value",
        "unit",
        "quality",
    ]
    assert from_disk.frame.equals(from_bytes.frame)
    assert from_disk.frame["sensor_type"].iloc[0] == "température"
    assert (from_disk.row_numbers == from_bytes.row_numbers).all()
    assert from_disk.read_errors == from_bytes.read_errors and len(from_disk.read_errors) == 1
    assert from_disk.details == from_bytes.details == {"format": "csv", "encoding": "utf-8", "delimiter": ";"}


def test_a_large_file_that_is_not_utf8_is_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(large_csv(tmp_path / "utf8.csv").read_text("utf-8").encode("cp1252"))

    sheet = read_import_file(path, encoding="cp1252")

    assert sheet.frame["unit"].iloc[-1] == "°C"
    assert sheet.details["encoding"] == "cp1252"
    with pytest.raises(UnreadableFileError, match="not utf-8"):
        read_import_file(path, encoding="utf-8")
