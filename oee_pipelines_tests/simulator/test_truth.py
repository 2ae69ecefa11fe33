"""Ground-truth OEE: a hand-computed scenario, the NULL rules, and its independence from domain/."""

from __future__ import annotations

import ast
import dataclasses
import math
from importlib import util
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.truth import TruthInputs, true_oee

DAY = "2025-01-15 "


def at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(DAY + clock, tz="UTC")


def state_log(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"machine_id": "M1", "start_time": at(a), "end_time": at(b), "reason_code": code}
            for a, b, code in rows
        ]
    )


def minute_pieces(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"machine_id": "M1", "ts": at(ts), "good": good, "rejected": rejected}
            for ts, (good, rejected) in counts.items()
        ]
    )


@pytest.fixture
def scenario() -> TruthInputs:
    """One machine, shift 06:00-14:00 UTC, ideal cycle 2 s. The 10:00 window holds a 5-minute
    breakdown, a 60-s jam, a 3-minute break, and the first half of a 2-minute starvation."""
    states = state_log(
        [
            ("06:00", "10:01", None),
            ("10:01", "10:06", "BRK-MECH"),
            ("10:06", "10:07", None),
            ("10:07", "10:08", "JAM"),
            ("10:08", "10:10", None),
            ("10:10", "10:13", "BREAK"),
            ("10:13", "10:14", None),
            ("10:14", "10:16", "STARVED"),
            ("10:16", "11:55", None),
            ("11:55", "12:20", "BRK-ELEC"),
            ("12:20", "14:00", None),
            ("14:00", "18:00", "OFF-SHIFT"),
        ]
    )
    pieces = minute_pieces(
        {
            "10:00": (27, 0),  # the minute (09:59, 10:00]: the window before
            "10:01": (27, 0),
            "10:07": (22, 5),
            "10:09": (27, 0),
            "10:10": (27, 0),
            "10:14": (27, 0),
            "10:16": (0, 0),
            "10:17": (27, 0),  # next window
        }
    )
    return TruthInputs(
        machines=pd.DataFrame([{"machine_id": "M1", "line_id": "L1"}]),
        scheduled=pd.DataFrame(
            [{"line_id": "L1", "shift_id": "S1", "start_time": at("06:00"), "end_time": at("14:00")}]
        ),
        states=states,
        reason_codes=pd.DataFrame(
            {
                "code": ["BREAK", "OFF-SHIFT", "BRK-MECH", "BRK-ELEC", "JAM", "STARVED"],
                "is_planned": [True, True, False, False, False, False],
            }
        ),
        pieces=pieces,
        work_orders=pd.DataFrame(
            [
                {
                    "id": "WO-1",
                    "line_id": "L1",
                    "planned_start": at("06:00"),
                    "planned_end": at("14:00"),
                    "ideal_cycle_time_s": 2.0,
                }
            ]
        ),
    )


def window(result: pd.DataFrame, start: str) -> pd.Series:
    return result.set_index("window_start").loc[at(start)]


def test_the_hand_computed_window(scenario: TruthInputs) -> None:
    row = window(true_oee(scenario, at("10:00"), at("10:30")), "10:00")
    assert row["snapshot_time"] == at("10:15")
    assert (row["machine_id"], row["line_id"], row["shift_id"], row["work_order_id"]) == (
        "M1",
        "L1",
        "S1",
        "WO-1",
    )
    assert row["scheduled_minutes"] == 15
    assert row["planned_downtime_minutes"] == 3  # the break
    assert row["planned_production_minutes"] == 12
    # 5 min breakdown + 1 min of the 2-min starvation (judged on the whole stop); the 60-s jam is run time.
    assert row["unplanned_downtime_minutes"] == 6
    assert row["run_minutes"] == 6
    # Counter rows 10:01, 10:07, 10:09, 10:10, 10:14 are in (10:00, 10:15]: 135 pieces, 5 rejected.
    assert (row["total_pieces"], row["good_pieces"], row["rejected_pieces"]) == (135, 130, 5)
    assert row["ideal_run_minutes"] == pytest.approx(135 * 2 / 60)
    assert row["availability_pct"] == pytest.approx(50.0)
    assert row["performance_pct"] == pytest.approx(75.0)
    assert row["quality_pct"] == pytest.approx(100 * 130 / 135)
    assert row["oee_pct"] == pytest.approx(0.5 * 0.75 * 130 / 135 * 100)


