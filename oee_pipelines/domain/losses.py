"""The six big losses per machine, shift instance and UTC day, with the reason codes beneath each.

Every minute of planned production time lands in exactly one loss category (rows of `LOSS_COLUMNS`):

    planned production time = fully productive time                     (good pieces x ideal cycle time)
                            + breakdowns + setup and adjustments        (availability: unplanned stops)
                            + small stops + reduced speed               (performance)
                            + startup rejects + production rejects      (quality: rejects x ideal cycle time)
                            + unknown time                              (no trustworthy data)

The stop losses come from the machine timeline (`domain.downtime`) inside the line's scheduled time,
with the same rules as the snapshots: an unplanned stop shorter than the microstop threshold is a small
stop, a longer one a breakdown or (reason code's loss category `setup_adjustments`) a setup loss.
Run time without small stops is the time the machine ran; what it should have taken at the ideal
cycle time is the ideal time of its pieces, the difference is reduced speed (negative when faster
than ideal). Rejected pieces are valued at their ideal cycle time: startup rejects within
`STARTUP_PERIOD_SECONDS` after a stop ended, production rejects otherwise (the snapshots' split).
Pieces count where their counter reading ends inside a shift instance of the day, as in the snapshots,
so the per-day sums equal the snapshots' loss columns. Pieces without an ideal cycle time are valued
at 0: their run time stays in reduced speed (the snapshots flag them in
`pieces_without_ideal_cycle_time`).

Beneath each category the rows are split by reason code (with the reason code table's category and
name): minutes and occurrences (stops) per reason. Speed and quality losses carry no reason code; the
reject and fully productive rows carry their pieces instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.downtime import (
    LOSS_BREAKDOWNS,
    LOSS_SETUP,
    LOSS_SMALL_STOPS,
    RUNNING_KIND,
    SMALL_STOP,
    UNKNOWN_KIND,
    UNPLANNED_STOP,
    Timeline,
    scheduled_time,
)
from oee_pipelines.domain.intervals import MICROS_PER_MINUTE, overlap_join, to_micros

# The snapshots' startup rule, shared so that the per-day sums agree with the snapshots' columns.
from oee_pipelines.domain.oee import STARTUP_PERIOD_SECONDS, _after_downtime
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED

LOSS_REDUCED_SPEED = "reduced_speed"
LOSS_STARTUP_REJECTS = "startup_rejects"
LOSS_PRODUCTION_REJECTS = "production_rejects"
UNKNOWN_TIME = "unknown"
FULLY_PRODUCTIVE = "fully_productive"
SIX_BIG_LOSSES = (
    LOSS_BREAKDOWNS,
    LOSS_SETUP,
    LOSS_SMALL_STOPS,
    LOSS_REDUCED_SPEED,
    LOSS_STARTUP_REJECTS,
    LOSS_PRODUCTION_REJECTS,
)
# Every category a minute of planned production time can land in, in the loss tree's order.
LOSS_TREE = (FULLY_PRODUCTIVE, *SIX_BIG_LOSSES, UNKNOWN_TIME)
OEE_FACTOR_OF = {
    FULLY_PRODUCTIVE: "productive",
    LOSS_BREAKDOWNS: "availability",
    LOSS_SETUP: "availability",
    LOSS_SMALL_STOPS: "performance",
    LOSS_REDUCED_SPEED: "performance",
    LOSS_STARTUP_REJECTS: "quality",
    LOSS_PRODUCTION_REJECTS: "quality",
    UNKNOWN_TIME: "unknown",
}
GROUP = ["org_id", "day", "machine_id", "line_id", "shift_id", "shift_date"]
LOSS_COLUMNS = [
    *GROUP,
    "loss_category",
    "oee_factor",
    "reason_category",
    "reason_code",
    "reason_name",
    "minutes",
    "occurrences",
    "pieces",
]
_MACHINE_GROUP = ["machine_id", "shift_id", "shift_date"]


def compute_losses(
    *,
    timeline: Timeline,
    line_shifts: pd.DataFrame,
    machines: pd.DataFrame,
    counters: pd.DataFrame,
    reason_codes: pd.DataFrame,
    startup_period_seconds: float = STARTUP_PERIOD_SECONDS,
) -> pd.DataFrame:
    """The loss tree of one UTC day (the timeline's range, at most a day) in `LOSS_COLUMNS` rows.

    `line_shifts`: shift instances per line; `machines`: id, org_id, line_id; `counters`: enriched
    `pieces_good`/`pieces_rejected` readings with `ideal_cycle_time_s`; `reason_codes`: org_id, code,
    category, name. Rows with nothing in them (no minutes, stops or pieces) are left out.
    """
    if timeline.range_end - timeline.range_start > pd.Timedelta(days=1):
        raise ValueError("compute_losses: the timeline must cover at most one UTC day")
    machine_frame = machines[["id", "org_id", "line_id"]].rename(columns={"id": "machine_id"})
    stops = _stop_losses(timeline, line_shifts, machine_frame)
    running = stops.pop("running")
    pieces = _piece_losses(timeline, line_shifts, machines, counters, startup_period_seconds)
    speed = _reduced_speed(running, pieces)
    present = [frame for frame in (stops["losses"], pieces, speed) if len(frame)]
    if not present:
        return pd.DataFrame(columns=LOSS_COLUMNS)
    rows = pd.concat(present, ignore_index=True)
    rows = rows.merge(machine_frame, on="machine_id")
    rows["day"] = timeline.range_start.date()
    rows["oee_factor"] = rows["loss_category"].map(OEE_FACTOR_OF)
    rows = _with_reasons(rows, reason_codes)
    keep = (rows["minutes"] != 0) | (rows["occurrences"].fillna(0) > 0) | (rows["pieces"].fillna(0) > 0)
    order = {name: position for position, name in enumerate(LOSS_TREE)}
    rows = rows[keep].assign(_order=rows["loss_category"].map(order))
    rows = rows.sort_values(
        ["machine_id", "shift_date", "shift_id", "_order", "reason_code"], na_position="last"
    )
    return rows[LOSS_COLUMNS].reset_index(drop=True)


def summarize(losses: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Minutes per loss category (one column each, `LOSS_TREE` order) and planned production time per `by`."""
    wide = losses.pivot_table(
        index=by, columns="loss_category", values="minutes", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(columns=list(LOSS_TREE), fill_value=0.0)
    wide.columns = [f"{name}_minutes" for name in wide.columns]
    wide["planned_production_minutes"] = wide.sum(axis=1)
    return wide.reset_index()


def reconciliation_gaps(losses: pd.DataFrame, planned: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per `by`: the loss tree's minutes beside `planned["planned_production_time"]` and their difference.

    The identity holds when `difference` is 0 (up to the warehouse's rounding of each snapshot).
    """
    tree = (
        losses.groupby(by, as_index=False)["minutes"].sum().rename(columns={"minutes": "loss_tree_minutes"})
    )
    expected = planned.groupby(by, as_index=False)["planned_production_time"].sum()
    joined = tree.merge(expected, on=by, how="outer").fillna(
        {"loss_tree_minutes": 0.0, "planned_production_time": 0.0}
    )
    joined["difference"] = joined["loss_tree_minutes"] - joined["planned_production_time"]
    return joined


def _stop_losses(
    timeline: Timeline, line_shifts: pd.DataFrame, machine_frame: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Stop and unknown minutes per machine, shift instance and reason; running minutes per shift."""
    frame = timeline.frame.merge(machine_frame[["machine_id", "line_id"]], on="machine_id")
    # One occurrence per stop: a stop split by a window, a layer or a shift keeps its first instant.
    frame = frame.assign(event_start=frame["stop_start"].where(frame["stop_start"].notna(), frame["start"]))
    shifts = scheduled_time(line_shifts)[["line_id", "start", "end", "shift_id", "shift_date"]]
    empty = pd.DataFrame(columns=[*_MACHINE_GROUP, "minutes"])
    if frame.empty or shifts.empty:
        return {"losses": empty.assign(loss_category=None), "running": empty}
    inside = overlap_join(frame, shifts, on="line_id")
    inside["minutes"] = (to_micros(inside["end"]) - to_micros(inside["start"])) / MICROS_PER_MINUTE
    category = np.select(
        [
            inside["kind"] == UNPLANNED_STOP,
            inside["kind"] == SMALL_STOP,
            inside["kind"] == UNKNOWN_KIND,
        ],
        [inside["loss_category"].fillna(LOSS_BREAKDOWNS), LOSS_SMALL_STOPS, UNKNOWN_TIME],
        default="",
    )
    inside["loss_category"] = category
    inside["reason_code"] = inside["reason_code"].where(inside["kind"] != UNKNOWN_KIND, None)
    losses = inside[inside["loss_category"] != ""]
    grouped = losses.groupby(
        [*_MACHINE_GROUP, "loss_category", "reason_code"], as_index=False, dropna=False
    ).agg(minutes=("minutes", "sum"), occurrences=("event_start", "nunique"))
    running = inside[inside["kind"] == RUNNING_KIND]
    running = running.groupby(_MACHINE_GROUP, as_index=False)["minutes"].sum()
    return {"losses": grouped.assign(pieces=np.nan), "running": running}


def _piece_losses(
    timeline: Timeline,
    line_shifts: pd.DataFrame,
    machines: pd.DataFrame,
    counters: pd.DataFrame,
    startup_period_seconds: float,
) -> pd.DataFrame:
    """Fully productive time and the two reject losses per machine and shift instance (pieces too)."""
    counters = counters[counters["signal"].isin([PIECES_GOOD, PIECES_REJECTED])]
    micros = to_micros(counters["ts"]) if len(counters) else np.array([], dtype=np.int64)
    start, end = to_micros([timeline.range_start, timeline.range_end])
    in_day = counters[(micros > start) & (micros <= end)] if len(counters) else counters
    inside = _with_shift(in_day, line_shifts, machines) if len(in_day) else in_day
    if inside.empty:
        return pd.DataFrame(columns=[*_MACHINE_GROUP, "loss_category", "minutes", "pieces"])
    pieces = inside["value"].to_numpy(dtype=float)
    ideal = pd.to_numeric(inside["ideal_cycle_time_s"], errors="coerce").to_numpy(dtype=float)
    rejected = (inside["signal"] == PIECES_REJECTED).to_numpy()
    startup = _after_downtime(inside["machine_id"], to_micros(inside["ts"]), timeline, startup_period_seconds)
    category = np.where(
        rejected, np.where(startup, LOSS_STARTUP_REJECTS, LOSS_PRODUCTION_REJECTS), FULLY_PRODUCTIVE
    )
    frame = inside[_MACHINE_GROUP].assign(
        loss_category=category, minutes=np.nan_to_num(ideal) * pieces / 60.0, pieces=pieces
    )
    return frame.groupby([*_MACHINE_GROUP, "loss_category"], as_index=False)[["minutes", "pieces"]].sum()


def _with_shift(readings: pd.DataFrame, line_shifts: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    """The shift instance each reading's interval ends in (`(start, end]`, as the snapshots count it)."""
    shifts = scheduled_time(line_shifts).merge(
        machines[["id", "line_id"]].rename(columns={"id": "machine_id"}), on="line_id"
    )
    shifts = shifts.assign(start_us=to_micros(shifts["start"]), end_us=to_micros(shifts["end"]))
    lookup = readings.assign(ts_us=to_micros(readings["ts"]) - 1, _row=np.arange(len(readings)))
    matched = pd.merge_asof(
        lookup.sort_values("ts_us"),
        shifts[["machine_id", "start_us", "end_us", "shift_id", "shift_date"]].sort_values("start_us"),
        left_on="ts_us",
        right_on="start_us",
        by="machine_id",
        direction="backward",
    ).sort_values("_row")
    return matched[matched["ts_us"] < matched["end_us"]]


def _reduced_speed(running: pd.DataFrame, pieces: pd.DataFrame) -> pd.DataFrame:
    """Run time (without small stops) minus the ideal time of every piece made, per machine and shift."""
    ideal = pieces.groupby(_MACHINE_GROUP, as_index=False)["minutes"].sum() if len(pieces) else pieces
    if running.empty and ideal.empty:
        return pd.DataFrame(columns=[*_MACHINE_GROUP, "loss_category", "minutes"])
    joined = running.merge(ideal, on=_MACHINE_GROUP, how="outer", suffixes=("_run", "_ideal"))
    minutes = joined["minutes_run"].astype(float).fillna(0.0) - joined["minutes_ideal"].astype(float).fillna(
        0.0
    )
    return joined[_MACHINE_GROUP].assign(loss_category=LOSS_REDUCED_SPEED, minutes=minutes)


def _with_reasons(rows: pd.DataFrame, reason_codes: pd.DataFrame) -> pd.DataFrame:
    reasons = reason_codes[["org_id", "code", "category", "name"]].rename(
        columns={"code": "reason_code", "category": "reason_category", "name": "reason_name"}
    )
    if "reason_code" not in rows:
        rows["reason_code"] = None
    rows["reason_code"] = rows["reason_code"].astype(object).where(rows["reason_code"].notna(), None)
    merged = rows.merge(
        reasons.drop_duplicates(["org_id", "reason_code"]), on=["org_id", "reason_code"], how="left"
    )
    for column in ("occurrences", "pieces"):
        if column not in merged:
            merged[column] = np.nan
    merged["occurrences"] = merged["occurrences"].astype("Int64")
    merged["pieces"] = pd.to_numeric(merged["pieces"]).round().astype("Int64")
    return merged
