"""Bounded import reports: the first 1,000 problems listed, every problem counted by kind, nothing lands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.imports import ImportReference, TextSheet, validate_sensor_log
from oee_pipelines.domain.imports.cells import Problems
from oee_pipelines.domain.imports.engine import MAX_REPORTED_ERRORS
from oee_pipelines_tests.support.import_files import sensor_log_with_bad_rows

REFERENCE = ImportReference(
    org_id="acme",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"MACHINE-A01"}),
    line_ids=frozenset({"LINE-A1"}),
)
DUPLICATE = "timestamp: duplicate row (same machine_id, sensor_type, timestamp)"
UNKNOWN_MACHINE = "machine_id: unknown machine"


def sheet_with_bad_rows(duplicates: int, unknown: int) -> TextSheet:
    lines = sensor_log_with_bad_rows(duplicates, unknown).splitlines()
    return TextSheet.from_rows(lines[0].split(","), [line.split(",") for line in lines[1:]], "log.csv")


def test_five_thousand_bad_rows_list_the_first_thousand_and_count_all() -> None:
    result = validate_sensor_log(sheet_with_bad_rows(3_000, 2_000), REFERENCE)
    report = result.report

    assert len(report.errors) == MAX_REPORTED_ERRORS == 1_000
    assert report.truncated
    # The first in file order: rows 3.. (row 2 is the good row every duplicate repeats).
    assert [error.row for error in report.errors] == list(range(3, 1_003))
    assert report.errors[0].reason == "duplicate of row 2 (same machine_id, sensor_type, timestamp)"
    assert (report.errors[3].column, report.errors[3].value) == ("machine_id", "MACHINE-Z99")
    assert report.error_counts == {DUPLICATE: 3_000, UNKNOWN_MACHINE: 2_000}
    assert sum(report.error_counts.values()) == report.total_errors == 5_000
    assert report.total_bad_rows == 5_000
    assert (report.rows_read, report.rows_to_land, report.status) == (5_001, 0, "REJECTED")
    assert result.rows.num_rows == 0


def test_a_small_file_is_listed_whole() -> None:
    report = validate_sensor_log(sheet_with_bad_rows(2, 1), REFERENCE).report

    assert [error.row for error in report.errors] == [3, 4, 5]
    assert not report.truncated
    assert report.error_counts == {DUPLICATE: 2, UNKNOWN_MACHINE: 1}


def test_the_quarantine_still_gives_every_rejected_row_its_reasons() -> None:
    result = validate_sensor_log(sheet_with_bad_rows(1_500, 1_000), REFERENCE, quarantine_invalid=True)

    assert result.rejected is not None and len(result.rejected) == 2_500
    assert result.rejected["errors"].notna().all()
    assert result.rejected["errors"].iloc[-1] == "machine_id: unknown machine"
    assert len(result.report.errors) == 1_000 and result.report.rows_to_land == 1


def test_row_numbers_inside_reasons_do_not_make_new_kinds() -> None:
    problems = Problems(np.array([2, 3, 4]), ["start"])
    raw = pd.Series(["a", "b", "c"])
    reasons = pd.Series(
        [
            None,
            "overlaps the state of the same machine in row 2",
            "overlaps the state of the same machine in row 3",
        ]
    )
    problems.add(reasons.notna().to_numpy(), "start", raw, reasons)

    summary = problems.summary(limit=1)

    assert summary.counts_by_kind == {"start: overlaps the state of the same machine in row N": 2}
    assert [(error.row, error.value, error.reason) for error in summary.first] == [
        (3, "b", "overlaps the state of the same machine in row 2")
    ]
