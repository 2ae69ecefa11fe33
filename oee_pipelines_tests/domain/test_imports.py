"""Import validation shared by every kind, shown on sensor logs: every problem with its row number."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.domain.imports import (
    ImportReference,
    TextSheet,
    validate_import,
    validate_sensor_log,
)
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA

HEADER = ["timestamp", "machine_id", "sensor_type", "value", "unit", "quality"]
IMPORT_REFERENCE = ImportReference(
    org_id="demo",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"MACHINE-001", "MACHINE-002"}),
    line_ids=frozenset({"LINE-001"}),
)
GOOD = ["2025-10-05T12:00:00Z", "MACHINE-001", "temperature", "75.5", "degC", "100"]


def reading(**changes: str) -> list[str]:
    row = dict(zip(HEADER, GOOD, strict=True))
    row.update(changes)
    return [row[name] for name in HEADER]


def validate(rows: list[list[str]], header: list[str] = HEADER, **options: object):
    return validate_sensor_log(TextSheet.from_rows(header, rows, "log.csv"), IMPORT_REFERENCE, **options)


def problems(result) -> list[tuple[int, str | None, str]]:
    return [(error.row, error.column, error.reason) for error in result.report.errors]


def test_valid_file_lands_as_telemetry_with_import_source() -> None:
    result = validate([reading(), reading(timestamp="2025-10-05 14:00:01", quality="")])

    assert result.report.errors == []
    assert result.report.status == "SUCCESS"
    assert result.rows.schema == TELEMETRY_SCHEMA
    landed = result.rows.to_pylist()
    assert [row["ts"].isoformat() for row in landed] == [
        "2025-10-05T12:00:00+00:00",
        "2025-10-05T12:00:01+00:00",
    ]
    assert {row["source_system"] for row in landed} == {"import"}
    assert {row["source_ref"] for row in landed} == {"log.csv"}
    assert [row["signal"] for row in landed] == ["temperature", "temperature"]
    assert [row["quality"] for row in landed] == [100, 100]


def test_three_bad_rows_are_all_reported_with_their_row_numbers() -> None:
    rows = [reading(timestamp=f"2025-10-05T12:00:{second:02d}Z") for second in range(8)]
    rows[1] = reading(timestamp="2025-10-05T12:01:00Z", value="seventy")
    rows[4] = reading(timestamp="2025-10-05T12:02:00Z", machine_id="MACHINE-999")
    rows[6] = reading(timestamp="yesterday")

    result = validate(rows)

    assert [(row, column) for row, column, _ in problems(result)] == [
        (3, "value"),
        (6, "machine_id"),
        (8, "timestamp"),
    ]
    assert [error.value for error in result.report.errors] == ["seventy", "MACHINE-999", "yesterday"]
    assert result.report.rows_read == 8
    assert result.report.rows_valid == 5


def test_any_error_lands_nothing_by_default() -> None:
    result = validate([reading(), reading(timestamp="2025-10-05T13:00:00Z", value="x")])

    assert result.rows.num_rows == 0
    assert result.rows.schema == TELEMETRY_SCHEMA
    assert result.rejected is None
    assert result.report.status == "REJECTED"
    assert result.report.rows_rejected == 2


def test_quarantine_lands_valid_rows_and_returns_rejected_rows_with_reasons() -> None:
    rows = [
        reading(),
        reading(timestamp="2025-10-05T13:00:00Z", value="x", quality="120"),
        reading(unit="bar"),
    ]

    result = validate(rows, quarantine_invalid=True)

    assert result.rows.num_rows == 1
    assert result.report.status == "PARTIAL"
    assert result.rejected is not None
    assert result.rejected["row"].tolist() == [3, 4]
    assert result.rejected.loc[0, "value"] == "x"
    assert "value: not a number" in result.rejected.loc[0, "errors"]
    assert "quality: quality must be between 0 and 100" in result.rejected.loc[0, "errors"]
    assert "duplicate of row 2" in result.rejected.loc[1, "errors"]


def test_missing_required_column_is_one_error_on_the_header() -> None:
    header = [name for name in HEADER if name != "value"]
    rows = [[cell for name, cell in zip(HEADER, reading(), strict=True) if name != "value"]] * 3

    result = validate(rows, header=header, quarantine_invalid=True)

    assert problems(result)[0] == (1, "value", "required column is missing")
    assert result.report.errors[0].value is None
    assert [p for p in problems(result) if p[1] == "value"] == [(1, "value", "required column is missing")]
    assert result.rows.num_rows == 0
    assert result.rejected is not None and len(result.rejected) == 3


def test_header_names_match_without_case_or_spacing() -> None:
    header = ["Timestamp", " Machine ID", "sensor-type", "VALUE", "Unit", "quality"]

    assert validate([reading()], header=header).report.errors == []


def test_repeated_header_column_is_reported() -> None:
    header = [*HEADER, "Value"]

    result = validate([[*reading(), "1"]], header=header)

    assert problems(result)[0][:2] == (1, "value")
    assert "more than once" in problems(result)[0][2]


@pytest.mark.parametrize(
    ("cell", "expected_utc"),
    [
        ("2025-10-05T12:00:00Z", "2025-10-05T12:00:00+00:00"),
        ("2025-10-05T14:00:00+02:00", "2025-10-05T12:00:00+00:00"),
        ("2025-10-05 07:00:00-0500", "2025-10-05T12:00:00+00:00"),
        # Naive means plant time: Berlin is UTC+2 in October and UTC+1 in January.
        ("2025-10-05 14:00:00", "2025-10-05T12:00:00+00:00"),
        ("2025-01-05 13:00:00", "2025-01-05T12:00:00+00:00"),
        ("2025-10-05T14:00:00.250", "2025-10-05T12:00:00.250000+00:00"),
    ],
)
def test_timestamps_with_and_without_offset(cell: str, expected_utc: str) -> None:
    result = validate([reading(timestamp=cell)])

    assert result.report.errors == []
    assert result.rows.column("ts")[0].as_py().isoformat() == expected_utc


@pytest.mark.parametrize(
    ("cell", "reason_part"),
    [
        ("05.10.2025 12:00", "not a timestamp"),
        ("2025-13-01 00:00:00", "not a timestamp"),
        ("45935.5", "bare number"),
        # 02:30 does not exist on the night clocks go forward in Berlin.
        ("2025-03-30 02:30:00", "daylight-saving"),
        # 02:30 happens twice on the night clocks go back.
        ("2025-10-26 02:30:00", "daylight-saving"),
    ],
)
def test_bad_timestamps_are_named(cell: str, reason_part: str) -> None:
    result = validate([reading(timestamp=cell)])

    [(row, column, reason)] = problems(result)
    assert (row, column) == (2, "timestamp")
    assert reason_part in reason


def test_excel_serial_numbers_are_dates_only_in_workbooks() -> None:
    rows = [reading(timestamp="45935.5")]
    header_sheet = TextSheet.from_rows(HEADER, rows, "log.xlsx")
    workbook_sheet = TextSheet(
        header_sheet.frame, header_sheet.row_numbers, "log.xlsx", excel_epoch=datetime(1899, 12, 30)
    )

    result = validate_sensor_log(workbook_sheet, IMPORT_REFERENCE)

    # 45935.5 is 2025-10-05 12:00 plant time (Berlin, UTC+2).
    assert result.report.errors == []
    assert result.rows.column("ts")[0].as_py().isoformat() == "2025-10-05T10:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "column", "reason_part"),
    [
        ({"value": "75,5"}, "value", "decimal point"),
        ({"value": "inf"}, "value", "not a number"),
        ({"value": ""}, "value", "required value is missing"),
        ({"quality": "101"}, "quality", "between 0 and 100"),
        ({"quality": "-1"}, "quality", "between 0 and 100"),
        ({"quality": "99.5"}, "quality", "whole number"),
        ({"machine_id": "MACHINE-404"}, "machine_id", "unknown machine"),
        ({"machine_id": " "}, "machine_id", "required value is missing"),
        ({"sensor_type": "machine_state"}, "sensor_type", "downtime"),
    ],
)
def test_each_cell_rule_names_row_column_and_reason(
    changes: dict[str, str], column: str, reason_part: str
) -> None:
    result = validate([reading(), reading(timestamp="2025-10-05T12:05:00Z", **changes)])

    [(row, named_column, reason)] = problems(result)
    assert (row, named_column) == (3, column)
    assert reason_part in reason


def test_quality_bounds_and_blank_quality_are_accepted() -> None:
    rows = [reading(quality="0"), reading(timestamp="2025-10-05T12:00:01Z", quality="100.0")]
    rows.append(reading(timestamp="2025-10-05T12:00:02Z", quality=""))

    result = validate(rows)

    assert result.report.errors == []
    assert result.rows.column("quality").to_pylist() == [0, 100, 100]


def test_duplicates_inside_the_file_name_the_first_row() -> None:
    rows = [reading(), reading(sensor_type="pressure"), reading(), reading(timestamp="2025-10-05 14:00:00")]

    result = validate(rows)

    assert problems(result) == [
        (4, "timestamp", "duplicate of row 2 (same machine_id, sensor_type, timestamp)"),
        (5, "timestamp", "duplicate of row 2 (same machine_id, sensor_type, timestamp)"),
    ]


def test_duplicates_of_data_already_imported() -> None:
    existing = pd.DataFrame(
        {
            "machine_id": ["MACHINE-001"],
            "signal": ["temperature"],
            "ts": [pd.Timestamp("2025-10-05 12:00:00", tz="UTC")],
        }
    )
    rows = [reading(), reading(machine_id="MACHINE-002")]

    result = validate(rows, existing_keys=existing)

    assert problems(result) == [
        (2, "timestamp", "already imported (same machine_id, sensor_type, timestamp)")
    ]


def test_existing_keys_must_hold_the_key_columns() -> None:
    with pytest.raises(ValueError, match="signal"):
        validate([reading()], existing_keys=pd.DataFrame({"machine_id": ["MACHINE-001"]}))


def test_read_errors_from_the_reader_are_reported_and_counted() -> None:
    from oee_pipelines.domain.imports import RowError

    base = TextSheet.from_rows(HEADER, [reading(), reading(timestamp="2025-10-05T12:00:09Z")])
    sheet = TextSheet(
        base.frame,
        pd.Series([2, 4]).to_numpy(),
        "log.csv",
        read_errors=(RowError(3, None, "a,b,c,d,e,f,g", "has 7 fields but the header has 6"),),
    )

    result = validate_sensor_log(sheet, IMPORT_REFERENCE, quarantine_invalid=True)

    assert problems(result) == [(3, None, "has 7 fields but the header has 6")]
    assert result.report.rows_read == 3
    assert result.rows.num_rows == 2
    assert result.rejected is not None and result.rejected["row"].tolist() == [3]


def test_validate_import_dispatches_by_kind() -> None:
    sheet = TextSheet.from_rows(HEADER, [reading()])

    assert isinstance(validate_import("sensor_log", sheet, IMPORT_REFERENCE).rows, pa.Table)
    with pytest.raises(ValueError, match="unknown import kind"):
        validate_import("readings", sheet, IMPORT_REFERENCE)  # type: ignore[arg-type]


def test_error_dicts_have_the_documented_keys() -> None:
    result = validate([reading(value="x")])

    assert result.report.error_dicts() == [
        {
            "row": 2,
            "column": "value",
            "value": "x",
            "reason": "not a number (write digits with '.' as the decimal point, e.g. 75.5)",
        }
    ]


@pytest.mark.parametrize(
    "stamp", ["2025-10-05T12:00:0Z", "2025-10-05T12:00:00.Z", "2025-10-05 12:00:0+01:00", "2025-10-05Z"]
)
def test_a_zone_in_an_unexpected_shape_is_a_bad_cell_and_plain_cells_stay_plant_local(stamp: str) -> None:
    """pandas reads `12:00:0Z` as aware, and then read every plain cell beside it as UTC: the import
    crashed ("Already tz-aware") instead of naming the cell."""
    result = validate([reading(timestamp="2025-10-05 14:00:00"), reading(timestamp=stamp)])

    assert problems(result) == [(3, "timestamp", "not a timestamp; expected a date and time such as "
                                 "2025-10-05 14:30:00 or 2025-10-05T12:30:00Z")]  # fmt: skip
    quarantined = validate(
        [reading(timestamp="2025-10-05 14:00:00"), reading(timestamp=stamp)], quarantine_invalid=True
    )
    # Europe/Berlin is UTC+2 on 5 October: the plain cell is plant-local, not UTC.
    assert [row["ts"].isoformat() for row in quarantined.rows.to_pylist()] == ["2025-10-05T12:00:00+00:00"]


def test_a_header_only_file_with_quarantine_on_reports_nothing_and_lands_nothing() -> None:
    result = validate([], quarantine_invalid=True)

    assert result.report.errors == []
    assert result.rows.num_rows == 0


def test_naive_parsing_never_reads_a_plain_cell_as_utc_whatever_zone_shape_slips_through() -> None:
    """The guard behind the zone patterns: handed a cell with a zone, the naive parse drops that cell
    instead of letting pandas read the whole batch (the plain cells too) as UTC."""
    from oee_pipelines.domain.imports.cells import _naive_datetimes

    parsed = _naive_datetimes(pd.Series(["2025-10-05 14:00:00", "2025-10-05T14:00:00Z", "nonsense"]))

    assert parsed.dtype == "datetime64[ns]"
    assert parsed.iloc[0] == pd.Timestamp("2025-10-05 14:00:00")
    assert parsed.iloc[1:].isna().all()
