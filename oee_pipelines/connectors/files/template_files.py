"""The import templates shipped with the package, and the builders of the workbooks.

After changing a builder, rebuild the shipped workbooks with `template_files.rebuild_shipped()`.
Serve `build_downtime_template(path, reason_codes=...)` with an organization's reason codes to give
its users a drop-down list of valid codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from oee_pipelines.domain.imports import SPECS, ImportKind

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_FILES: dict[ImportKind, str] = {
    "sensor_log": "sensor_log_template.csv",
    "machine_state_log": "machine_state_log_template.csv",
    "production_count": "production_count_template.csv",
    "downtime": "downtime_import_template.xlsx",
    "schedule": "schedule_import_template.csv",
}
# The same templates as workbooks, for people who keep these logs in Excel.
TEMPLATE_WORKBOOKS: dict[ImportKind, str] = {
    "machine_state_log": "machine_state_log_template.xlsx",
    "production_count": "production_count_template.xlsx",
}
DATA_SHEET = "downtime"
LISTS_SHEET = "reason_codes"
LAST_ROW = 1_048_576
TIMESTAMP_FORMAT = "yyyy-mm-dd hh:mm:ss"
# 36526 is 2000-01-01 as an Excel serial date: anything earlier is a typing mistake.
EARLIEST_SERIAL = 36526
_HEADER_FILL = PatternFill("solid", start_color="1F4E78", end_color="1F4E78")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_COLUMN_NOTES = {
    "start_timestamp": "When the stop began. Plant local time unless written as text with an offset "
    "(e.g. 2025-10-05T12:30:00+02:00).",
    "end_timestamp": "When the stop ended; must be after start_timestamp.",
    "machine_id": "Machine id, e.g. MACHINE-001.",
    "line_id": "Optional: the machine's line, e.g. LINE-001.",
    "reason_code": "A code from the reason-code table, e.g. BRK-MECH (case-sensitive).",
    "description": "Optional free text. Formulas are stored as text, never calculated.",
    "operator_id": "Optional operator id.",
    "start": "When the state began. Plant local time unless written as text with an offset.",
    "end": "Optional: when the state ended (after start). Empty: it lasts until the machine's next row.",
    "state": "RUNNING, or the name of a stop (then reason_code says why, or the state is a reason code).",
    "timestamp": "The end of the counting period (pieces completed since the machine's previous row).",
    "pieces_good": "Good pieces in the period: a whole number, 0 or more.",
    "pieces_rejected": "Optional: rejected pieces in the period (empty is 0).",
}
_LOG_NOTES = {
    "machine_state_log": {"reason_code": "Optional: the stop's reason code, e.g. BRK-MECH (case-sensitive)."},
    "production_count": {},
}
_COLUMN_WIDTHS = {
    "start_timestamp": 21,
    "end_timestamp": 21,
    "description": 40,
    "start": 21,
    "end": 21,
    "timestamp": 21,
}
_EXAMPLE_ROW = (
    datetime(2025, 10, 6, 8, 15),
    datetime(2025, 10, 6, 8, 42),
    "MACHINE-001",
    "LINE-001",
    "BRK-MECH",
    "Conveyor belt torn",
    "OP-001",
)


def template_path(kind: ImportKind, file_format: str | None = None) -> Path:
    """The shipped template of an import kind; `file_format` "csv" or "xlsx" picks one where both exist."""
    if kind not in TEMPLATE_FILES:
        raise ValueError(f"unknown import kind {kind!r} (expected one of {', '.join(TEMPLATE_FILES)})")
    choices = [TEMPLATE_FILES[kind], *([TEMPLATE_WORKBOOKS[kind]] if kind in TEMPLATE_WORKBOOKS else [])]
    if file_format is None:
        return TEMPLATE_DIR / choices[0]
    matching = [name for name in choices if name.endswith(f".{file_format.lower()}")]
    if not matching:
        formats = ", ".join(Path(name).suffix.lstrip(".") for name in choices)
        raise ValueError(f"no {file_format} template for {kind} (available: {formats})")
    return TEMPLATE_DIR / matching[0]


def build_log_template(kind: ImportKind, path: Path) -> Path:
    """Write the workbook of a machine-state log or production-count template: the CSV's rows, styled."""
    if kind not in TEMPLATE_WORKBOOKS:
        raise ValueError(
            f"no workbook template for {kind!r} (expected one of {', '.join(TEMPLATE_WORKBOOKS)})"
        )
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = kind
    headers = SPECS[kind].column_names
    _write_header(sheet, headers, _LOG_NOTES[kind])
    lines = (TEMPLATE_DIR / TEMPLATE_FILES[kind]).read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        sheet.append(
            [_typed_cell(header, text) for header, text in zip(headers, line.split(","), strict=True)]
        )
    timestamp_columns = [column.name for column in SPECS[kind].columns if column.cell_type == "timestamp"]
    for name in timestamp_columns:
        letter = get_column_letter(headers.index(name) + 1)
        sheet.column_dimensions[letter].number_format = TIMESTAMP_FORMAT
        for row in range(2, sheet.max_row + 1):
            sheet[f"{letter}{row}"].number_format = TIMESTAMP_FORMAT
    workbook.properties.creator = "oee_pipelines"
    workbook.save(path)
    return path


