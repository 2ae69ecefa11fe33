"""A large CSV validated a slice of rows at a time gives exactly the report of the file read whole:
same problems (rows, columns, values, reasons, order), counts, totals; duplicates found across slices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.connectors.files import read_import_file
from oee_pipelines.connectors.files.csv_reader import read_csv_file_in_slices
from oee_pipelines.domain.imports import SPECS, ImportReference, ImportReport, engine
from oee_pipelines.domain.imports.model import ImportKind

# Small blocks (and so slices of a few rows) on a small file: every boundary case in a few kB.
SLICE_BYTES = 256
REFERENCE = ImportReference(
    org_id="acme",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"MACHINE-A01", "MACHINE-A02"}),
    line_ids=frozenset({"LINE-A1"}),
)
SENSOR_HEADER = "timestamp,machine_id,sensor_type,value,unit,quality\n"


def sensor_rows(count: int, start_minute: int = 0) -> str:
    return "".join(
        f"2025-01-14T{10 + (start_minute + n) // 60:02d}:{(start_minute + n) % 60:02d}:00Z,"
        f"MACHINE-A0{1 + n % 2},temperature,{70 + n % 9}.5,degC,100\n"
        for n in range(count)
    )


MIXED_SENSOR_LOG = (
    SENSOR_HEADER
    + sensor_rows(30)
    # A copy of row 2 far from it (another slice), and copies of it later still.
    + "2025-01-14T10:00:00Z,MACHINE-A01,temperature,1.0,degC,100\n"
    + "2025-01-14T11:00:00Z,MACHINE-Z99,temperature,abc,degC,100\n"
    + ",,,,,\n"
    + "2025-01-14T11:01:00Z,MACHINE-A01,temperature,1.0,degC,100,extra\n"
    + '2025-01-14 12:02:00,MACHINE-A02,pressure,2.0,"bar\nsplit",101\n'
    + "not a time,MACHINE-A01,temperature,3.0,degC,7.5\n"
    + "2025-03-30 02:30:00,MACHINE-A01,temperature,3.0,degC,100\n"
    + sensor_rows(40, start_minute=100)
    + "2025-01-14T10:00:00Z,MACHINE-A01,temperature,9.0,degC,100\n" * 3
    + "2025-01-14T11:59:00Z,MACHINE-A01,machine_state,1,,100\n"
    + "2025-01-14T11:58:00Z,MACHINE-A01\n"
)


def reports(path: Path, kind: ImportKind, **options) -> tuple[ImportReport, ImportReport, int]:
    """The report validating `path` whole, the one validating it in slices, and the slice count."""
    spec = SPECS[kind]
    whole = engine.validate(spec, read_import_file(path), REFERENCE, **options).report
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None
    counted = []

    def counting(sheets):
        for sheet in sheets:
            counted.append(sheet)
            yield sheet

    sliced = engine.validate_in_slices(spec, counting(slices), REFERENCE, **options).report
    return whole, sliced, len(counted)


def assert_same_report(whole: ImportReport, sliced: ImportReport) -> None:
    assert sliced.errors == whole.errors
    assert list(sliced.error_counts.items()) == list(whole.error_counts.items())
    assert (sliced.total_errors, sliced.total_bad_rows) == (whole.total_errors, whole.total_bad_rows)
    assert (sliced.rows_read, sliced.rows_valid) == (whole.rows_read, whole.rows_valid)
    assert sliced.rows_to_land == 0


def test_a_file_with_every_kind_of_problem_reports_the_same_in_slices(tmp_path: Path) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(MIXED_SENSOR_LOG, encoding="utf-8")

    whole, sliced, slice_count = reports(path, "sensor_log")

    assert slice_count > 10
    assert_same_report(whole, sliced)
    # The copies of row 2 are found in later slices, naming row 2.
    duplicates = [error for error in sliced.errors if error.reason.startswith("duplicate of row 2 ")]
    assert [error.row for error in duplicates] == [32, 79, 80, 81]
    assert {error.row for error in sliced.errors if error.column is None} == {35, 83}


@pytest.mark.parametrize("limit", [1, 4, 9])
def test_a_truncated_report_lists_the_same_first_problems(tmp_path: Path, limit: int) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(MIXED_SENSOR_LOG, encoding="utf-8")

    whole, sliced, _ = reports(path, "sensor_log", error_limit=limit)

    assert len(sliced.errors) == limit and sliced.truncated
    assert_same_report(whole, sliced)


def test_keys_already_imported_are_reported_in_every_slice(tmp_path: Path) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(MIXED_SENSOR_LOG, encoding="utf-8")
    existing = pd.DataFrame(
        {
            "machine_id": ["MACHINE-A02", "MACHINE-A01"],
            "signal": ["temperature", "temperature"],
            "ts": pd.to_datetime(["2025-01-14T10:01:00Z", "2025-01-14T11:50:00Z"], utc=True),
        }
    )

    whole, sliced, _ = reports(path, "sensor_log", existing_keys=existing)

    assert_same_report(whole, sliced)
    already = [error.row for error in sliced.errors if error.reason.startswith("already imported")]
    assert already == [3, 49]


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,machine_id,sensor_type,unit,quality,extra\n",
        "timestamp,machine_id,sensor_type,value,Machine ID,quality\n",
    ],
    ids=["required column missing", "column twice"],
)
def test_a_header_problem_is_reported_once_and_rejects_every_row(tmp_path: Path, header: str) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(header + sensor_rows(40), encoding="utf-8")

    whole, sliced, slice_count = reports(path, "sensor_log")

    assert slice_count > 3
    assert_same_report(whole, sliced)
    assert sliced.total_bad_rows == 40
    assert [error.row for error in sliced.errors].count(1) == 1 and sliced.errors[0].row == 1


def test_a_production_count_reports_the_same_in_slices(tmp_path: Path) -> None:
    rows = "".join(
        f"MACHINE-A0{1 + n % 2},2025-01-14T{10 + n // 60:02d}:{n % 60:02d}:00Z,{n},-1\n" for n in range(30)
    )
    path = tmp_path / "production_count.csv"
    repeated = rows.splitlines(keepends=True)[0]
    path.write_text("machine_id,period_end,pieces_good,pieces_rejected\n" + rows + repeated, encoding="utf-8")

    whole, sliced, slice_count = reports(path, "production_count")

    assert slice_count > 3 and sliced.total_bad_rows == 31
    assert_same_report(whole, sliced)


@pytest.mark.parametrize("kind", ["sensor_log", "production_count"])
def test_a_good_file_lands_the_same_rows_from_its_slices(tmp_path: Path, kind: ImportKind) -> None:
    path = tmp_path / f"{kind}.csv"
    if kind == "sensor_log":
        path.write_text(SENSOR_HEADER + sensor_rows(60), encoding="utf-8")
    else:  # out of order, so the landing's sort spans slices
        rows = [
            f"MACHINE-A0{1 + n % 2},2025-01-14T{10 + n // 60:02d}:{n % 60:02d}:00Z,{n},1\n" for n in range(60)
        ]
        path.write_text(
            "machine_id,timestamp,pieces_good,pieces_rejected\n" + "".join(rows[::-1]), encoding="utf-8"
        )
    spec = SPECS[kind]
    whole = engine.validate(spec, read_import_file(path), REFERENCE, land_valid_rows=True, ingest_run_id="r")
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None

    sliced = engine.validate_in_slices(spec, slices, REFERENCE, keep_valid_rows=True, ingest_run_id="r")

    assert sliced.report == whole.report and sliced.report.rows_to_land == 60
    assert sliced.rows.num_rows == whole.rows.num_rows > 0
    assert sliced.rows.equals(whole.rows)


def test_a_file_with_a_bad_row_keeps_no_rows_to_land(tmp_path: Path) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(
        SENSOR_HEADER + sensor_rows(40) + "bad,MACHINE-A01,temperature,1,degC,100\n", encoding="utf-8"
    )
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None

    sliced = engine.validate_in_slices(SPECS["sensor_log"], slices, REFERENCE, keep_valid_rows=True)

    assert (sliced.report.rows_valid, sliced.report.rows_to_land, sliced.rows.num_rows) == (40, 0, 0)


def test_a_header_only_file_is_one_empty_slice(tmp_path: Path) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(SENSOR_HEADER, encoding="utf-8")

    whole, sliced, slice_count = reports(path, "sensor_log")

    assert slice_count == 1 and sliced.rows_read == 0
    assert_same_report(whole, sliced)


def test_small_or_undecodable_files_are_left_to_the_whole_reader(tmp_path: Path) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(SENSOR_HEADER + sensor_rows(3), encoding="utf-8")
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(
        (SENSOR_HEADER + "2025-01-14T10:00:00Z,MACHINE-A01,température,1,°C,100\n").encode("cp1252")
    )

    assert read_csv_file_in_slices(path, path.name) is None  # under the size to slice
    assert read_csv_file_in_slices(legacy, legacy.name, "cp1252", from_bytes=0) is None


def test_kinds_checked_across_rows_need_their_overlaps_found_first(tmp_path: Path) -> None:
    path = tmp_path / "state.csv"
    path.write_text("machine_id,start,end,state\n", encoding="utf-8")
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0)
    assert slices is not None

    with pytest.raises(ValueError, match="machine_state_log rows are checked against each other"):
        engine.validate_in_slices(SPECS["machine_state_log"], slices, REFERENCE)
    # With them (none in a file of only a header) it is validated like any other kind.
    again = read_csv_file_in_slices(path, path.name, from_bytes=0)
    assert again is not None
    overlaps = engine.find_overlaps(SPECS["machine_state_log"], [], REFERENCE)
    with_codes = replace(
        REFERENCE, reason_codes=pd.DataFrame(columns=["code", "is_planned", "loss_category"])
    )
    report = engine.validate_in_slices(
        SPECS["machine_state_log"], again, with_codes, overlaps=overlaps
    ).report
    assert (report.rows_read, report.errors) == (0, [])