def test_the_rest_of_a_long_stop_is_downtime_in_the_next_window(scenario: TruthInputs) -> None:
    row = window(true_oee(scenario, at("10:00"), at("10:30")), "10:15")
    assert row["unplanned_downtime_minutes"] == 1 and row["run_minutes"] == 14
    assert (row["total_pieces"], row["good_pieces"]) == (27, 27)


def test_a_shorter_stop_is_a_small_stop(scenario: TruthInputs) -> None:
    result = true_oee(scenario, at("10:00"), at("10:15"), microstop_threshold_seconds=121)
    row = window(result, "10:00")
    assert row["unplanned_downtime_minutes"] == 5  # the 120-s starvation is now under the threshold
    assert row["run_minutes"] == 7


def test_no_run_time_gives_zero_availability_and_oee_and_null_performance_and_quality(
    scenario: TruthInputs,
) -> None:
    row = window(true_oee(scenario, at("12:00"), at("12:15")), "12:00")
    assert row["planned_production_minutes"] == 15 and row["run_minutes"] == 0
    assert row["availability_pct"] == 0 and row["oee_pct"] == 0
    assert math.isnan(row["performance_pct"]) and math.isnan(row["quality_pct"])


def test_nothing_scheduled_gives_null_percentages(scenario: TruthInputs) -> None:
    row = window(true_oee(scenario, at("14:00"), at("14:15")), "14:00")
    assert row["scheduled_minutes"] == 0 and row["planned_downtime_minutes"] == 0  # off-shift is not counted
    assert row["shift_id"] is None
    assert all(math.isnan(row[c]) for c in ("availability_pct", "performance_pct", "quality_pct", "oee_pct"))


def test_windows_must_be_quarter_hours(scenario: TruthInputs) -> None:
    with pytest.raises(ValueError, match="quarter hours"):
        true_oee(scenario, at("10:05"), at("10:30"))


def test_the_plants_weekend_windows_are_null(plant: SimulatedPlant) -> None:
    result = plant.true_oee("2025-01-19", "2025-01-20")  # a Sunday, UTC: no site works
    assert len(result) == 16 * 96
    assert (result["scheduled_minutes"] == 0).all() and result["shift_id"].isna().all()
    assert result[["availability_pct", "performance_pct", "quality_pct", "oee_pct"]].isna().all().all()


def test_the_plants_truth_adds_up_to_its_event_log(plant: SimulatedPlant) -> None:
    result = plant.true_oee("2025-01-14", "2025-01-15")
    assert len(result) == 16 * 96
    assert (result["snapshot_time"] - result["window_start"] == pd.Timedelta(minutes=15)).all()
    pieces = plant.pieces("2025-01-14", "2025-01-15")
    assert result["good_pieces"].sum() == pieces["good"].sum()
    assert result["rejected_pieces"].sum() == pieces["rejected"].sum()
    parts = result["planned_downtime_minutes"] + result["unplanned_downtime_minutes"] + result["run_minutes"]
    assert (parts - result["scheduled_minutes"]).abs().max() < 1e-9
    worked = result[result["planned_production_minutes"] > 0]
    assert worked["work_order_id"].notna().all() and worked["shift_id"].notna().all()
    assert 40 < worked["oee_pct"].mean() < 95


def test_overlapping_truth_ranges_agree(plant: SimulatedPlant, fresh_plant: SimulatedPlant) -> None:
    wide = plant.true_oee("2025-01-14", "2025-01-16")
    narrow = fresh_plant.true_oee("2025-01-14 22:00", "2025-01-15 02:00")
    overlap = wide[
        (wide["window_start"] >= narrow["window_start"].min())
        & (wide["window_start"] <= narrow["window_start"].max())
    ]
    pd.testing.assert_frame_equal(
        overlap.sort_values(["machine_id", "window_start"]).reset_index(drop=True),
        narrow.sort_values(["machine_id", "window_start"]).reset_index(drop=True),
    )


