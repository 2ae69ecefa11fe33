"""Ground-truth OEE per machine per 15-minute window, computed from the simulator's own event log.

This is deliberately a second, independent implementation of the OEE time model of
docs/architecture.md: it imports nothing from `oee_pipelines.domain` (a test checks), so the
pipeline's OEE can be compared against it and the comparison can fail.

Model, per window `[window_start, window_start + 15 min)`:
- scheduled time: overlap with the line's shifts;
- planned downtime: stops with a planned reason code, inside scheduled time;
- unplanned downtime: unplanned stops whose whole duration is at least the microstop threshold,
  inside scheduled time; shorter ones are small stops and count as run time;
- time no state covers counts as unplanned downtime (the simulator's log has none);
- pieces: counter rows with `ts` in `(window_start, window_end]`, each valued at the ideal cycle
  time of the work order running during `(ts - 60 s, ts]`.
Percentages: nothing planned -> all NULL; run time 0 -> availability 0, OEE 0, performance and
quality NULL; no pieces with run time -> quality NULL, OEE 0.

The six big losses per window (minutes), which with the fully productive time add up to the planned
production minutes:
- breakdowns / setup and adjustments: unplanned downtime whose reason code's loss category is
  `setup_adjustments` is setup, the rest breakdowns (time no state covers is `unknown_minutes`,
  still counted in unplanned downtime above);
- small stops: the unplanned stops under the threshold, inside scheduled time;
- reduced speed: run minutes - small stops - ideal minutes of every piece;
- startup / production rejects: rejected pieces x ideal cycle time; a counter row is in a startup
  when the last planned or unplanned downtime stop that ended at or before `ts` ended less than
  `STARTUP_PERIOD_SECONDS` earlier (strictly after it);
- fully productive: good pieces x ideal cycle time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

WINDOW_SECONDS = 900
PIECE_INTERVAL_SECONDS = 60
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
STARTUP_PERIOD_SECONDS = 600
RUN, PLANNED_STOP, UNPLANNED_DOWN, SETUP_DOWN, SMALL_STOP, UNCOVERED = 0, 1, 2, 3, 4, 5
DOWNTIME = (PLANNED_STOP, UNPLANNED_DOWN, SETUP_DOWN)

TRUTH_COLUMNS = [
    "machine_id",
    "line_id",
    "snapshot_time",
    "window_start",
    "shift_id",
    "work_order_id",
    "scheduled_minutes",
    "planned_downtime_minutes",
    "planned_production_minutes",
    "unplanned_downtime_minutes",
    "run_minutes",
    "ideal_run_minutes",
    "total_pieces",
    "good_pieces",
    "rejected_pieces",
    "availability_pct",
    "performance_pct",
    "quality_pct",
    "oee_pct",
    "fully_productive_minutes",
    "breakdowns_minutes",
    "setup_adjustments_minutes",
    "small_stops_minutes",
    "reduced_speed_minutes",
    "startup_rejects_minutes",
    "production_rejects_minutes",
    "unknown_minutes",
]


@dataclass(frozen=True)
class TruthInputs:
    """The event log and the plan the truth is computed from (times as UTC timestamps)."""

    machines: pd.DataFrame  # machine_id, line_id
    scheduled: pd.DataFrame  # line_id, shift_id, start_time, end_time: shift instances
    states: pd.DataFrame  # machine_id, start_time, end_time, reason_code (null while running)
    reason_codes: pd.DataFrame  # code, is_planned (and loss_category: setup_adjustments marks setup)
    pieces: pd.DataFrame  # machine_id, ts, good, rejected: increments of (ts - 60 s, ts]
    work_orders: pd.DataFrame  # id, line_id, planned_start, planned_end, ideal_cycle_time_s


@dataclass(frozen=True)
class Intervals:
    """Sorted, non-overlapping [start, end) intervals in epoch seconds, with one label each."""

    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, start: str, end: str, label: str) -> Intervals:
        ordered = frame.sort_values(start, kind="stable")
        return cls(_seconds(ordered[start]), _seconds(ordered[end]), ordered[label].to_numpy())

    def index_at(self, points: np.ndarray) -> np.ndarray:
        """For each point, the index of the interval holding it, or -1."""
        index = np.searchsorted(self.starts, points, side="right") - 1
        if len(self.starts) == 0:
            return np.full(len(points), -1)
        inside = (index >= 0) & (points < self.ends[np.maximum(index, 0)])
        return np.where(inside, index, -1).astype(np.int64)

    def label_at(self, points: np.ndarray) -> np.ndarray:
        """For each point, the label of the interval holding it, or None."""
        index = self.index_at(points)
        labels = np.full(len(points), None, dtype=object)
        labels[index >= 0] = self.labels[index[index >= 0]]
        return labels


def true_oee(
    inputs: TruthInputs,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    microstop_threshold_seconds: float = 120,
) -> pd.DataFrame:
    """One row per machine per 15-minute window of [start, end) (both on quarter hours)."""
    start_s, end_s = _seconds(pd.Series([pd.Timestamp(start), pd.Timestamp(end)]))
    if start_s % WINDOW_SECONDS or end_s % WINDOW_SECONDS or end_s <= start_s:
        raise ValueError("true_oee: start and end must be quarter hours with end after start")
    window_starts = np.arange(start_s, end_s, WINDOW_SECONDS)
    codes = inputs.reason_codes
    planned_codes = set(codes.loc[codes["is_planned"].astype(bool), "code"])
    setup_codes = set(
        codes.loc[codes.get("loss_category", pd.Series(index=codes.index)) == "setup_adjustments", "code"]
    )
    states, pieces = _groups(inputs.states, "machine_id"), _groups(inputs.pieces, "machine_id")
    scheduled, work_orders = _groups(inputs.scheduled, "line_id"), _groups(inputs.work_orders, "line_id")
    frames = []
    for machine_id, line_id in inputs.machines[["machine_id", "line_id"]].itertuples(index=False):
        shifts = Intervals.from_frame(scheduled(line_id), "start_time", "end_time", "shift_id")
        orders = work_orders(line_id)
        stops = _classified_stops(states(machine_id), planned_codes, setup_codes, microstop_threshold_seconds)
        times = _window_times(stops, shifts, window_starts)
        frame = pd.concat([times, _window_pieces(pieces(machine_id), orders, window_starts, stops)], axis=1)
        frame.insert(0, "machine_id", machine_id)
        frame.insert(1, "line_id", line_id)
        frame["shift_id"] = shifts.label_at(window_starts)
        order_ids = Intervals.from_frame(orders, "planned_start", "planned_end", "id")
        frame["work_order_id"] = order_ids.label_at(window_starts)
        frame["window_start"] = pd.to_datetime(window_starts, unit="s", utc=True)
        frame["snapshot_time"] = frame["window_start"] + pd.Timedelta(seconds=WINDOW_SECONDS)
        frames.append(frame)
    return _with_percentages(
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TRUTH_COLUMNS)
    )


def _groups(frame: pd.DataFrame, key: str) -> Callable[[str], pd.DataFrame]:
    """Rows of `frame` per value of `key`, split once (an empty frame for a value with no rows)."""
    split = {value: rows for value, rows in frame.groupby(key, sort=False)}
    return lambda value: split.get(value, frame.iloc[0:0])


def _seconds(values: pd.Series) -> np.ndarray:
    return ((pd.to_datetime(values, utc=True) - EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class Stops:
    """A machine's state log as intervals with a kind each (RUN, PLANNED_STOP, ... SMALL_STOP)."""

    intervals: Intervals
    kinds: np.ndarray

    def downtime_ends(self) -> np.ndarray:
        """Sorted ends of the planned and unplanned downtime stops (small stops are not downtime)."""
        return np.sort(self.intervals.ends[np.isin(self.kinds, DOWNTIME)])