def _typed_cell(header: str, text: str) -> object:
    """An example cell as Excel would hold it: timestamps as dates, counts as numbers, empty as empty."""
    if not text:
        return None
    if header in ("start", "end", "timestamp"):
        return datetime.fromisoformat(text)
    return int(text) if header.startswith("pieces_") else text


def build_downtime_template(path: Path, reason_codes: Sequence[str] = ()) -> Path:
    """Write the downtime workbook: styled, frozen header, date checks, and a reason-code list if given."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    headers = SPECS["downtime"].column_names
    _write_header(sheet, headers)
    sheet.append(list(_EXAMPLE_ROW))
    _add_timestamp_checks(sheet, headers)
    if reason_codes:
        _add_reason_code_list(workbook, sheet, headers, reason_codes)
    workbook.properties.creator = "oee_pipelines"
    workbook.save(path)
    return path


def _write_header(sheet: Worksheet, headers: list[str], notes: dict[str, str] | None = None) -> None:
    for index, name in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=index, value=name)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        cell.comment = Comment({**_COLUMN_NOTES, **(notes or {})}[name], "oee_pipelines")
        sheet.column_dimensions[get_column_letter(index)].width = _COLUMN_WIDTHS.get(name, 16)
    sheet.freeze_panes = "A2"


def _add_timestamp_checks(sheet: Worksheet, headers: list[str]) -> None:
    start = get_column_letter(headers.index("start_timestamp") + 1)
    end = get_column_letter(headers.index("end_timestamp") + 1)
    for letter in (start, end):
        # A column style, not styled cells, so the sheet holds no empty rows until someone types.
        sheet.column_dimensions[letter].number_format = TIMESTAMP_FORMAT
        for row in range(2, sheet.max_row + 1):
            sheet[f"{letter}{row}"].number_format = TIMESTAMP_FORMAT
    is_date = DataValidation(
        type="date",
        operator="greaterThan",
        formula1=str(EARLIEST_SERIAL),
        showErrorMessage=True,
        errorTitle="Not a date and time",
        error="Enter a date and time after 2000-01-01, e.g. 2025-10-06 08:15.",
    )
    is_date.add(f"{start}2:{start}{LAST_ROW}")
    sheet.add_data_validation(is_date)
    after_start = DataValidation(
        type="custom",
        formula1=f"AND(ISNUMBER({end}2),{end}2>{start}2)",
        showErrorMessage=True,
        errorTitle="End before start",
        error="end_timestamp must be a date and time after start_timestamp.",
    )
    after_start.add(f"{end}2:{end}{LAST_ROW}")
    sheet.add_data_validation(after_start)


def _add_reason_code_list(
    workbook: Workbook, sheet: Worksheet, headers: list[str], reason_codes: Sequence[str]
) -> None:
    lists = workbook.create_sheet(LISTS_SHEET)
    for code in reason_codes:
        lists.append([code])
    lists.sheet_state = "hidden"
    column = get_column_letter(headers.index("reason_code") + 1)
    choice = DataValidation(
        type="list",
        formula1=f"{LISTS_SHEET}!$A$1:$A${len(reason_codes)}",
        showErrorMessage=True,
        errorTitle="Unknown reason code",
        error="Pick a reason code from the list.",
    )
    choice.add(f"{column}2:{column}{LAST_ROW}")
    sheet.add_data_validation(choice)


def rebuild_shipped() -> list[Path]:
    built = [build_downtime_template(template_path("downtime"))]
    built += [build_log_template(kind, TEMPLATE_DIR / name) for kind, name in TEMPLATE_WORKBOOKS.items()]
    return built
