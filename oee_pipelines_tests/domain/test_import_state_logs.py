"""Machine-state logs and production counts: every bad row named, and what lands as telemetry."""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.imports import ImportReference, TextSheet, validate_import
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA

REFERENCE = ImportReference(
    org_id="acme",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"M1", "M2"}),
    line_ids=frozenset({"L1"}),
    reason_codes=pd.DataFrame(
        {
            "code": ["BRK-MECH", "BREAK"],
            "is_planned": [False, True],
            "loss_category": ["breakdowns", "planned_stop"],
        }
    ),
)
STATE_HEADER = ["machine_id", "start", "end", "state", "reason_code"]
COUNT_HEADER = ["machine_id", "timestamp", "pieces_good", "pieces_rejected"]


def states(rows: list[list[str | None]], header: list[str] = STATE_HEADER):
    return validate_import("machine_state_log", TextSheet.from_rows(header, rows, "states.csv"), REFERENCE)


def piece_counts(rows: list[list[str | None]], header: list[str] = COUNT_HEADER):
    return validate_import("production_count", TextSheet.from_rows(header, rows, "counts.csv"), REFERENCE)


def problems(result) -> list[tuple[int, str | None, str]]:
    return [(error.row, error.column, error.reason) for error in result.report.errors]


def test_every_bad_state_row_is_named_and_nothing_lands() -> None:
    result = states(
        [
            ["M1", "2025-01-15T06:00:00Z", "2025-01-15T08:00:00Z", "RUNNING", None],  # row 2: good
            ["M9", "2025-01-15T06:00:00Z", "2025-01-15T07:00:00Z", "RUNNING", None],  # unknown machine
            ["M2", "2025-01-15T09:00:00Z", "2025-01-15T08:00:00Z", "RUNNING", None],  # end before start
            ["M1", "2025-01-15T07:30:00Z", "2025-01-15T09:00:00Z", "STOPPED", "BRK-MECH"],  # overlaps row 2
            ["M2", "2025-01-15T10:00:00Z", None, "STOPPED", "JAM"],  # unknown reason code
            ["M2", "2025-01-15T11:00:00Z", None, "Jammed", None],  # unknown state, no code
            ["M2", "2025-01-15T12:00:00Z", None, None, None],  # neither
            ["M2", "2025-01-15T13:00:00Z", None, "running", "BRK-MECH"],  # running with a code
        ]
    )

    assert problems(result) == [
        (3, "machine_id", "unknown machine"),
        (4, "end", "must be after start"),
        (5, "start", "overlaps the state of the same machine in row 2"),
        (6, "reason_code", "unknown reason code (codes are case-sensitive)"),
        (7, "state", "unknown state (write RUNNING, or a stop's reason code from the reason-code table)"),
        (8, "state", "write RUNNING in state, or the stop's reason code in reason_code"),
        (9, "reason_code", "a RUNNING row has no reason code"),
    ]
    assert result.report.status == "REJECTED" and result.report.rows_to_land == 0
    assert result.rows.num_rows == 0


def test_a_state_lands_as_its_change_repeated_every_minute_and_an_end_mark() -> None:
    result = states(
        [
            ["M1", "2025-01-15T06:00:30Z", "2025-01-15T06:03:00Z", "running", None],
            ["M1", "2025-01-15T06:03:00Z", "2025-01-15T06:05:00Z", "BRK-MECH", None],  # the state is the code
            ["M1", "2025-01-15T06:10:00Z", None, "STOPPED", "BREAK"],  # after a gap; the last row
        ]
    )

    assert result.report.errors == [] and result.report.rows_to_land == 3
    assert result.rows.schema == TELEMETRY_SCHEMA
    landed = [
        (row["ts"].strftime("%H:%M:%S"), row["value"], row["text_value"]) for row in result.rows.to_pylist()
    ]
    assert landed == [
        ("06:00:30", 1.0, "RUNNING"),
        ("06:01:00", 1.0, "RUNNING"),
        ("06:02:00", 1.0, "RUNNING"),
        ("06:03:00", 0.0, "BRK-MECH"),  # the next state starts at the end: no end mark
        ("06:04:00", 0.0, "BRK-MECH"),
        ("06:05:00", 0.0, "BRK-MECH"),  # end mark: the time after it is unknown until 06:10
        ("06:10:00", 0.0, "BREAK"),
    ]
    assert {row["signal"] for row in result.rows.to_pylist()} == {"machine_state"}
    assert {row["source_system"] for row in result.rows.to_pylist()} == {"import"}


def test_a_timestamp_only_log_lasts_until_the_next_row() -> None:
    result = states(
        [["M2", "2025-01-15 07:00:00", "RUNNING"], ["M2", "2025-01-15 07:02:00", "BREAK"]],
        header=["machine_id", "timestamp", "state"],
    )

    assert result.report.errors == []
    assert [(row["ts"].strftime("%H:%M"), row["text_value"]) for row in result.rows.to_pylist()] == [
        ("06:00", "RUNNING"),  # Berlin local time, UTC+1 in January
        ("06:01", "RUNNING"),
        ("06:02", "BREAK"),
    ]


def test_counts_land_as_increments_and_bad_rows_are_named() -> None:
    good = piece_counts(
        [["M1", "2025-01-15T06:15:00Z", "540", "6"], ["M2", "2025-01-15T06:15:00Z", "12", ""]]
    )

    assert good.report.errors == [] and good.report.rows_to_land == 2
    assert [(row["machine_id"], row["signal"], row["value"]) for row in good.rows.to_pylist()] == [
        ("M1", "pieces_good", 540.0),
        ("M1", "pieces_rejected", 6.0),
        ("M2", "pieces_good", 12.0),
        ("M2", "pieces_rejected", 0.0),
    ]

    bad = piece_counts(
        [
            ["M9", "2025-01-15T06:15:00Z", "1", "0"],
            ["M1", "2025-01-15T06:15:00Z", "-5", "0"],
            ["M1", "2025-01-15T06:30:00Z", "5", "-1"],
            ["M1", "2025-01-15T06:30:00Z", "5", "0"],
            ["M1", "2025-01-15T06:45:00Z", "2.5", "0"],
        ]
    )
    assert problems(bad) == [
        (2, "machine_id", "unknown machine"),
        (3, "pieces_good", "must not be negative"),
        (4, "pieces_rejected", "must not be negative"),
        (5, "timestamp", "duplicate of row 4 (same machine_id, timestamp)"),
        (6, "pieces_good", "not a whole number"),
    ]
    assert bad.report.rows_to_land == 0
