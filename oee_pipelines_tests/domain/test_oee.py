"""OEE snapshots: the ISO 22400 time model per 15-minute window, NULL rules, time-weighted roll-ups."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from oee_pipelines.domain.oee import aggregate, compute_snapshots, oee_factors
from oee_pipelines_tests.support.telemetry_rows import counter, minute_counters, state, utc

SCHEDULE = pd.DataFrame(
    {
        "line_id": ["L1"],
        "start": [utc("2025-01-06 08:00")],
        "end": [utc("2025-01-06 12:00")],
        "work_order_id": ["WO-1"],
    }
)


def running(machine: str, pieces: float = 1.0) -> list[dict]:
    return [
        state(machine, "2025-01-06 09:00", "RUNNING"),
        *minute_counters(machine, "2025-01-06 09:00", "2025-01-06 11:05", pieces),
    ]


def snapshots_of(timeline_of, line_shifts, machines, rows, ideal_cycle_time_s=30.0, schedules=SCHEDULE, **kw):
    timeline = timeline_of(rows, **kw)
    counters = pd.DataFrame(rows).assign(ideal_cycle_time_s=ideal_cycle_time_s)
    frame = compute_snapshots(
        timeline=timeline, line_shifts=line_shifts, machines=machines, counters=counters, schedules=schedules
    )
    return frame.set_index(["machine_id", frame["snapshot_time"].dt.strftime("%H:%M")])


def test_four_windows_per_hour_per_machine_ending_on_the_quarter(timeline_of, line_shifts, machines) -> None:
    snaps = snapshots_of(timeline_of, line_shifts, machines, [*running("M1"), *running("M2")])
    assert len(snaps) == 8
    assert list(snaps.loc["M1"].index) == ["10:15", "10:30", "10:45", "11:00"]
    window = snaps.loc[("M1", "10:30")]
    assert window["window_start"] == utc("2025-01-06 10:15")
    # 15 pieces at 30 s ideal = 7.5 ideal minutes in 15 run minutes.
    assert (window["availability_pct"], window["performance_raw_pct"], window["quality_pct"]) == (
        100,
        50,
        100,
    )
    assert window["oee_pct"] == pytest.approx(50.0)
    assert window["work_order_id"] == "WO-1" and window["org_id"] == "demo"


def test_downtime_spanning_two_windows_and_a_shift_change(timeline_of, line_shifts, machines) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:10", "BRK-MECH"),
        state("M1", "2025-01-06 10:20", "RUNNING"),
    ]
    snaps = snapshots_of(timeline_of, line_shifts, machines, rows)
    first, second = snaps.loc[("M1", "10:15")], snaps.loc[("M1", "10:30")]
    assert (first["shift_id"], second["shift_id"]) == ("SHIFT-1", "SHIFT-2")
    assert (first["unplanned_downtime"], second["unplanned_downtime"]) == (5.0, 5.0)
    assert (first["actual_production_time"], second["actual_production_time"]) == (10.0, 10.0)
    assert first["availability_pct"] == pytest.approx(100 * 10 / 15)
    assert first["breakdowns_minutes"] == 5.0


def test_overlapping_planned_and_unplanned_downtime_is_counted_once(
    timeline_of, line_shifts, machines
) -> None:
    # No machine data on M2: an imported planned break and an overlapping imported breakdown.
    imported = pd.DataFrame(
        {
            "machine_id": ["M2", "M2"],
            "start_time": [utc("2025-01-06 10:00"), utc("2025-01-06 10:10")],
            "end_time": [utc("2025-01-06 10:20"), utc("2025-01-06 10:30")],
            "reason_code": ["BREAK", "BRK-MECH"],
            "source_system": ["mes", "mes"],
        }
    )
    snaps = snapshots_of(timeline_of, line_shifts, machines, running("M1"), imported=imported)
    first = snaps.loc[("M2", "10:15")]
    assert (first["planned_downtime"], first["unplanned_downtime"]) == (10.0, 5.0)
    assert first["planned_production_time"] == 5.0
    assert first["planned_downtime"] + first["unplanned_downtime"] <= first["scheduled_time"]
    assert first["availability_pct"] == 0.0 and first["oee_pct"] == 0.0


def test_window_without_a_shift_has_null_percentages(timeline_of, line_shifts, machines) -> None:
    shifts = line_shifts.assign(end=[utc("2025-01-06 10:15"), utc("2025-01-06 10:30")])
    snaps = snapshots_of(timeline_of, shifts, machines, [*running("M1"), *running("M2")])
    window = snaps.loc[("M1", "10:45")]
    assert window["scheduled_time"] == 0 and pd.isna(window["shift_id"])
    assert all(pd.isna(window[c]) for c in ("availability_pct", "performance_pct", "quality_pct", "oee_pct"))
    # Pieces made outside scheduled time do not count, but they are reported.
    assert (window["total_pieces"], window["pieces_outside_schedule"]) == (0, 15)


def test_machine_without_work_order_gets_snapshots_without_performance(
    timeline_of, line_shifts, machines
) -> None:
    empty = SCHEDULE.iloc[0:0]
    snaps = snapshots_of(
        timeline_of,
        line_shifts,
        machines,
        [*running("M1"), *running("M2")],
        ideal_cycle_time_s=None,
        schedules=empty,
    )
    window = snaps.loc[("M1", "10:30")]
    assert pd.isna(window["work_order_id"])
    assert window["availability_pct"] == 100.0 and window["quality_pct"] == 100.0
    assert pd.isna(window["performance_raw_pct"]) and pd.isna(window["oee_pct"])
    assert window["pieces_without_ideal_cycle_time"] == 15


def test_readings_on_a_window_boundary(timeline_of, line_shifts, machines) -> None:
    rows = [
        state("M1", "2025-01-06 09:00", "RUNNING"),
        state("M2", "2025-01-06 09:00", "RUNNING"),
        counter("M1", "2025-01-06 10:15:00", 7),
        counter("M1", "2025-01-06 10:15:00.000001", 3),
        state("M2", "2025-01-06 10:15:00", "BRK-MECH"),
        state("M2", "2025-01-06 10:30:00", "RUNNING"),
    ]
    rows += minute_counters("M1", "2025-01-06 09:00", "2025-01-06 11:05", 0)
    rows += minute_counters("M2", "2025-01-06 09:00", "2025-01-06 11:05", 0)
    snaps = snapshots_of(timeline_of, line_shifts, machines, rows)
    assert (snaps.loc[("M1", "10:15"), "good_pieces"], snaps.loc[("M1", "10:30"), "good_pieces"]) == (7, 3)
    assert snaps.loc[("M2", "10:15"), "unplanned_downtime"] == 0.0
    assert snaps.loc[("M2", "10:30"), "unplanned_downtime"] == 15.0
    assert snaps.loc[("M2", "10:45"), "unplanned_downtime"] == 0.0


def test_microstop_is_a_performance_loss_and_breakdown_an_availability_loss(
    timeline_of, line_shifts, machines
) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:20", "STARVED"),
        state("M1", "2025-01-06 10:21", "RUNNING"),
        state("M2", "2025-01-06 10:20", "STARVED"),
        state("M2", "2025-01-06 10:23", "RUNNING"),
    ]
    snaps = snapshots_of(timeline_of, line_shifts, machines, rows)
    micro, breakdown = snaps.loc[("M1", "10:30")], snaps.loc[("M2", "10:30")]
    assert (micro["unplanned_downtime"], micro["actual_production_time"], micro["small_stops_minutes"]) == (
        0,
        15,
        1,
    )
    assert micro["availability_pct"] == 100.0
    assert (breakdown["unplanned_downtime"], breakdown["actual_production_time"]) == (3.0, 12.0)
    assert breakdown["breakdowns_minutes"] == 3.0 and breakdown["small_stops_minutes"] == 0.0


def test_null_rules() -> None:
    sums = pd.DataFrame(
        {
            "planned_production_time": [0.0, 15.0, 15.0, 15.0],
            "actual_production_time": [0.0, 0.0, 10.0, 10.0],
            "ideal_production_time": [0.0, 0.0, 0.0, 12.5],
            "total_pieces": [0, 0, 0, 30],
            "good_pieces": [0, 0, 0, 27],
        }
    )
    factors = oee_factors(sums)
    nothing_planned, no_run, no_pieces, normal = (factors.iloc[i] for i in range(4))
    assert nothing_planned.isna().all()
    assert (no_run["availability_pct"], no_run["oee_pct"]) == (0.0, 0.0)
    assert pd.isna(no_run["performance_pct"]) and pd.isna(no_run["quality_pct"])
    assert (no_pieces["performance_raw_pct"], no_pieces["oee_pct"]) == (0.0, 0.0) and pd.isna(
        no_pieces["quality_pct"]
    )
    assert normal["performance_raw_pct"] == 125.0 and normal["performance_pct"] == 100.0
    assert normal["oee_pct"] == pytest.approx(100 * (10 / 15) * 1.25 * 0.9)


def test_performance_above_105_is_flagged(timeline_of, line_shifts, machines) -> None:
    snaps = snapshots_of(timeline_of, line_shifts, machines, [*running("M1", 2.0), *running("M2")], 60.0)
    assert snaps.loc[("M1", "10:30"), "performance_raw_pct"] == 200.0
    assert snaps.loc[("M1", "10:30"), "performance_pct"] == 100.0
    assert bool(snaps.loc[("M1", "10:30"), "performance_above_limit"])
    assert not bool(snaps.loc[("M2", "10:30"), "performance_above_limit"])


def test_unknown_time_stays_in_the_base(timeline_of, line_shifts, machines) -> None:
    snaps = snapshots_of(timeline_of, line_shifts, machines, running("M1"))
    window = snaps.loc[("M2", "10:30")]
    assert (window["unknown_time"], window["planned_production_time"], window["actual_production_time"]) == (
        15,
        15,
        0,
    )
    assert window["availability_pct"] == 0.0


def test_time_weighted_aggregation_differs_from_the_average_of_percentages() -> None:
    snaps = pd.DataFrame(
        {
            "line_id": ["L1", "L1"],
            "scheduled_time": [15.0, 15.0],
            "planned_downtime": [0.0, 14.0],
            "planned_production_time": [15.0, 1.0],
            "unplanned_downtime": [0.0, 1.0],
            "actual_production_time": [15.0, 0.0],
            "unknown_time": [0.0, 0.0],
            "ideal_production_time": [15.0, 0.0],
            "total_pieces": [30, 0],
            "good_pieces": [30, 0],
            "rejected_pieces": [0, 0],
        }
    )
    snaps = pd.concat([snaps, oee_factors(snaps)], axis=1)
    rolled = aggregate(snaps, ["line_id"]).iloc[0]
    assert rolled["availability_pct"] == pytest.approx(100 * 15 / 16)
    assert snaps["availability_pct"].mean() == 50.0
    assert not math.isclose(rolled["availability_pct"], snaps["availability_pct"].mean())
    assert rolled["planned_production_time"] == 16.0
