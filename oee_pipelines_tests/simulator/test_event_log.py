"""The event log: determinism, shape, and the plant's rules (shifts, changeovers, stops, pieces)."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description

UNPLANNED = {"BRK-MECH", "BRK-ELEC", "STARVED", "ADJUST", "JAM"}


def clip(states: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    begin, finish = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    inside = states[(states["end_time"] > begin) & (states["start_time"] < finish)].copy()
    inside["start_time"] = inside["start_time"].clip(lower=begin)
    inside["end_time"] = inside["end_time"].clip(upper=finish)
    return inside.reset_index(drop=True)


def test_the_same_range_gives_the_same_log_whatever_was_asked_before(
    plant: SimulatedPlant, fresh_plant: SimulatedPlant
) -> None:
    plant.machine_states("2025-01-16", "2025-01-18")  # fills the shared plant's cache in another order
    pdt.assert_frame_equal(
        plant.machine_states("2025-01-14", "2025-01-15"),
        fresh_plant.machine_states("2025-01-14", "2025-01-15"),
    )
    pdt.assert_frame_equal(
        plant.pieces("2025-01-14", "2025-01-15"), fresh_plant.pieces("2025-01-14", "2025-01-15")
    )


def test_overlapping_ranges_agree_on_their_overlap(
    plant: SimulatedPlant, fresh_plant: SimulatedPlant
) -> None:
    wide = plant.machine_states("2025-01-13", "2025-01-16")
    narrow = fresh_plant.machine_states("2025-01-14 09:07:13", "2025-01-15 03:00")
    pdt.assert_frame_equal(clip(wide, "2025-01-14 09:07:13", "2025-01-15 03:00"), narrow)
    wide_pieces = plant.pieces("2025-01-13", "2025-01-16")
    narrow_pieces = fresh_plant.pieces("2025-01-14 09:07", "2025-01-15 03:00")
    overlap = wide_pieces[
        (wide_pieces["ts"] > pd.Timestamp("2025-01-14 09:07", tz="UTC"))
        & (wide_pieces["ts"] <= pd.Timestamp("2025-01-15 03:00", tz="UTC"))
    ]
    pdt.assert_frame_equal(overlap.reset_index(drop=True), narrow_pieces)


def test_another_seed_gives_another_log(plant: SimulatedPlant) -> None:
    other = SimulatedPlant(load_plant_description(), seed=7)
    assert not plant.machine_states("2025-01-14", "2025-01-15").equals(
        other.machine_states("2025-01-14", "2025-01-15")
    )


def test_states_cover_the_range_without_gaps_on_whole_seconds(plant: SimulatedPlant) -> None:
    states = plant.machine_states("2025-01-13", "2025-01-20")
    reasons = set(plant.reason_codes()["code"])
    for _, rows in states.groupby("machine_id"):
        assert rows["start_time"].iloc[0] == pd.Timestamp("2025-01-13", tz="UTC")
        assert rows["end_time"].iloc[-1] == pd.Timestamp("2025-01-20", tz="UTC")
        assert (rows["end_time"].iloc[:-1].to_numpy() == rows["start_time"].iloc[1:].to_numpy()).all()
        assert (
            rows["state"].iloc[:-1].to_numpy() + rows["reason_code"].iloc[:-1].fillna("").to_numpy()
            != (rows["state"].iloc[1:].to_numpy() + rows["reason_code"].iloc[1:].fillna("").to_numpy())
        ).all()
    assert (states["start_time"].dt.microsecond == 0).all() and (
        states["start_time"].dt.nanosecond == 0
    ).all()
    assert states["reason_code"].isna().eq(states["state"] == "RUNNING").all()
    assert set(states["reason_code"].dropna()) <= reasons
    assert {"CHANGEOVER", "BREAK", "OFF-SHIFT", "JAM", "STARVED", "BRK-MECH", "BRK-ELEC"} <= set(
        states["reason_code"]
    )


def test_the_weekend_is_off_shift(plant: SimulatedPlant) -> None:
    # Chicago's Friday night shift ends Saturday 12:00 UTC; from then until Monday 05:00 UTC nothing runs.
    states = plant.machine_states("2025-01-18 12:00", "2025-01-20 05:00")
    assert set(states["reason_code"]) == {"OFF-SHIFT"}


def test_changeovers_open_each_work_order_on_whole_minutes(plant: SimulatedPlant) -> None:
    orders = plant.work_orders("2025-01-14", "2025-01-15")
    assert (orders["planned_start"].dt.second == 0).all() and (orders["planned_end"].dt.second == 0).all()
    for _, line_orders in orders.groupby("line_id"):
        line_orders = line_orders.sort_values("planned_start")
        next_starts = line_orders["planned_start"].iloc[1:].reset_index(drop=True)
        assert next_starts.equals(line_orders["planned_end"].iloc[:-1].reset_index(drop=True))  # back to back
    states = plant.machine_states("2025-01-14", "2025-01-15")
    changeovers = states[states["reason_code"] == "CHANGEOVER"]
    assert (changeovers["start_time"].dt.second == 0).all() and (changeovers["end_time"].dt.second == 0).all()
    line_of = plant.machines().set_index("id")["line_id"]
    for line_id, order_start in zip(orders["line_id"], orders["planned_start"], strict=True):
        if order_start < pd.Timestamp("2025-01-14", tz="UTC"):
            continue
        at_start = states[
            (states["machine_id"].map(line_of) == line_id)
            & (states["start_time"] <= order_start)
            & (order_start < states["end_time"])
        ]
        # A break that overlaps the order start pauses the changeover; it resumes after the break.
        assert len(at_start) == 4 and set(at_start["reason_code"]) <= {"CHANGEOVER", "BREAK"}


def test_unplanned_stops_have_their_lengths_and_never_touch_midnight(plant: SimulatedPlant) -> None:
    states = plant.machine_states("2025-01-13", "2025-01-18")
    stops = states[states["reason_code"].isin(UNPLANNED)]
    seconds = (stops["end_time"] - stops["start_time"]).dt.total_seconds()
    jams = seconds[stops["reason_code"] == "JAM"]
    assert jams.between(1, 110).all() and jams.median() > 30
    assert (seconds[stops["reason_code"].isin({"BRK-MECH", "BRK-ELEC"})] > 120).any()
    midnight_start = stops["start_time"].dt.normalize() == stops["start_time"]
    assert not midnight_start.any()
    assert (
        stops["start_time"].dt.normalize() == (stops["end_time"] - pd.Timedelta(seconds=1)).dt.normalize()
    ).all()
    assert not (stops["end_time"] == stops["end_time"].dt.normalize()).any()


def test_pieces_are_one_row_per_machine_per_minute_within_one_work_order(plant: SimulatedPlant) -> None:
    pieces = plant.pieces("2025-01-14", "2025-01-15")
    assert len(pieces) == 16 * 1440
    assert pieces["ts"].min() == pd.Timestamp("2025-01-14 00:01", tz="UTC")
    assert pieces["ts"].max() == pd.Timestamp("2025-01-15 00:00", tz="UTC")
    assert (pieces["ts"].dt.second == 0).all()
    assert (pieces[["good", "rejected"]] >= 0).all().all()
    orders = plant.work_orders("2025-01-13", "2025-01-16")
    boundaries = set(orders["planned_start"]) | set(orders["planned_end"])
    # A minute (ts - 60 s, ts] never straddles an order boundary: boundaries are whole minutes.
    assert all(b.second == 0 for b in boundaries)
    produced = pieces[pieces["good"] + pieces["rejected"] > 0]
    merged = produced.merge(plant.machines()[["id", "line_id"]], left_on="machine_id", right_on="id")
    for line_id, rows in merged.groupby("line_id"):
        line_orders = orders[orders["line_id"] == line_id]
        minute_start = rows["ts"] - pd.Timedelta(seconds=60)
        holders = [
            ((line_orders["planned_start"] <= start) & (end <= line_orders["planned_end"])).sum()
            for start, end in zip(minute_start, rows["ts"], strict=True)
        ]
        assert set(holders) == {1}


def test_run_speed_and_rejects_are_realistic(plant: SimulatedPlant) -> None:
    pieces = plant.pieces("2025-01-14", "2025-01-15")
    total = pieces["good"].sum() + pieces["rejected"].sum()
    assert 0.005 < pieces["rejected"].sum() / total < 0.05
    truth = plant.true_oee("2025-01-14", "2025-01-15")
    per_machine = truth.groupby("machine_id")[["ideal_run_minutes", "run_minutes"]].sum()
    performance = per_machine["ideal_run_minutes"] / per_machine["run_minutes"]
    assert performance.between(0.80, 0.97).all()


def test_startup_rejects_follow_changeovers(plant: SimulatedPlant) -> None:
    states = plant.machine_states("2025-01-14", "2025-01-15", machine_ids=["MACHINE-001"])
    pieces = plant.pieces("2025-01-14", "2025-01-15", machine_ids=["MACHINE-001"])
    ends = states.loc[states["reason_code"] == "CHANGEOVER", "end_time"]
    after = pieces["ts"].apply(lambda ts: ((ts > ends) & (ts <= ends + pd.Timedelta(minutes=10))).any())
    rate_after = pieces.loc[after, "rejected"].sum() / pieces.loc[after, ["good", "rejected"]].sum().sum()
    rate_rest = pieces.loc[~after, "rejected"].sum() / pieces.loc[~after, ["good", "rejected"]].sum().sum()
    assert rate_after > 3 * rate_rest
