"""Files that are empty, binary, mislabelled, or try formula injection or path traversal."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from oee_pipelines.connectors.errors import SourceDataError
from oee_pipelines.connectors.files import UnreadableFileError, read_import_file, safe_file_name, xlsx_reader
from oee_pipelines.domain.imports import ImportReference, validate_downtime

WriteFile = Callable[[str, bytes], Path]
INJECTIONS = ["=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)"]
STOP_HEADER = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx"])
def test_zero_byte_file(write_file: WriteFile, name: str) -> None:
    with pytest.raises(UnreadableFileError, match="empty"):
        read_import_file(write_file(name, b""))


def test_blank_csv_is_empty(write_file: WriteFile) -> None:
    with pytest.raises(UnreadableFileError, match="empty"):
        read_import_file(write_file("blank.csv", b" \r\n\n"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (random.Random(3).randbytes(4096), "binary file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (xlsx_bytes([["a"], [1]]), "Excel workbook"),
        (bytes(range(1, 9)) * 100, "binary file"),
    ],
)
def test_binary_named_csv_gets_a_clear_error(write_file: WriteFile, content: bytes, message: str) -> None:
    with pytest.raises(UnreadableFileError, match=message) as raised:
        read_import_file(write_file("readings.csv", content))

    assert isinstance(raised.value, SourceDataError)
    assert str(raised.value).startswith("file import: read readings.csv failed:")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("stops.xlsx", b"timestamp,value\n", "not an Excel workbook"),
        ("stops.xlsx", b"PK\x03\x04" + bytes(100), "not an Excel workbook"),
        ("stops.xls", b"\xd0\xcf\x11\xe0" + bytes(100), "old .xls"),
        ("stops.pdf", b"%PDF-1.7", "unsupported file type .pdf"),
    ],
)
def test_files_that_are_not_what_they_claim(
    write_file: WriteFile, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        read_import_file(write_file(name, content))


def test_zip_that_is_not_a_workbook(write_file: WriteFile) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")

    with pytest.raises(UnreadableFileError, match="not a readable Excel workbook"):
        read_import_file(write_file("stops.xlsx", buffer.getvalue()))


def test_workbook_inflating_past_the_limit_is_refused(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real limit is hundreds of MB; a small one shows the check without writing that much.
    monkeypatch.setattr(xlsx_reader, "MAX_UNCOMPRESSED_BYTES", 10_000)
    content = xlsx_bytes([["description"], *[["x" * 1000] for _ in range(50)]])

    with pytest.raises(UnreadableFileError, match="unpacks to"):
        read_import_file(write_file("big.xlsx", content))


def test_formula_cells_in_a_workbook_stay_text(tmp_path: Path, demo_reference: ImportReference) -> None:
    header = STOP_HEADER.split(",")
    rows = [
        ["2025-10-06 08:00:00", f"2025-10-06 08:0{index + 1}:00", "MACHINE-001", None, "JAM", text, None]
        for index, text in enumerate(INJECTIONS)
    ]
    rows[0][0] = "2025-10-06 07:00:00"
    path = tmp_path / "stops.xlsx"
    path.write_bytes(xlsx_bytes([header, *rows]))

    result = validate_downtime(read_import_file(path), demo_reference, quarantine_invalid=True)

    landed = result.rows.sort_values("end_time")["description"].tolist()
    assert landed[0] == INJECTIONS[0]
    assert set(landed) | set(result.rejected["description"]) == set(INJECTIONS)


def test_formula_text_in_a_csv_is_kept_as_written(
    write_file: WriteFile, demo_reference: ImportReference
) -> None:
    lines = [STOP_HEADER] + [
        f'2025-10-06 0{index}:00:00,2025-10-06 0{index}:05:00,MACHINE-001,,JAM,"{text}",OP-1'
        for index, text in enumerate(INJECTIONS)
    ]
    sheet = read_import_file(write_file("stops.csv", "\n".join(lines).encode()))

    result = validate_downtime(sheet, demo_reference)

    assert result.report.errors == []
    assert result.rows["description"].tolist() == INJECTIONS


def test_a_formula_where_an_id_belongs_is_an_unknown_id(
    tmp_path: Path, demo_reference: ImportReference
) -> None:
    path = tmp_path / "stops.xlsx"
    path.write_bytes(
        xlsx_bytes([STOP_HEADER.split(","), ["2025-10-06 08:00", "2025-10-06 09:00", "=A1", None, "JAM"]])
    )

    [error] = validate_downtime(read_import_file(path), demo_reference).report.errors

    assert (error.row, error.column, error.value) == (2, "machine_id", "=A1")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("C:\\Users\\ana\\Desktop\\stops.xlsx", "stops.xlsx"),
        ("/tmp/../readings.csv", "readings.csv"),
        ("..hidden.csv", "hidden.csv"),
        ("bad\x00name|?.csv", "bad_name__.csv"),
        ("Ablauf März.csv", "Ablauf März.csv"),
    ],
)
def test_safe_file_name_strips_directories(given: str, expected: str) -> None:
    assert safe_file_name(given) == expected


@pytest.mark.parametrize("given", ["..", "../", "", "a/b/", "\x00"])
def test_safe_file_name_refuses_names_with_nothing_left(given: str) -> None:
    with pytest.raises(ValueError, match="no usable name"):
        safe_file_name(given)


def test_safe_file_name_caps_length_and_keeps_the_extension() -> None:
    name = safe_file_name("x" * 400 + ".csv")

    assert len(name.encode()) == 255
    assert name.endswith(".csv")


def test_reading_uses_the_safe_name(write_file: WriteFile) -> None:
    path = write_file("log.csv", b"timestamp,value\n2025-10-05,1\n")

    assert read_import_file(path, file_name="../../../secret/log.csv").file_name == "log.csv"
