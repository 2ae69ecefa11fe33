"""The shipped templates: where they are, what they hold, and that they import cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from oee_pipelines.connectors.files import build_downtime_template, read_import_file, template_path
from oee_pipelines.domain.imports import IMPORT_KINDS, SPECS, ImportReference, validate_import


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_each_template_imports_cleanly_against_the_demo_plant(
    kind: str, demo_reference: ImportReference
) -> None:
    path = template_path(kind)  # type: ignore[arg-type]
    sheet = read_import_file(path)

    result = validate_import(kind, sheet, demo_reference)  # type: ignore[arg-type]

    assert list(sheet.frame.columns) == SPECS[kind].column_names  # type: ignore[index]
    assert result.report.errors == []
    assert result.report.rows_to_land == len(sheet.frame) > 0


def test_template_file_names() -> None:
    assert template_path("sensor_log").name == "sensor_log_template.csv"
    assert template_path("downtime").name == "downtime_import_template.xlsx"
    assert template_path("schedule").name == "schedule_import_template.csv"
    with pytest.raises(ValueError, match="unknown import kind"):
        template_path("recipes")  # type: ignore[arg-type]


def test_schedule_template_matches_the_production_schedules_table() -> None:
    table_sql = (Path(__file__).parents[3] / "sql" / "001_foundation.sql").read_text()
    block = table_sql.split("CREATE TABLE IF NOT EXISTS production_schedules (")[1].split(");")[0]
    table_columns = {line.split()[0] for line in block.strip().splitlines() if line.strip()}

    assert set(SPECS["schedule"].column_names) <= table_columns


def test_shipped_downtime_workbook_is_styled_and_checked() -> None:
    workbook = load_workbook(template_path("downtime"))
    sheet = workbook["downtime"]

    assert [cell.value for cell in sheet[1]] == SPECS["downtime"].column_names
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width > 16
    assert sheet.column_dimensions["A"].number_format == "yyyy-mm-dd hh:mm:ss"
    kinds = {validation.type: str(validation.sqref) for validation in sheet.data_validations.dataValidation}
    assert kinds == {"date": "A2:A1048576", "custom": "B2:B1048576"}


def test_shipped_workbook_matches_the_builder(tmp_path: Path) -> None:
    built = load_workbook(build_downtime_template(tmp_path / "built.xlsx"))["downtime"]
    shipped = load_workbook(template_path("downtime"))["downtime"]

    assert [[c.value for c in row] for row in built.iter_rows()] == [
        [c.value for c in row] for row in shipped.iter_rows()
    ]
    assert len(built.data_validations.dataValidation) == len(shipped.data_validations.dataValidation)


def test_downtime_template_with_reason_codes_offers_a_list(tmp_path: Path) -> None:
    path = build_downtime_template(tmp_path / "org.xlsx", reason_codes=["BREAK", "BRK-MECH", "JAM"])

    workbook = load_workbook(path)
    [choice] = [v for v in workbook["downtime"].data_validations.dataValidation if v.type == "list"]
    assert choice.formula1 == "reason_codes!$A$1:$A$3"
    assert str(choice.sqref) == "E2:E1048576"
    assert workbook["reason_codes"].sheet_state == "hidden"
    assert [row[0] for row in workbook["reason_codes"].iter_rows(values_only=True)] == [
        "BREAK",
        "BRK-MECH",
        "JAM",
    ]
    assert workbook.sheetnames[0] == "downtime"
