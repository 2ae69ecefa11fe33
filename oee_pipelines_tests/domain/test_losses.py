"""The six big losses per machine and shift: literal timelines and counters, hand-computed minutes.

The fixtures (domain/conftest.py): line L1 with SHIFT-1 06:00-10:15 and SHIFT-2 10:15-14:00, machines
M1 and M2, the timeline over 10:00-11:00, reason codes BREAK (planned), BRK-MECH (breakdowns),
CHANGEOVER (setup_adjustments, unplanned here) and STARVED (small_stops).
"""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.domain.losses import (
    LOSS_COLUMNS,
    LOSS_TREE,
    compute_losses,
    reconciliation_gaps,
    summarize,
)
from oee_pipelines.domain.oee import LOSS_COLUMNS as SNAPSHOT_LOSS_COLUMNS
from oee_pipelines.domain.oee import compute_snapshots
from oee_pipelines_tests.support.telemetry_rows import counter, state, utc

IDEAL_CYCLE_TIME_S = 30.0  # half a minute per piece


def minute_readings(machine: str, first: str, last: str, pieces: float = 1.0) -> list[dict]:
    """A good-piece reading at every minute of [first, last]."""
    return [
        counter(machine, str(ts.tz_localize(None)), pieces) for ts in pd.date_range(first, last, freq="1min")
    ]


def rejects(machine: str, ts: str, pieces: float) -> dict:
    return counter(machine, ts, pieces, signal="pieces_rejected")


# M1 over 10:00-11:00: every loss once. SHIFT-1 holds 10:00-10:15, SHIFT-2 10:15-11:00.
M1_HOUR = [
    state("M1", "2025-01-06 10:00", "RUNNING"),
    state("M1", "2025-01-06 10:05", "BRK-MECH"),  # 5 min: breakdown (SHIFT-1)
    state("M1", "2025-01-06 10:10", "RUNNING"),
    state("M1", "2025-01-06 10:20", "CHANGEOVER"),  # 3 min: setup and adjustments (SHIFT-2)
    state("M1", "2025-01-06 10:23", "RUNNING"),
    state("M1", "2025-01-06 10:30", "STARVED"),  # 1 min < 2 min threshold: small stop
    state("M1", "2025-01-06 10:31", "RUNNING"),
    state("M1", "2025-01-06 10:40", "BREAK"),  # 5 min planned: not planned production time
    state("M1", "2025-01-06 10:45", "RUNNING"),
    *minute_readings("M1", "2025-01-06 10:01", "2025-01-06 11:00"),
    rejects("M1", "2025-01-06 10:12", 2),  # 2 min after the breakdown ended: startup
    rejects("M1", "2025-01-06 10:25", 1),  # 2 min after the changeover ended: startup
    rejects("M1", "2025-01-06 10:58", 4),  # 13 min after the break ended: production
]


def losses_of(timeline_of, line_shifts, machines, reason_codes, rows, ideal=IDEAL_CYCLE_TIME_S, **kw):
    timeline = timeline_of(rows, **kw)
    counters = pd.DataFrame(rows).assign(ideal_cycle_time_s=ideal)
    counters = counters[counters["signal"] != "machine_state"]
    return compute_losses(
        timeline=timeline,
        line_shifts=line_shifts,
        machines=machines,
        counters=counters,
        reason_codes=reason_codes,
    )


def minutes_by(losses: pd.DataFrame, machine: str, shift: str) -> dict[str, float]:
    rows = losses[(losses["machine_id"] == machine) & (losses["shift_id"] == shift)]
    return {k: round(v, 6) for k, v in rows.groupby("loss_category")["minutes"].sum().items()}


@pytest.fixture
def hour(timeline_of, line_shifts, machines, reason_codes) -> pd.DataFrame:
    return losses_of(timeline_of, line_shifts, machines, reason_codes, M1_HOUR)


def test_each_of_the_six_losses_hand_computed_in_shift_one(hour: pd.DataFrame) -> None:
    # Run 10 min (10:00-10:05, 10:10-10:15), 15 good pieces (readings 10:01..10:15) = 7.5 ideal min,
    # 2 startup rejects = 1.0 min; reduced speed = 10 - 7.5 - 1.0 = 1.5; planned 15 = 7.5 + 5 + 1.5 + 1.
    assert minutes_by(hour, "M1", "SHIFT-1") == {
        "fully_productive": 7.5,
        "breakdowns": 5.0,
        "reduced_speed": 1.5,
        "startup_rejects": 1.0,
    }


