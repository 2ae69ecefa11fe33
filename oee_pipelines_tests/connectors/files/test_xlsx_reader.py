"""Workbooks made by openpyxl and workbooks laid out the way Excel saves them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import PatternFill
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from oee_pipelines.connectors.files import read_import_file
from oee_pipelines.domain.imports import ImportReference, validate_downtime

HEADER = [
    "start_timestamp",
    "end_timestamp",
    "machine_id",
    "line_id",
    "reason_code",
    "description",
    "operator_id",
]
YELLOW = PatternFill("solid", start_color="FFFF00", end_color="FFFF00")


def save(workbook: Workbook, path: Path) -> Path:
    workbook.save(path)
    return path


def test_workbook_made_with_openpyxl(tmp_path: Path, demo_reference: ImportReference) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(
        [datetime(2025, 10, 6, 8, 0), datetime(2025, 10, 6, 8, 30), "MACHINE-001", "LINE-001", "BREAK"]
    )
    sheet.append(["2025-10-06T07:00:00Z", "2025-10-06T07:05:00Z", "MACHINE-002", None, "JAM", "text date", 7])

    sheet_read = read_import_file(save(workbook, tmp_path / "stops.xlsx"))
    result = validate_downtime(sheet_read, demo_reference)

    assert sheet_read.frame.loc[0, "start_timestamp"] == "2025-10-06 08:00:00"
    assert sheet_read.frame.loc[1, "operator_id"] == "7"
    assert result.report.errors == []
    # Berlin is UTC+2 on 2025-10-06, so plant-local 08:00 is 06:00 UTC.
    assert [ts.isoformat() for ts in result.rows["start_time"]] == [
        "2025-10-06T06:00:00+00:00",
        "2025-10-06T07:00:00+00:00",
    ]
    assert result.rows["is_planned"].tolist() == [True, False]


def test_workbook_saved_the_way_excel_saves_it(tmp_path: Path, demo_reference: ImportReference) -> None:
    workbook = Workbook()
    sheet = workbook.active
    # Excel keeps formatted cells after the header as empty columns, and formatted rows below the data.
    sheet.append([*HEADER, None, None])
    sheet.cell(row=1, column=9).fill = YELLOW
    # 45936.3333... is 2025-10-06 08:00 as a serial number shown with a date format...
    sheet.append([45936 + 8 / 24, 45936 + 8.5 / 24, "MACHINE-001", "LINE-001", "BRK-MECH", "jam", "OP-001"])
    sheet.cell(row=2, column=1).number_format = "yyyy-mm-dd hh:mm"
    sheet.cell(row=2, column=2).number_format = "dd/mm/yyyy hh:mm"
    # ...and here as a raw serial number in General format, which Excel users also send.
    sheet.append([45936.375, 45936.3958333333, "MACHINE-001", None, "BRK-MECH", None, None])
    for row in range(5, 12):
        sheet.cell(row=row, column=1).fill = YELLOW

    read = read_import_file(save(workbook, tmp_path / "stops.xlsx"))
    result = validate_downtime(read, demo_reference)

    assert list(read.frame.columns) == HEADER
    assert read.row_numbers.tolist() == [2, 3]
    assert read.frame.loc[0, "start_timestamp"] == "2025-10-06 08:00:00"
    assert read.frame.loc[1, "start_timestamp"] == "45936.375"
    assert result.report.errors == []
    assert [ts.isoformat() for ts in result.rows["start_time"]] == [
        "2025-10-06T06:00:00+00:00",
        "2025-10-06T07:00:00+00:00",
    ]
    # The raw serial's float noise is rounded to Excel's millisecond: 30 minutes exactly.
    assert result.rows["duration_minutes"].tolist() == [30.0, 30.0]


def test_mac_1904_workbook_serials(tmp_path: Path, demo_reference: ImportReference) -> None:
    workbook = Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.append(HEADER)
    # In the 1904 system the same day is 1462 days lower.
    sheet.append([45936.375 - 1462, 45936.5 - 1462, "MACHINE-001", None, "BRK-MECH"])

    result = validate_downtime(read_import_file(save(workbook, tmp_path / "mac.xlsx")), demo_reference)

    assert result.report.errors == []
    assert result.rows["start_time"].iloc[0].isoformat() == "2025-10-06T07:00:00+00:00"


def test_errors_in_a_workbook_name_the_excel_row(tmp_path: Path, demo_reference: ImportReference) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append([datetime(2025, 10, 6, 8), datetime(2025, 10, 6, 9), "MACHINE-001", None, "BRK-MECH"])
    sheet.cell(row=5, column=1, value=datetime(2025, 10, 6, 10))
    sheet.cell(row=5, column=2, value=datetime(2025, 10, 6, 9))
    sheet.cell(row=5, column=3, value="MACHINE-001")
    sheet.cell(row=5, column=5, value="BRK-MECH")

    result = validate_downtime(read_import_file(save(workbook, tmp_path / "stops.xlsx")), demo_reference)

    assert [(e.row, e.column) for e in result.report.errors] == [(5, "end_timestamp")]