def _classified_stops(
    states: pd.DataFrame, planned_codes: set[str], setup_codes: set[str], microstop_threshold_seconds: float
) -> Stops:
    stops = Intervals.from_frame(states, "start_time", "end_time", "reason_code")
    reasons = stops.labels
    long_enough = stops.ends - stops.starts >= microstop_threshold_seconds
    unplanned = np.where(
        long_enough, np.where(np.isin(reasons, list(setup_codes)), SETUP_DOWN, UNPLANNED_DOWN), SMALL_STOP
    )
    kinds = np.where(
        pd.isna(reasons), RUN, np.where(np.isin(reasons, list(planned_codes)), PLANNED_STOP, unplanned)
    )
    return Stops(stops, kinds.astype(np.int64))


def _window_times(stops: Stops, shifts: Intervals, window_starts: np.ndarray) -> pd.DataFrame:
    """Scheduled, planned-down, unplanned-down and per-loss seconds per window, as minutes."""
    intervals, kinds = stops.intervals, stops.kinds
    range_start, range_end = window_starts[0], window_starts[-1] + WINDOW_SECONDS
    edges = np.concatenate(
        (intervals.starts, intervals.ends, shifts.starts, shifts.ends, window_starts, [range_end])
    )
    edges = np.unique(np.clip(edges, range_start, range_end))
    left, durations = edges[:-1], np.diff(edges)
    state_index = intervals.index_at(left)
    kind = np.where(state_index >= 0, kinds[np.maximum(state_index, 0)] if len(kinds) else RUN, UNCOVERED)
    scheduled = durations * (shifts.index_at(left) >= 0)
    window = ((left - range_start) // WINDOW_SECONDS).astype(np.int64)
    count = len(window_starts)

    def minutes(weights: np.ndarray) -> np.ndarray:
        return np.bincount(window, weights=weights, minlength=count) / 60.0

    return pd.DataFrame(
        {
            "scheduled_minutes": minutes(scheduled),
            "planned_downtime_minutes": minutes(scheduled * (kind == PLANNED_STOP)),
            "unplanned_downtime_minutes": minutes(
                scheduled * np.isin(kind, (UNPLANNED_DOWN, SETUP_DOWN, UNCOVERED))
            ),
            "breakdowns_minutes": minutes(scheduled * (kind == UNPLANNED_DOWN)),
            "setup_adjustments_minutes": minutes(scheduled * (kind == SETUP_DOWN)),
            "small_stops_minutes": minutes(scheduled * (kind == SMALL_STOP)),
            "unknown_minutes": minutes(scheduled * (kind == UNCOVERED)),
        }
    )


def _window_pieces(
    pieces: pd.DataFrame, orders: pd.DataFrame, window_starts: np.ndarray, stops: Stops
) -> pd.DataFrame:
    """Pieces, their ideal run time and the reject losses per window: counter rows with ts in
    (window_start, window_end]."""
    range_start = window_starts[0]
    range_end = range_start + WINDOW_SECONDS * len(window_starts)
    ts = _seconds(pieces["ts"])
    inside = (ts > range_start) & (ts <= range_end)
    ts = ts[inside]
    good = pieces["good"].to_numpy(dtype=np.int64)[inside]
    rejected = pieces["rejected"].to_numpy(dtype=np.int64)[inside]
    ideal = Intervals.from_frame(orders, "planned_start", "planned_end", "ideal_cycle_time_s")
    # A minute's pieces belong to the order running through (ts - 60 s, ts]: look up its first instant.
    order_index = ideal.index_at(ts - PIECE_INTERVAL_SECONDS)
    unattributed = (order_index < 0) & (good + rejected > 0)
    if unattributed.any():
        first = pd.to_datetime(ts[unattributed][0], unit="s", utc=True)
        raise ValueError(f"true_oee: pieces outside any work order at {first}")
    cycle = np.where(
        order_index >= 0, ideal.labels[np.maximum(order_index, 0)] if len(ideal.labels) else 0.0, 0.0
    )
    window = (np.ceil((ts - range_start) / WINDOW_SECONDS) - 1).astype(np.int64)
    count = len(window_starts)
    good_total = np.bincount(window, weights=good, minlength=count).astype(np.int64)
    rejected_total = np.bincount(window, weights=rejected, minlength=count).astype(np.int64)
    cycle = cycle.astype(np.float64)
    ends = stops.downtime_ends()
    last_end = np.searchsorted(ends, ts, side="right") - 1
    since = ts - np.where(last_end >= 0, ends[np.maximum(last_end, 0)] if len(ends) else 0.0, -np.inf)
    startup = (since > 0) & (since <= STARTUP_PERIOD_SECONDS)

    def minutes(weights: np.ndarray) -> np.ndarray:
        return np.bincount(window, weights=weights, minlength=count) / 60.0

    return pd.DataFrame(
        {
            "fully_productive_minutes": minutes(cycle * good),
            "startup_rejects_minutes": minutes(cycle * rejected * startup),
            "production_rejects_minutes": minutes(cycle * rejected * ~startup),
            "ideal_run_minutes": np.bincount(window, weights=cycle * (good + rejected), minlength=count)
            / 60.0,
            "total_pieces": good_total + rejected_total,
            "good_pieces": good_total,
            "rejected_pieces": rejected_total,
        }
    )


def _with_percentages(frame: pd.DataFrame) -> pd.DataFrame:
    frame["planned_production_minutes"] = frame["scheduled_minutes"] - frame["planned_downtime_minutes"]
    frame["run_minutes"] = frame["planned_production_minutes"] - frame["unplanned_downtime_minutes"]
    planned = frame["planned_production_minutes"].to_numpy(dtype=np.float64)
    run = frame["run_minutes"].to_numpy(dtype=np.float64)
    total = frame["total_pieces"].to_numpy(dtype=np.float64)
    ideal = frame["ideal_run_minutes"].to_numpy(dtype=np.float64)
    has_plan, has_run, has_pieces = planned > 0, run > 0, total > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        availability = np.where(has_plan, 100.0 * run / planned, np.nan)
        performance = np.where(has_plan & has_run, 100.0 * ideal / run, np.nan)
        quality = np.where(has_plan & has_run & has_pieces, 100.0 * frame["good_pieces"] / total, np.nan)
        oee = np.where(has_run & has_pieces, availability * performance * quality / 10_000.0, 0.0)
    frame["availability_pct"] = availability
    frame["performance_pct"] = performance
    frame["quality_pct"] = quality
    frame["oee_pct"] = np.where(has_plan, oee, np.nan)
    frame["reduced_speed_minutes"] = frame["run_minutes"] - frame["small_stops_minutes"] - ideal
    return frame[TRUTH_COLUMNS]
