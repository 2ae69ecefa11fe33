"""CSV files as people save them: encodings, delimiters, odd rows; every cell kept as text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from oee_pipelines.connectors.files import read_import_file
from oee_pipelines.domain.imports import ImportReference, validate_sensor_log

WriteFile = Callable[[str, bytes], Path]
HEADER = "timestamp,machine_id,sensor_type,value,unit,quality"


def test_utf8_with_bom_and_semicolons(write_file: WriteFile, demo_reference: ImportReference) -> None:
    text = (
        "timestamp;machine_id;sensor_type;value;unit;quality\r\n"
        "2025-10-05 14:00:00;MACHINE-001;temperature;75.5;°C;100\r\n"
    )
    path = write_file("log.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))

    sheet = read_import_file(path)

    assert list(sheet.frame.columns) == ["timestamp", "machine_id", "sensor_type", "value", "unit", "quality"]
    assert sheet.details == {"format": "csv", "encoding": "utf-8", "delimiter": ";"}
    assert sheet.frame.loc[0, "unit"] == "°C"
    result = validate_sensor_log(sheet, demo_reference)
    assert result.report.errors == []
    assert result.rows.column("unit").to_pylist() == ["°C"]


def test_latin1_with_tabs(write_file: WriteFile) -> None:
    text = (
        "timestamp\tmachine_id\tsensor_type\tvalue\tunit\tquality\n"
        "2025-10-05 14:00:00\tMACHINE-001\ttemperature\t75.5\tµm Düse\t100\n"
    )
    path = write_file("log.txt", text.encode("latin-1"))

    sheet = read_import_file(path)

    assert sheet.details["delimiter"] == "\t"
    assert sheet.details["encoding"] in {"cp1252", "latin-1"}
    assert sheet.frame.loc[0, "unit"] == "µm Düse"


def test_windows_1252_euro_sign(write_file: WriteFile) -> None:
    path = write_file(
        "log.csv", f"{HEADER}\n2025-10-05 14:00:00,MACHINE-001,cost,1.5,€,100\n".encode("cp1252")
    )

    assert read_import_file(path).frame.loc[0, "unit"] == "€"


def test_utf16_unicode_text_from_excel(write_file: WriteFile) -> None:
    text = (
        HEADER.replace(",", "\t") + "\r\n2025-10-05 14:00:00\tMACHINE-001\ttemperature\t75.5\tdegC\t100\r\n"
    )
    path = write_file("log.txt", text.encode("utf-16"))

    sheet = read_import_file(path)

    assert sheet.details["encoding"] == "utf-16"
    assert sheet.frame.loc[0, "machine_id"] == "MACHINE-001"


def test_cells_stay_text_exactly_as_written(write_file: WriteFile) -> None:
    path = write_file(
        "log.csv", f"{HEADER}\n2025-10-05 14:00:00,MACHINE-001,temperature,007.50,degC,0100\n".encode()
    )

    row = read_import_file(path).frame.iloc[0]

    assert (row["value"], row["quality"]) == ("007.50", "0100")


def test_row_numbers_survive_blank_lines_and_quoted_newlines(write_file: WriteFile) -> None:
    content = (
        "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id\n"
        '2025-10-06 08:00,2025-10-06 08:10,MACHINE-001,,BRK-MECH,"two\nlines",OP-1\n'
        "\n"
        "2025-10-06 09:00,2025-10-06 09:10,MACHINE-001,,BRK-MECH,plain,OP-1\n"
        ",,,,,,\n"
        "2025-10-06 10:00,2025-10-06 10:10,MACHINE-001,,BRK-MECH,plain,OP-1\n"
    )
    sheet = read_import_file(write_file("stops.csv", content.encode()))

    assert sheet.row_numbers.tolist() == [2, 4, 6]
    assert sheet.frame.loc[0, "description"] == "two\nlines"


def test_rows_with_the_wrong_field_count_are_named(
    write_file: WriteFile, demo_reference: ImportReference
) -> None:
    content = (
        f"{HEADER}\n"
        "2025-10-05 14:00:00,MACHINE-001,temperature,75.5,degC,100\n"
        "2025-10-05 14:00:01,MACHINE-001,temperature,75,5,degC,100\n"
        "2025-10-05 14:00:02,MACHINE-001,temperature\n"
        "2025-10-05 14:00:03,MACHINE-001,temperature,75.5,degC,100\n"
    )
    sheet = read_import_file(write_file("log.csv", content.encode()))

    assert sheet.row_numbers.tolist() == [2, 5]
    result = validate_sensor_log(sheet, demo_reference)
    assert [(e.row, e.column) for e in result.report.errors] == [(3, None), (4, None)]
    assert "7 fields but the header has 6" in result.report.errors[0].reason
    assert "double quotes" in result.report.errors[0].reason
    assert result.report.rows_read == 4


def test_trailing_blank_header_columns_are_ignored(write_file: WriteFile) -> None:
    content = f"{HEADER},,\n2025-10-05 14:00:00,MACHINE-001,temperature,75.5,degC,100,,\n"

    sheet = read_import_file(write_file("log.csv", content.encode()))

    assert list(sheet.frame.columns) == HEADER.split(",")


def test_bytes_need_a_name_and_keep_only_its_last_part() -> None:
    sheet = read_import_file(f"{HEADER}\n".encode(), file_name="../../uploads/log.csv")

    assert sheet.file_name == "log.csv"
    assert len(sheet.frame) == 0


def test_header_only_file_without_final_newline_has_no_rows(write_file: WriteFile) -> None:
    sheet = read_import_file(write_file("log.csv", HEADER.encode()))

    assert list(sheet.frame.columns) == HEADER.split(",")
    assert len(sheet.frame) == 0


def test_last_row_without_final_newline_is_read(write_file: WriteFile) -> None:
    sheet = read_import_file(write_file("log.csv", f"{HEADER}\n2025-10-05,MACHINE-001,t,1,u,100".encode()))

    assert sheet.frame.loc[0, "quality"] == "100"


def test_unclosed_quote_is_reported_on_its_row(write_file: WriteFile) -> None:
    sheet = read_import_file(write_file("q.csv", b'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n'))

    assert sheet.row_numbers.tolist() == [2]
    [error] = sheet.read_errors
    assert error.row == 3
    assert "never closed" in error.reason


def test_file_with_exactly_three_bad_rows_reports_all_three(
    write_file: WriteFile, demo_reference: ImportReference
) -> None:
    content = (
        f"{HEADER}\n"
        "2025-10-05 14:00:00,MACHINE-001,temperature,75.5,degC,100\n"
        "2025-10-05 14:00:01,MACHINE-001,temperature,hot,degC,100\n"
        "2025-10-05 14:00:02,MACHINE-001,temperature,75.7,degC,100\n"
        "\n"
        "2025-10-05 14:00:03,MACHINE-777,temperature,75.8,degC,100\n"
        "2025-10-05 14:00:04,MACHINE-001,temperature,75.9,degC,100\n"
        "2025-10-05 25:00:00,MACHINE-001,temperature,76.0,degC,100\n"
    )

    result = validate_sensor_log(read_import_file(write_file("log.csv", content.encode())), demo_reference)

    assert [(e.row, e.column, e.value) for e in result.report.errors] == [
        (3, "value", "hot"),
        (6, "machine_id", "MACHINE-777"),
        (8, "timestamp", "2025-10-05 25:00:00"),
    ]
    assert (result.report.rows_read, result.report.rows_valid, result.rows.num_rows) == (6, 3, 0)
