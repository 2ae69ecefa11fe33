"""Enrichment: every reading gets the context active on its line at its timestamp."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.enrichment import build_context, enrich_telemetry
from oee_pipelines_tests.support.telemetry_rows import counter, utc


def context():
    schedules = pd.DataFrame(
        {
            "external_id": ["S-1", "S-2", "S-X"],
            "line_id": "L1",
            "work_order_id": ["WO-1", "WO-2", "WO-3"],
            "product_id": [None, "PROD-2", "PROD-3"],
            "recipe_id": [None, "RCP-2", "RCP-2"],
            "planned_start": [utc("2025-01-06 06:00"), utc("2025-01-06 09:00"), utc("2025-01-06 09:30")],
            "planned_end": [utc("2025-01-06 12:00"), utc("2025-01-06 10:00"), utc("2025-01-06 11:00")],
            "planned_quantity": [500, 100, 999],
            "status": ["in_progress", "scheduled", "cancelled"],
        }
    )
    work_orders = pd.DataFrame(
        {
            "id": ["WO-1", "WO-2"],
            "wo_number": ["000001", "000002"],
            "product_id": ["PROD-1", "PROD-2"],
            "recipe_id": ["RCP-1", "RCP-2"],
        }
    )
    recipes = pd.DataFrame(
        {
            "id": ["RCP-1", "RCP-2"],
            "product_id": ["PROD-1", "PROD-2"],
            "version": ["1.0", "2.1"],
            "ideal_cycle_time_s": [30.0, 20.0],
            "target_cycle_time_s": [33.0, 22.0],
        }
    )
    line_shifts = pd.DataFrame(
        {
            "line_id": "L1",
            "shift_id": ["SHIFT-1"],
            "shift_number": [1],
            "shift_date": [pd.Timestamp("2025-01-06").date()],
            "start": [utc("2025-01-06 06:00")],
            "end": [utc("2025-01-06 14:00")],
        }
    )
    operator_shifts = pd.DataFrame(
        {
            "line_id": "L1",
            "shift_id": "SHIFT-1",
            "operator_id": ["OP-2", "OP-1"],
            "role": ["supervisor", "operator"],
            "start_time": utc("2025-01-06 06:00"),
            "end_time": utc("2025-01-06 14:00"),
        }
    )
    machines = pd.DataFrame({"id": ["M1", "M9"], "line_id": ["L1", "L9"]})
    return build_context(
        schedules=schedules,
        work_orders=work_orders,
        recipes=recipes,
        line_shifts=line_shifts,
        operator_shifts=operator_shifts,
        machines=machines,
    )


def readings(
    *stamps: str, machine: str = "M1", line: str | None = "L1", signal: str = "temperature"
) -> pd.DataFrame:
    rows = [counter(machine, ts, 1, signal=signal) for ts in stamps]
    frame = pd.DataFrame(rows).assign(site_id="SITE-01", line_id=line, unit=None, ingest_run_id="run")
    return frame


def test_each_reading_gets_the_context_as_of_its_timestamp() -> None:
    result = enrich_telemetry(readings("2025-01-06 08:00", "2025-01-06 09:30", "2025-01-06 10:00"), context())
    table = result.table.to_pandas()
    assert list(table["work_order_id"]) == ["WO-1", "WO-2", "WO-1"]
    assert list(table["wo_number"]) == ["000001", "000002", "000001"]
    # Product and recipe fall back to the work order's when the schedule leaves them empty.
    assert list(table["product_id"]) == ["PROD-1", "PROD-2", "PROD-1"]
    assert list(table["recipe_version"]) == ["1.0", "2.1", "1.0"]
    assert list(table["ideal_cycle_time_s"]) == [30.0, 20.0, 30.0]
    assert list(table["target_cycle_time_s"]) == [33.0, 22.0, 33.0]
    assert list(table["planned_quantity"]) == [500, 100, 500]
    assert list(table["schedule_status"]) == ["in_progress", "scheduled", "in_progress"]
    assert set(table["shift_id"]) == {"SHIFT-1"} and set(table["shift_number"]) == {1}
    assert set(table["operator_id"]) == {"OP-1,OP-2"} and set(table["operator_role"]) == {
        "operator,supervisor"
    }
    assert result.context_share == 1.0


def test_a_counter_increment_takes_the_context_of_the_instant_before_its_timestamp() -> None:
    # pieces at 10:00 were made in (09:59, 10:00]: still WO-2 (09:00-10:00), not WO-1; at 12:00 still WO-1.
    result = enrich_telemetry(
        readings("2025-01-06 10:00", "2025-01-06 12:00", signal="pieces_good"), context()
    )
    table = result.table.to_pandas()
    assert list(table["work_order_id"]) == ["WO-2", "WO-1"]
    assert list(table["ideal_cycle_time_s"]) == [20.0, 30.0]


def test_readings_outside_a_schedule_have_no_schedule_context_and_do_not_count_in_the_share() -> None:
    result = enrich_telemetry(readings("2025-01-06 05:00", "2025-01-06 12:00", "2025-01-06 13:00"), context())
    table = result.table.to_pandas()
    assert table["work_order_id"].isna().all()
    assert list(table["shift_id"].isna()) == [True, False, False]
    assert (result.readings, result.readings_in_schedule, result.context_share) == (3, 0, None)


def test_share_counts_readings_in_a_schedule_without_full_context() -> None:
    # M9's line has a schedule-less, shift-less context: its readings are outside any schedule.
    frame = pd.concat(
        [readings("2025-01-06 08:00"), readings("2025-01-06 08:00", machine="M9", line="L9")],
        ignore_index=True,
    )
    ctx = context()
    ctx.operators.drop(ctx.operators.index, inplace=True)
    result = enrich_telemetry(frame, ctx)
    assert (result.readings_in_schedule, result.readings_in_schedule_with_context) == (1, 0)
    assert result.context_share == 0.0


def test_a_reading_without_line_takes_its_machines_line_and_arrow_input_is_accepted() -> None:
    from oee_pipelines.domain.telemetry import to_telemetry_table

    table = to_telemetry_table(readings("2025-01-06 08:00", line=None))
    result = enrich_telemetry(table, context())
    assert isinstance(result.table, pa.Table)
    assert result.table.column("work_order_id").to_pylist() == ["WO-1"]
    assert result.table.num_rows == 1 and result.table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
