"""OEE snapshots per machine per 15-minute window (ISO 22400 time model) and time-weighted roll-ups.

Window `[end - 15 min, end)`, `snapshot_time = end`, UTC. State time counts in the window it
falls in (a change at 10:15:00 counts from the window starting 10:15); a counter reading at `ts`
counts the pieces of `(ts - interval, ts]` and so belongs to the window ending at or after `ts`
(a reading at 10:15:00 belongs to the window ending 10:15). Times are minutes.

- scheduled time: overlap of the window with the line's shift instances;
- planned production time = scheduled - planned stops;
- run time = planned production time - unplanned downtime - unknown time (small stops stay in
  run time; unknown time stays in the base, so missing data lowers availability visibly);
- availability = run / planned production; performance = ideal time of the pieces / run time
  (raw, and capped at 100 for display); quality = good / total; OEE = A x P(raw) x Q.
  Only pieces whose counter reading ends inside scheduled time count; the others are reported
  as `pieces_outside_schedule`.

Every roll-up (`aggregate`) sums the times and pieces first and computes the factors from the sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.downtime import (
    DOWNTIME_KINDS,
    LOSS_BREAKDOWNS,
    LOSS_SETUP,
    PLANNED_STOP,
    RUNNING_KIND,
    SMALL_STOP,
    UNKNOWN_KIND,
    UNPLANNED_STOP,
    Timeline,
    scheduled_time,
)
from oee_pipelines.domain.intervals import (
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    TimeAxis,
    as_utc,
    from_micros,
    group_codes,
    lookup,
    overlap_join,
    split_by_grid,
    to_micros,
)
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED

WINDOW_MINUTES = 15
PERFORMANCE_ALERT_PCT = 105.0
STARTUP_PERIOD_SECONDS = 600.0

# The times and counts every roll-up sums before computing factors.
SUM_COLUMNS = [
    "scheduled_time",
    "planned_downtime",
    "planned_production_time",
    "unplanned_downtime",
    "actual_production_time",
    "unknown_time",
    "ideal_production_time",
    "total_pieces",
    "good_pieces",
    "rejected_pieces",
    "pieces_without_ideal_cycle_time",
]
LOSS_COLUMNS = [
    "breakdowns_minutes",
    "setup_adjustments_minutes",
    "small_stops_minutes",
    "reduced_speed_minutes",
    "startup_rejects_minutes",
    "production_rejects_minutes",
]
FACTOR_COLUMNS = ["availability_pct", "performance_pct", "performance_raw_pct", "quality_pct", "oee_pct"]
SNAPSHOT_COLUMNS = [
    "org_id",
    "machine_id",
    "line_id",
    "shift_id",
    "shift_date",
    "work_order_id",
    "snapshot_time",
    "window_start",
    *SUM_COLUMNS,
    *FACTOR_COLUMNS,
    *LOSS_COLUMNS,
    "pieces_outside_schedule",
    "performance_above_limit",
]
PIECE_COLUMNS = ["total_pieces", "good_pieces", "rejected_pieces", "pieces_without_ideal_cycle_time"]
_LABELS = ("org_id", "line_id", "shift_id", "shift_date", "work_order_id")
_TIME_BY_KIND = {
    PLANNED_STOP: "planned_downtime",
    UNPLANNED_STOP: "unplanned_downtime",
    UNKNOWN_KIND: "unknown_time",
    SMALL_STOP: "small_stops_minutes",
    RUNNING_KIND: "running_minutes",
}


def compute_snapshots(
    *,
    timeline: Timeline,
    line_shifts: pd.DataFrame,
    machines: pd.DataFrame,
    counters: pd.DataFrame,
    schedules: pd.DataFrame,
    window_minutes: int = WINDOW_MINUTES,
    startup_period_seconds: float = STARTUP_PERIOD_SECONDS,
) -> pd.DataFrame:
    """One snapshot per machine per window of the timeline's range.

    `line_shifts`: shift instances per line (`shifts.line_shift_instances`); `machines`: id,
    org_id, line_id; `counters`: enriched `pieces_good`/`pieces_rejected` readings with
    `ideal_cycle_time_s`; `schedules`: context segments (`enrichment.schedule_segments`).
    """
    step = window_minutes * MICROS_PER_MINUTE
    grid = _window_grid(machines, timeline.range_start, timeline.range_end, step)
    keys = ["machine_id", "window_start"]
    scheduled = _scheduled_per_window(line_shifts, machines, step)
    times = _times_per_window(timeline, line_shifts, machines, step)
    inside = _scheduled_counters(counters, line_shifts, machines)
    pieces = _pieces_per_window(inside, timeline, step, startup_period_seconds)
    outside = _outside_per_window(counters, inside, step)
    orders = _work_order_per_window(schedules, machines, step)
    frame = grid.merge(scheduled, on=keys, how="left").merge(times, on=keys, how="left")
    frame = frame.merge(pieces, on=keys, how="left").merge(orders, on=keys, how="left")
    frame = frame.merge(outside, on=keys, how="left")
    numeric = [c for c in frame.columns if c not in (*keys, *_LABELS)]
    frame[numeric] = frame[numeric].astype("float64").fillna(0.0)
    frame["planned_production_time"] = frame["scheduled_time"] - frame["planned_downtime"]
    frame["actual_production_time"] = frame["running_minutes"] + frame["small_stops_minutes"]
    for column in (*PIECE_COLUMNS, "pieces_outside_schedule"):
        frame[column] = frame[column].round().astype("int64")
    frame = pd.concat([frame, oee_factors(frame)], axis=1)
    frame["reduced_speed_minutes"] = (
        frame["actual_production_time"] - frame["small_stops_minutes"] - frame["ideal_production_time"]
    ).where(frame["pieces_without_ideal_cycle_time"] == 0)
    frame["performance_above_limit"] = frame["performance_raw_pct"] > PERFORMANCE_ALERT_PCT
    frame["window_start"] = from_micros(frame["window_start"].to_numpy())
    frame["snapshot_time"] = frame["window_start"] + pd.Timedelta(minutes=window_minutes)
    return frame[SNAPSHOT_COLUMNS].sort_values(["machine_id", "snapshot_time"]).reset_index(drop=True)


def oee_factors(sums: pd.DataFrame) -> pd.DataFrame:
    """Availability, performance (raw and capped), quality and OEE in percent from summed times and pieces.

    Nothing planned: all NULL. Run time 0 with time planned: A = 0, OEE = 0, P and Q NULL.
    Run time but no pieces: P = 0, Q NULL, OEE = 0. Pieces without an ideal cycle time: P and OEE NULL.
    """
    planned = sums["planned_production_time"].to_numpy(dtype=float)
    run = sums["actual_production_time"].to_numpy(dtype=float)
    total = sums["total_pieces"].to_numpy(dtype=float)
    good = sums["good_pieces"].to_numpy(dtype=float)
    ideal = sums["ideal_production_time"].to_numpy(dtype=float)
    missing_ideal = _column_or_zero(sums, "pieces_without_ideal_cycle_time") > 0
    has_plan = planned > 0
    has_run = has_plan & (run > 0)
    has_pieces = has_run & (total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        availability = np.where(has_plan, 100.0 * run / planned, np.nan)
        performance = np.where(has_pieces, 100.0 * ideal / run, np.where(has_run, 0.0, np.nan))
        performance = np.where(has_pieces & missing_ideal, np.nan, performance)
        quality = np.where(has_pieces, 100.0 * good / total, np.nan)
        oee = np.where(
            has_pieces, availability * performance * quality / 10_000.0, np.where(has_plan, 0.0, np.nan)
        )
    return pd.DataFrame(
        {
            "availability_pct": availability,
            "performance_pct": np.minimum(performance, 100.0),
            "performance_raw_pct": performance,
            "quality_pct": quality,
            "oee_pct": oee,
        },
        index=sums.index,
    )


def aggregate(snapshots: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Time-weighted roll-up over windows, machines, lines or shifts: sums first, then the factors."""
    sums = [c for c in [*SUM_COLUMNS, *LOSS_COLUMNS] if c in snapshots.columns]
    totals = snapshots.groupby(by, as_index=False, dropna=False)[sums].sum(min_count=0)
    return pd.concat([totals, oee_factors(totals)], axis=1)