def test_each_of_the_six_losses_hand_computed_in_shift_two(hour: pd.DataFrame) -> None:
    # Scheduled 45, break 5: planned 40. Run 5 + 7 + 9 + 15 = 36 (small stop apart), 45 good pieces =
    # 22.5 ideal min, startup 1 piece = 0.5, production 4 pieces = 2.0; reduced speed 36 - 25 = 11.
    assert minutes_by(hour, "M1", "SHIFT-2") == {
        "fully_productive": 22.5,
        "setup_adjustments": 3.0,
        "small_stops": 1.0,
        "reduced_speed": 11.0,
        "startup_rejects": 0.5,
        "production_rejects": 2.0,
    }
    assert sum(minutes_by(hour, "M1", "SHIFT-2").values()) == pytest.approx(40.0)


def test_a_machine_without_data_is_all_unknown_time(hour: pd.DataFrame) -> None:
    assert minutes_by(hour, "M2", "SHIFT-1") == {"unknown": 15.0}
    assert minutes_by(hour, "M2", "SHIFT-2") == {"unknown": 45.0}
    unknown = hour[hour["machine_id"] == "M2"]
    assert unknown["reason_code"].isna().all() and unknown["oee_factor"].eq("unknown").all()
    assert unknown["occurrences"].tolist() == [1, 1]  # one silence, cut by the shift change


def test_rows_carry_the_reason_hierarchy_occurrences_and_pieces(hour: pd.DataFrame) -> None:
    assert list(hour.columns) == LOSS_COLUMNS
    row = hour.set_index(["machine_id", "shift_id", "loss_category"])
    breakdown = row.loc[("M1", "SHIFT-1", "breakdowns")]
    assert (breakdown["reason_code"], breakdown["reason_category"], breakdown["reason_name"]) == (
        "BRK-MECH",
        "equipment",
        "Mechanical breakdown",
    )
    assert breakdown["occurrences"] == 1 and breakdown["oee_factor"] == "availability"
    assert row.loc[("M1", "SHIFT-2", "setup_adjustments"), "reason_code"] == "CHANGEOVER"
    assert row.loc[("M1", "SHIFT-2", "small_stops"), "reason_category"] == "flow"
    assert row.loc[("M1", "SHIFT-2", "production_rejects"), "pieces"] == 4
    assert row.loc[("M1", "SHIFT-2", "startup_rejects"), "oee_factor"] == "quality"
    assert row.loc[("M1", "SHIFT-2", "fully_productive"), "pieces"] == 45
    assert pd.isna(row.loc[("M1", "SHIFT-2", "reduced_speed"), "reason_code"])
    assert set(hour["day"]) == {utc("2025-01-06 00:00").date()}
    assert set(hour["shift_date"]) == {utc("2025-01-06 00:00").date()}
    # The tree's order: fully productive first, unknown last.
    m1_shift2 = hour[(hour["machine_id"] == "M1") & (hour["shift_id"] == "SHIFT-2")]
    positions = [LOSS_TREE.index(c) for c in m1_shift2["loss_category"]]
    assert positions == sorted(positions)


def test_small_stops_split_by_reason_with_their_occurrences(
    timeline_of, line_shifts, machines, reason_codes
) -> None:
    rows = [
        state("M1", "2025-01-06 10:00", "RUNNING"),
        state("M1", "2025-01-06 10:20", "STARVED"),  # 1 min
        state("M1", "2025-01-06 10:21", "RUNNING"),
        state("M1", "2025-01-06 10:30", "STARVED"),  # 1.5 min
        state("M1", "2025-01-06 10:31:30", "RUNNING"),
        state("M1", "2025-01-06 10:40", "BRK-MECH"),  # 30 s: a small stop, whatever its code says
        state("M1", "2025-01-06 10:40:30", "RUNNING"),
        *minute_readings("M1", "2025-01-06 10:01", "2025-01-06 11:00", pieces=0),
    ]
    losses = losses_of(timeline_of, line_shifts, machines, reason_codes, rows)
    small = losses[(losses["machine_id"] == "M1") & (losses["loss_category"] == "small_stops")]
    by_reason = small.set_index("reason_code")
    assert by_reason.loc["STARVED", "minutes"] == pytest.approx(2.5)
    assert by_reason.loc["STARVED", "occurrences"] == 2
    assert by_reason.loc["BRK-MECH", "minutes"] == pytest.approx(0.5)
    assert by_reason.loc["BRK-MECH", "occurrences"] == 1
    assert set(small["oee_factor"]) == {"performance"}
    # No pieces: all 42 min run time (45 - 3 small-stop minutes) of SHIFT-2 is reduced speed.
    assert minutes_by(losses, "M1", "SHIFT-2")["reduced_speed"] == pytest.approx(42.0)


