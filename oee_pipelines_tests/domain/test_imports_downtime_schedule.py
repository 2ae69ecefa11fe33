"""Downtime and schedule imports: their own rules and the columns they land in."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.domain.imports import (
    DOWNTIME_COLUMNS,
    SCHEDULE_COLUMNS,
    ImportReference,
    TextSheet,
    validate_downtime,
    validate_schedule,
)

CODES = pd.DataFrame(
    {
        "code": ["BREAK", "BRK-MECH"],
        "is_planned": [True, False],
        "loss_category": ["planned_stop", "breakdowns"],
    }
)
PLANT = ImportReference(
    org_id="demo",
    plant_timezone="UTC",
    machine_ids=frozenset({"MACHINE-001", "MACHINE-002"}),
    line_ids=frozenset({"LINE-001"}),
    reason_codes=CODES,
    product_ids=frozenset({"PROD-001"}),
    work_order_ids=frozenset({"WO-000001"}),
)
STOP_HEADER = [
    "start_timestamp",
    "end_timestamp",
    "machine_id",
    "line_id",
    "reason_code",
    "description",
    "operator_id",
]
PLAN_HEADER = [
    "external_id",
    "line_id",
    "work_order_id",
    "product_id",
    "planned_start",
    "planned_end",
    "planned_quantity",
    "status",
]


def stop(
    start: str, end: str, machine: str = "MACHINE-001", code: str = "BRK-MECH", line: str = ""
) -> list[str]:
    return [start, end, machine, line, code, "belt torn", "OP-001"]


def plan(external_id: str, start: str, end: str, quantity: str = "100", **changes: str) -> list[str]:
    row = {
        "external_id": external_id,
        "line_id": "LINE-001",
        "work_order_id": "",
        "product_id": "PROD-001",
        "planned_start": start,
        "planned_end": end,
        "planned_quantity": quantity,
        "status": "",
    }
    row.update(changes)
    return [row[name] for name in PLAN_HEADER]


def problems(result) -> list[tuple[int, str | None, str]]:
    return [(error.row, error.column, error.reason) for error in result.report.errors]


def stops(rows: list[list[str]], **options: object):
    return validate_downtime(TextSheet.from_rows(STOP_HEADER, rows, "stops.xlsx"), PLANT, **options)


def plans(rows: list[list[str]], **options: object):
    return validate_schedule(TextSheet.from_rows(PLAN_HEADER, rows, "plan.csv"), PLANT, **options)


def test_downtime_lands_with_duration_and_planned_flag_from_reason_codes() -> None:
    result = stops(
        [
            stop("2025-10-06 08:00:00", "2025-10-06 08:30:00", code="BREAK", line="LINE-001"),
            stop("2025-10-06 09:00:00", "2025-10-06 09:00:45"),
        ]
    )

    assert result.report.errors == []
    rows = result.rows
    assert list(rows.columns) == DOWNTIME_COLUMNS
    assert rows["duration_minutes"].tolist() == [30.0, 0.75]
    assert rows["is_planned"].tolist() == [True, False]
    assert rows["loss_category"].tolist() == ["planned_stop", "breakdowns"]
    assert rows["line_id"].iloc[0] == "LINE-001"
    assert rows["line_id"].isna().tolist() == [False, True]
    assert set(rows["source_system"]) == {"import"}
    assert set(rows["source_ref"]) == {"stops.xlsx"}
    assert rows["start_time"].iloc[0] == pd.Timestamp("2025-10-06 08:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("row", "column", "reason_part"),
    [
        (stop("2025-10-06 09:00:00", "2025-10-06 08:00:00"), "end_timestamp", "after start_timestamp"),
        (stop("2025-10-06 09:00:00", "2025-10-06 09:00:00"), "end_timestamp", "after start_timestamp"),
        (
            stop("2025-10-06 09:00:00", "2025-10-06 09:10:00", code="brk-mech"),
            "reason_code",
            "unknown reason",
        ),
        (stop("2025-10-06 09:00:00", "2025-10-06 09:10:00", machine="M1"), "machine_id", "unknown machine"),
        (stop("2025-10-06 09:00:00", "2025-10-06 09:10:00", line="LINE-9"), "line_id", "unknown line"),
        (stop("2025-10-06 09:00:00", ""), "end_timestamp", "required value is missing"),
    ],
)
def test_downtime_rules(row: list[str], column: str, reason_part: str) -> None:
    result = stops([row])

    [(row_number, named, reason)] = problems(result)
    assert (row_number, named) == (2, column)
    assert reason_part in reason


def test_overlapping_stops_of_one_machine_are_refused() -> None:
    result = stops(
        [
            stop("2025-10-06 08:00:00", "2025-10-06 09:00:00"),
            stop("2025-10-06 08:30:00", "2025-10-06 08:40:00", machine="MACHINE-002"),
            stop("2025-10-06 08:59:00", "2025-10-06 09:30:00"),
            stop("2025-10-06 09:30:00", "2025-10-06 09:40:00"),
        ]
    )

    assert problems(result) == [(4, "start_timestamp", "overlaps the stop of the same machine in row 2")]


def test_downtime_duplicates_against_existing_stops() -> None:
    existing = pd.DataFrame({"machine_id": ["MACHINE-001"], "start_time": ["2025-10-06T08:00:00Z"]})

    result = stops([stop("2025-10-06 08:00:00", "2025-10-06 08:10:00")], existing_keys=existing)

    assert problems(result) == [(2, "start_timestamp", "already imported (same machine_id, start_timestamp)")]


def test_downtime_needs_the_reason_code_table() -> None:
    plant_without_codes = ImportReference("demo", "UTC", PLANT.machine_ids, PLANT.line_ids)
    sheet = TextSheet.from_rows(STOP_HEADER, [stop("2025-10-06 08:00:00", "2025-10-06 08:10:00")])

    with pytest.raises(ValueError, match="reason-code table"):
        validate_downtime(sheet, plant_without_codes)


def test_schedule_lands_in_production_schedules_columns() -> None:
    result = plans(
        [
            plan("SCH-1", "2025-10-06 06:00:00", "2025-10-06 14:00:00", "12000", work_order_id="WO-000001"),
            plan("SCH-2", "2025-10-06T14:00:00Z", "2025-10-06T22:00:00Z", "0", status="released"),
        ]
    )

    assert result.report.errors == []
    rows = result.rows
    assert list(rows.columns) == SCHEDULE_COLUMNS
    assert rows["planned_quantity"].tolist() == [12000, 0]
    assert rows["status"].tolist() == ["scheduled", "released"]
    assert rows["recipe_id"].isna().all()
    assert rows["planned_end"].iloc[1] == pd.Timestamp("2025-10-06 22:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("row", "column", "reason_part"),
    [
        (plan("S", "2025-10-06 14:00", "2025-10-06 06:00"), "planned_end", "after planned_start"),
        (plan("S", "2025-10-06 06:00", "2025-10-06 14:00", "-5"), "planned_quantity", "negative"),
        (plan("S", "2025-10-06 06:00", "2025-10-06 14:00", "12.5"), "planned_quantity", "whole number"),
        (plan("S", "2025-10-06 06:00", "2025-10-06 14:00", line_id="LINE-404"), "line_id", "unknown line"),
        (
            plan("S", "2025-10-06 06:00", "2025-10-06 14:00", product_id="PROD-9"),
            "product_id",
            "unknown product",
        ),
        (
            plan("S", "2025-10-06 06:00", "2025-10-06 14:00", work_order_id="WO-9"),
            "work_order_id",
            "unknown work order",
        ),
        (plan("", "2025-10-06 06:00", "2025-10-06 14:00"), "external_id", "required value is missing"),
    ],
)
def test_schedule_rules(row: list[str], column: str, reason_part: str) -> None:
    [(row_number, named, reason)] = problems(plans([row]))

    assert (row_number, named) == (2, column)
    assert reason_part in reason


def test_schedule_external_ids_must_be_unique() -> None:
    result = plans(
        [
            plan("SCH-1", "2025-10-06 06:00", "2025-10-06 14:00"),
            plan("SCH-1", "2025-10-07 06:00", "2025-10-07 14:00"),
        ]
    )

    assert problems(result) == [(3, "external_id", "duplicate of row 2 (same external_id)")]