def test_truth_imports_nothing_from_the_pipeline() -> None:
    spec = util.find_spec("oee_pipelines.simulator.truth")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert imported and not relative
    assert not [name for name in imported if name.startswith("oee_pipelines")], imported


SIX_LOSSES = [
    "breakdowns_minutes",
    "setup_adjustments_minutes",
    "small_stops_minutes",
    "reduced_speed_minutes",
    "startup_rejects_minutes",
    "production_rejects_minutes",
]


def loss_tree_minutes(row: pd.Series) -> float:
    return float(row[["fully_productive_minutes", *SIX_LOSSES, "unknown_minutes"]].sum())


def test_the_hand_computed_window_split_into_the_six_big_losses(scenario: TruthInputs) -> None:
    # STARVED marked as a setup loss: its 10:14-10:15 minute is setup, BRK-MECH's 5 minutes breakdowns.
    codes = scenario.reason_codes.assign(
        loss_category=[
            "planned_stop",
            "planned_stop",
            "breakdowns",
            "breakdowns",
            "small_stops",
            "setup_adjustments",
        ]
    )
    row = window(
        true_oee(dataclasses.replace(scenario, reason_codes=codes), at("10:00"), at("10:15")), "10:00"
    )
    assert row["breakdowns_minutes"] == 5 and row["setup_adjustments_minutes"] == 1
    assert row["small_stops_minutes"] == 1  # the 60-s jam
    # Run 6 min with the jam; 135 pieces at 2 s = 4.5 ideal minutes: 6 - 1 - 4.5 = 0.5 reduced speed.
    assert row["reduced_speed_minutes"] == pytest.approx(0.5)
    # The 5 rejects at 10:07 came 60 s after the breakdown ended: startup rejects, 5 x 2 s.
    assert row["startup_rejects_minutes"] == pytest.approx(5 * 2 / 60)
    assert row["production_rejects_minutes"] == 0
    assert row["fully_productive_minutes"] == pytest.approx(130 * 2 / 60)
    assert row["unknown_minutes"] == 0
    assert loss_tree_minutes(row) == pytest.approx(row["planned_production_minutes"]) == pytest.approx(12)


def test_without_a_loss_category_every_long_unplanned_stop_is_a_breakdown(scenario: TruthInputs) -> None:
    row = window(true_oee(scenario, at("10:00"), at("10:15")), "10:00")
    assert (row["breakdowns_minutes"], row["setup_adjustments_minutes"]) == (6, 0)


def test_rejects_long_after_a_stop_are_production_rejects(scenario: TruthInputs) -> None:
    pieces = pd.concat([scenario.pieces, minute_pieces({"10:45": (20, 3), "10:17": (27, 0)})])
    pieces = pieces.drop_duplicates(["ts"], keep="last")
    row = window(true_oee(dataclasses.replace(scenario, pieces=pieces), at("10:30"), at("10:45")), "10:30")
    # The last stop (STARVED) ended at 10:16, 29 minutes before: production rejects.
    assert row["production_rejects_minutes"] == pytest.approx(3 * 2 / 60)
    assert row["startup_rejects_minutes"] == 0
    assert loss_tree_minutes(row) == pytest.approx(row["planned_production_minutes"])


def test_the_plants_loss_tree_adds_up_to_planned_production_time(plant: SimulatedPlant) -> None:
    result = plant.true_oee("2025-01-14", "2025-01-15")
    tree = result[["fully_productive_minutes", *SIX_LOSSES, "unknown_minutes"]].sum(axis=1)
    assert (tree - result["planned_production_minutes"]).abs().max() < 1e-9
    # Every one of the six losses occurs in the simulated day (changeovers are planned in the demo
    # plant: its setup losses are the unplanned ADJUST stops).
    totals = result[SIX_LOSSES].sum()
    assert (totals > 1).all(), totals.to_dict()