def test_a_stop_through_the_shift_change_is_one_occurrence_in_each_shift(
    timeline_of, line_shifts, machines, reason_codes
) -> None:
    rows = [
        state("M1", "2025-01-06 10:00", "RUNNING"),
        state("M1", "2025-01-06 10:10", "BRK-MECH"),  # 10:10-10:25 across the 10:15 change
        state("M1", "2025-01-06 10:25", "RUNNING"),
        *minute_readings("M1", "2025-01-06 10:01", "2025-01-06 11:00", pieces=2),
    ]
    losses = losses_of(timeline_of, line_shifts, machines, reason_codes, rows)
    breakdowns = losses[(losses["machine_id"] == "M1") & (losses["loss_category"] == "breakdowns")]
    assert breakdowns.set_index("shift_id")["minutes"].to_dict() == {"SHIFT-1": 5.0, "SHIFT-2": 10.0}
    assert breakdowns["occurrences"].tolist() == [1, 1]
    # 2 pieces a minute at 30 s is the ideal rate, but the counter runs on during the stop: faster
    # than ideal shows as negative reduced speed (SHIFT-2: run 35 min, 45 x 2 x 0.5 = 45 ideal min).
    assert minutes_by(losses, "M1", "SHIFT-2")["reduced_speed"] == pytest.approx(35.0 - 45.0)


def test_pieces_without_an_ideal_cycle_time_leave_their_run_time_in_reduced_speed(
    timeline_of, line_shifts, machines, reason_codes
) -> None:
    rows = [
        state("M1", "2025-01-06 10:00", "RUNNING"),
        *minute_readings("M1", "2025-01-06 10:01", "2025-01-06 11:00"),
    ]
    losses = losses_of(timeline_of, line_shifts, machines, reason_codes, rows, ideal=None)
    shift_one = minutes_by(losses, "M1", "SHIFT-1")
    assert shift_one == {"fully_productive": 0.0, "reduced_speed": 15.0}
    row = losses[(losses["machine_id"] == "M1") & (losses["shift_id"] == "SHIFT-1")]
    assert row.loc[row["loss_category"] == "fully_productive", "pieces"].tolist() == [15]


def test_the_loss_tree_adds_up_to_the_snapshots_planned_production_time_and_loss_columns(
    timeline_of, line_shifts, machines, reason_codes
) -> None:
    timeline = timeline_of(M1_HOUR)
    counters = pd.DataFrame(M1_HOUR).assign(ideal_cycle_time_s=IDEAL_CYCLE_TIME_S)
    counters = counters[counters["signal"] != "machine_state"]
    losses = compute_losses(
        timeline=timeline,
        line_shifts=line_shifts,
        machines=machines,
        counters=counters,
        reason_codes=reason_codes,
    )
    snapshots = compute_snapshots(
        timeline=timeline,
        line_shifts=line_shifts,
        machines=machines,
        counters=counters,
        schedules=pd.DataFrame(columns=["line_id", "start", "end", "work_order_id"]),
    )
    gaps = reconciliation_gaps(losses, snapshots, ["machine_id"])
    assert gaps.set_index("machine_id")["planned_production_time"].to_dict() == {"M1": 55.0, "M2": 60.0}
    assert gaps["difference"].abs().max() < 1e-9
    wide = summarize(losses, ["machine_id"]).set_index("machine_id")
    sums = snapshots.groupby("machine_id")[SNAPSHOT_LOSS_COLUMNS].sum()
    for column in SNAPSHOT_LOSS_COLUMNS:
        assert wide[column].to_dict() == pytest.approx(sums[column].to_dict()), column
    assert wide.loc["M1", "unknown_minutes"] == 0 and wide.loc["M2", "unknown_minutes"] == 60.0
    assert wide.loc["M1", "planned_production_minutes"] == pytest.approx(55.0)


def test_a_timeline_longer_than_a_day_is_refused(timeline_of, line_shifts, machines, reason_codes) -> None:
    timeline = timeline_of(M1_HOUR, range_end=utc("2025-01-07 10:01"))
    with pytest.raises(ValueError, match="one UTC day"):
        compute_losses(
            timeline=timeline,
            line_shifts=line_shifts,
            machines=machines,
            counters=pd.DataFrame(M1_HOUR).iloc[0:0],
            reason_codes=reason_codes,
        )


def test_nothing_scheduled_or_no_counters(timeline_of, line_shifts, machines, reason_codes) -> None:
    rows = [
        state("M1", "2025-01-06 10:00", "RUNNING"),
        *minute_readings("M1", "2025-01-06 10:01", "2025-01-06 10:04"),
    ]
    no_shifts = line_shifts.iloc[0:0]
    assert losses_of(timeline_of, no_shifts, machines, reason_codes, rows).empty
    only_states = losses_of(timeline_of, line_shifts, machines, reason_codes, rows[:1])
    # No counters at all: M1's data stops after 10:00 (a silence longer than 5 min is unknown time).
    assert sum(minutes_by(only_states, "M1", "SHIFT-1").values()) == pytest.approx(15.0)
    assert only_states["pieces"].isna().all()