def _column_or_zero(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame))
    return frame[column].fillna(0).to_numpy(dtype=float)


def _window_grid(machines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: int) -> pd.DataFrame:
    first = -(-int(to_micros([as_utc(start)])[0]) // step) * step
    windows = np.arange(first, int(to_micros([as_utc(end)])[0]) - step + 1, step, dtype=np.int64)
    machine_frame = machines[["id", "org_id", "line_id"]].rename(columns={"id": "machine_id"})
    return machine_frame.merge(pd.DataFrame({"window_start": windows}), how="cross")


def _split_minutes(intervals: pd.DataFrame, step: int, group: list[str]) -> pd.DataFrame:
    """Minutes of `intervals` per window and `group` columns (machine_id, window_start, *group)."""
    index, window_start, piece_start, piece_end = split_by_grid(
        to_micros(intervals["start"]), to_micros(intervals["end"]), step
    )
    pieces = intervals.iloc[index][["machine_id", *group]].reset_index(drop=True)
    pieces["window_start"] = window_start
    pieces["micros"] = piece_end - piece_start
    summed = pieces.groupby(["machine_id", "window_start", *group], as_index=False, dropna=False)[
        "micros"
    ].sum()
    summed["minutes"] = summed.pop("micros") / MICROS_PER_MINUTE
    return summed


def _per_machine(line_intervals: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    return (
        machines[["id", "line_id"]].rename(columns={"id": "machine_id"}).merge(line_intervals, on="line_id")
    )


def _largest(minutes: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per machine and window, the `columns` of the row with the most minutes."""
    ordered = minutes.sort_values(["machine_id", "window_start", "minutes"], ascending=[True, True, False])
    return ordered.drop_duplicates(["machine_id", "window_start"])[["machine_id", "window_start", *columns]]


def _scheduled_per_window(line_shifts: pd.DataFrame, machines: pd.DataFrame, step: int) -> pd.DataFrame:
    shifts = _per_machine(scheduled_time(line_shifts), machines)
    minutes = _split_minutes(shifts, step, ["shift_id", "shift_date"])
    total = minutes.groupby(["machine_id", "window_start"], as_index=False)["minutes"].sum()
    total = total.rename(columns={"minutes": "scheduled_time"})
    return total.merge(_largest(minutes, ["shift_id", "shift_date"]), on=["machine_id", "window_start"])


def _times_per_window(
    timeline: Timeline, line_shifts: pd.DataFrame, machines: pd.DataFrame, step: int
) -> pd.DataFrame:
    """Minutes per kind (and per availability-loss category) inside scheduled time."""
    frame = timeline.frame.merge(
        machines[["id", "line_id"]].rename(columns={"id": "machine_id"}), on="machine_id"
    )
    inside = overlap_join(frame, scheduled_time(line_shifts)[["line_id", "start", "end"]], on="line_id")
    minutes = _split_minutes(inside, step, ["kind", "loss_category"])
    by_kind = minutes.pivot_table(
        index=["machine_id", "window_start"], columns="kind", values="minutes", aggfunc="sum", fill_value=0.0
    )
    by_kind = by_kind.rename(columns=_TIME_BY_KIND).reindex(
        columns=list(_TIME_BY_KIND.values()), fill_value=0.0
    )
    unplanned = minutes[minutes["kind"] == UNPLANNED_STOP]
    by_loss = unplanned.pivot_table(
        index=["machine_id", "window_start"], columns="loss_category", values="minutes", aggfunc="sum"
    ).reindex(columns=[LOSS_BREAKDOWNS, LOSS_SETUP], fill_value=0.0)
    by_loss.columns = [f"{c}_minutes" for c in by_loss.columns]
    return by_kind.join(by_loss, how="left").reset_index()


def _scheduled_counters(
    counters: pd.DataFrame, line_shifts: pd.DataFrame, machines: pd.DataFrame
) -> pd.DataFrame:
    """Counter readings whose interval `(ts - interval, ts]` ends inside the line's scheduled time."""
    rows = counters[counters["signal"].isin([PIECES_GOOD, PIECES_REJECTED])]
    shifts = _per_machine(scheduled_time(line_shifts), machines)
    machine_ids = pd.Index(machines["id"]).unique()
    codes, shift_codes = (
        group_codes(rows["machine_id"], machine_ids),
        group_codes(shifts["machine_id"], machine_ids),
    )
    micros, starts, ends = to_micros(rows["ts"]) - 1, to_micros(shifts["start"]), to_micros(shifts["end"])
    axis = TimeAxis.covering(micros, starts, ends, groups=len(machine_ids))
    start_keys, end_keys = axis.encode(shift_codes, starts), axis.encode(shift_codes, ends)
    order = np.argsort(start_keys, kind="stable")
    found = lookup(axis.encode(np.clip(codes, 0, None), micros), start_keys[order], end_keys[order])
    return rows[(found >= 0) & (codes >= 0)]


def _outside_per_window(counters: pd.DataFrame, inside: pd.DataFrame, step: int) -> pd.DataFrame:
    rows = counters[counters["signal"].isin([PIECES_GOOD, PIECES_REJECTED])].drop(index=inside.index)
    frame = pd.DataFrame(
        {
            "machine_id": rows["machine_id"].to_numpy(),
            "window_start": _window_of_reading(to_micros(rows["ts"]), step),
            "pieces_outside_schedule": rows["value"].to_numpy(dtype=float),
        }
    )
    return frame.groupby(["machine_id", "window_start"], as_index=False).sum()


def _window_of_reading(micros: np.ndarray, step: int) -> np.ndarray:
    """Start of a counter reading's window: a reading on a boundary closes the window before it."""
    return -(-micros // step) * step - step


def _pieces_per_window(
    counters: pd.DataFrame, timeline: Timeline, step: int, startup_period_seconds: float
) -> pd.DataFrame:
    """Pieces, ideal time and reject losses per window; a reading at `ts` counts in `(end - step, end]`."""
    rows = counters[counters["signal"].isin([PIECES_GOOD, PIECES_REJECTED])]
    micros = to_micros(rows["ts"])
    ideal = pd.to_numeric(rows["ideal_cycle_time_s"], errors="coerce").to_numpy(dtype=float)
    pieces = rows["value"].to_numpy(dtype=float)
    rejected = (rows["signal"] == PIECES_REJECTED).to_numpy()
    startup = _after_downtime(rows["machine_id"], micros, timeline, startup_period_seconds) & rejected
    reject_minutes = np.where(rejected, np.nan_to_num(ideal) * pieces / 60.0, 0.0)
    frame = pd.DataFrame(
        {
            "machine_id": rows["machine_id"].to_numpy(),
            "window_start": _window_of_reading(micros, step),
            "good_pieces": np.where(rejected, 0.0, pieces),
            "rejected_pieces": np.where(rejected, pieces, 0.0),
            "ideal_production_time": np.nan_to_num(ideal) * pieces / 60.0,
            "pieces_without_ideal_cycle_time": np.where(np.isnan(ideal), pieces, 0.0),
            "startup_rejects_minutes": np.where(startup, reject_minutes, 0.0),
            "production_rejects_minutes": np.where(startup, 0.0, reject_minutes),
        }
    )
    summed = frame.groupby(["machine_id", "window_start"], as_index=False).sum()
    summed["total_pieces"] = summed["good_pieces"] + summed["rejected_pieces"]
    return summed


def _after_downtime(
    machine_ids: pd.Series, micros: np.ndarray, timeline: Timeline, period_seconds: float
) -> np.ndarray:
    """Whether each reading lies within `period_seconds` after the end of a downtime stop (startup)."""
    stops = timeline.frame[timeline.frame["kind"].isin(DOWNTIME_KINDS)]
    ends = pd.DataFrame({"machine_id": stops["machine_id"].to_numpy(), "stop_end": to_micros(stops["end"])})
    readings = pd.DataFrame(
        {"machine_id": machine_ids.to_numpy(), "ts": micros, "order": np.arange(len(micros))}
    )
    matched = pd.merge_asof(
        readings.sort_values("ts"),
        ends.sort_values("stop_end"),
        left_on="ts",
        right_on="stop_end",
        by="machine_id",
        direction="backward",
    ).sort_values("order")
    elapsed = matched["ts"].to_numpy() - matched["stop_end"].to_numpy(dtype=float)
    return (elapsed > 0) & (elapsed <= period_seconds * MICROS_PER_SECOND)


def _work_order_per_window(schedules: pd.DataFrame, machines: pd.DataFrame, step: int) -> pd.DataFrame:
    orders = _per_machine(schedules[schedules["work_order_id"].notna()], machines)
    if orders.empty:
        return pd.DataFrame(columns=["machine_id", "window_start", "work_order_id"])
    return _largest(_split_minutes(orders, step, ["work_order_id"]), ["work_order_id"])
