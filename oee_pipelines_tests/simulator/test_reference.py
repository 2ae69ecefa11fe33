"""Reference frames: their columns are the warehouse's, so they load into it as they are."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.storage.bulk_load import copy_arrow, table_column_types

WEEK = ("2025-01-13", "2025-01-20")

# (warehouse table, how to get the frame), in foreign-key order.
FRAMES = [
    ("organizations", lambda p: p.organizations()),
    ("sites", lambda p: p.sites()),
    ("production_lines", lambda p: p.lines()),
    ("machines", lambda p: p.machines()),
    ("shifts", lambda p: p.shifts()),
    ("shift_breaks", lambda p: p.shift_breaks()),
    ("operators", lambda p: p.operators()),
    ("products", lambda p: p.products()),
    ("recipes", lambda p: p.recipes()),
    ("reason_codes", lambda p: p.reason_codes()),
    ("materials", lambda p: p.materials()),
    ("work_orders", lambda p: p.work_orders(*WEEK, as_of="2025-01-15 12:00")),
    ("production_schedules", lambda p: p.schedules(*WEEK)),
    ("operator_shifts", lambda p: p.operator_shifts(*WEEK)),
    ("labor_costs", lambda p: p.labor_costs(*WEEK)),
    ("iot_sensors", lambda p: p.iot_sensors()),
    ("historian_tag_mappings", lambda p: p.historian_tag_mappings()),
    ("sensor_range_config", lambda p: p.sensor_range_config()),
]


def test_every_frame_loads_into_its_warehouse_table(plant: SimulatedPlant, clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        for table, frame_of in FRAMES:
            frame = frame_of(plant)
            assert len(frame) > 0, table
            assert set(frame.columns) <= set(table_column_types(conn, table)), table
            with conn.transaction():
                copy_arrow(conn, table, pa.Table.from_pandas(frame, preserve_index=False))
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count is not None and count[0] == len(frame), table
        shift = conn.execute(
            "SELECT start_time::text, end_time::text, weekdays FROM shifts WHERE id = 'SHIFT-3'"
        ).fetchone()
        assert shift == ("22:00:00", "06:00:00", [1, 2, 3, 4, 5])


def test_reason_codes_cover_the_six_big_losses(plant: SimulatedPlant) -> None:
    codes = plant.reason_codes().set_index("code")
    assert "RUNNING" not in codes.index
    assert set(codes["loss_category"]) == {
        "breakdowns",
        "setup_adjustments",
        "small_stops",
        "reduced_speed",
        "startup_rejects",
        "production_rejects",
        "planned_stop",
    }
    planned = set(codes.index[codes["is_planned"]])
    assert {"BREAK", "CHANGEOVER", "PLANNED-MAINT", "OFF-SHIFT"} <= planned
    assert not planned & {"BRK-MECH", "BRK-ELEC", "STARVED", "ADJUST", "JAM"}


def test_sites_shifts_and_breaks(plant: SimulatedPlant) -> None:
    assert plant.sites()[["id", "timezone"]].values.tolist() == [
        ["SITE-01", "Europe/Berlin"],
        ["SITE-02", "America/Chicago"],
    ]
    shifts = plant.shifts()
    assert shifts["id"].tolist() == [f"SHIFT-{n}" for n in range(1, 7)]
    assert shifts["shift_number"].tolist() == [1, 2, 3, 1, 2, 3]
    assert (plant.shift_breaks()["duration_minutes"] == 30).all()


def test_operator_shifts_follow_local_time(plant: SimulatedPlant) -> None:
    rows = plant.operator_shifts("2025-01-15", "2025-01-16")
    chicago_early = rows[(rows["shift_id"] == "SHIFT-4") & (rows["shift_date"].astype(str) == "2025-01-15")]
    assert set(chicago_early["start_time"].astype(str)) == {"2025-01-15 12:00:00+00:00"}  # 06:00 CST
    assert (
        chicago_early.groupby("line_id")["role"]
        .apply(set)
        .map(lambda r: r == {"shift_lead", "machine_operator"})
        .all()
    )
    summer = plant.operator_shifts("2025-07-15 04:00", "2025-07-15 05:00")
    berlin_early = summer[
        (summer["shift_id"] == "SHIFT-1") & (summer["shift_date"].astype(str) == "2025-07-15")
    ]
    assert set(berlin_early["start_time"].astype(str)) == {"2025-07-15 04:00:00+00:00"}  # 06:00 CEST


def test_historian_tags_include_cumulative_counters_and_aveva_tags(plant: SimulatedPlant) -> None:
    tags = plant.historian_tag_mappings()
    counters = tags[tags["signal_type"].isin(["pieces_good", "pieces_rejected"])]
    assert (counters["counter_mode"] == "cumulative").all() and (counters["counter_rollover"] > 0).all()
    assert set(tags["historian_system"]) == {"pi", "aveva"}
    scaled = tags[tags["signal_type"].isin(["pressure", "speed"])]
    assert ((scaled["scale_factor"] != 1.0) | (scaled["offset_value"] != 0.0)).any()
    assert tags["historian_tag"].is_unique


@pytest.mark.parametrize("method", ["work_orders", "schedules", "operator_shifts", "labor_costs"])
def test_ranged_frames_are_deterministic(
    plant: SimulatedPlant, fresh_plant: SimulatedPlant, method: str
) -> None:
    first = getattr(plant, method)("2025-01-14", "2025-01-16")
    again = getattr(fresh_plant, method)("2025-01-14", "2025-01-16")
    assert len(first) > 0
    assert first.equals(again)
