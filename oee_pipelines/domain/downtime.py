"""Machine timelines and downtime events: what each machine was doing at every instant of a range.

A machine's timeline covers `[range_start, range_end)` with non-overlapping pieces of one kind:
running, small stop, planned stop, unplanned stop or unknown. Precedence where sources overlap:

1. Time inside a gap of the machine's data (no `machine_state` or counter reading for longer than
   `max_state_gap_seconds`), or before its first state reading, is unknown: the state signal
   cannot be trusted there.
2. Elsewhere the machine's state signal decides (measured beats reported): a stop is a run of
   state rows with the same reason code, and lasts until the next state change.
3. Imported and MES-reported downtime fill only unknown time, so they are never counted on top of
   a measured stop (no double counting) and never turn measured running time into downtime.

Stops are classified with the reason-code table: planned codes are planned stops; unplanned
stops shorter than `microstop_threshold_seconds` (judged on the whole stop, before any clipping)
are small stops, a performance loss counted in run time; longer ones are unplanned downtime in
the loss category `setup_adjustments` when the code says so, `breakdowns` otherwise. A code
missing from the table is unplanned and raises an alert.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oee_pipelines.domain.alerts import (
    UNKNOWN_REASON_CODE,
    UNKNOWN_TIME,
    alert_rows,
    concat_alerts,
)
from oee_pipelines.domain.intervals import (
    MICROS_PER_SECOND,
    TimeAxis,
    as_utc,
    flatten_latest,
    from_micros,
    group_codes,
    merge_adjacent,
    overlap_join,
    paint,
    silences,
    to_micros,
    to_utc_datetimes,
)
from oee_pipelines.domain.telemetry import MACHINE_STATE, PIECES_GOOD, PIECES_REJECTED, RUNNING

RUNNING_KIND = "running"
SMALL_STOP = "small_stop"
PLANNED_STOP = "planned_stop"
UNPLANNED_STOP = "unplanned_stop"
UNKNOWN_KIND = "unknown"
DOWNTIME_KINDS = (PLANNED_STOP, UNPLANNED_STOP)

LOSS_BREAKDOWNS = "breakdowns"
LOSS_SETUP = "setup_adjustments"
LOSS_SMALL_STOPS = "small_stops"
LOSS_PLANNED = "planned_stop"

TIMELINE_COLUMNS = [
    "machine_id",
    "start",
    "end",
    "kind",
    "reason_code",
    "loss_category",
    "is_planned",
    "stop_start",
    "stop_duration_s",
    "is_open",
    "source_system",
    "source_ref",
    "description",
    "operator_id",
]
DOWNTIME_EVENT_COLUMNS = [
    "org_id",
    "machine_id",
    "line_id",
    "start_time",
    "end_time",
    "duration_minutes",
    "is_planned",
    "reason_code",
    "loss_category",
    "description",
    "operator_id",
    "is_resolved",
    "source_system",
    "source_ref",
]


@dataclass(frozen=True)
class DowntimeSettings:
    microstop_threshold_seconds: float = 120.0
    max_state_gap_seconds: float = 300.0


@dataclass(frozen=True)
class Timeline:
    frame: pd.DataFrame
    alerts: pd.DataFrame
    range_start: pd.Timestamp
    range_end: pd.Timestamp


def build_timeline(
    *,
    telemetry: pd.DataFrame,
    reason_codes: pd.DataFrame,
    machines: pd.DataFrame,
    range_start: pd.Timestamp,
    range_end: pd.Timestamp,
    imported_downtime: pd.DataFrame | None = None,
    settings: DowntimeSettings | None = None,
) -> Timeline:
    """The timeline of every machine in `machines` over `[range_start, range_end)`.

    `telemetry` holds at least machine_id, signal, ts, value, text_value, source_system and
    source_ref; pass state rows from before `range_start` (the state holds from its last change)
    and after `range_end` (a stop crossing the end is judged on its whole length).
    `imported_downtime` has the `oee_downtime_events` columns (start_time, end_time, reason_code...).
    """
    settings = settings or DowntimeSettings()
    start, end = as_utc(range_start), as_utc(range_end)
    machine_ids = pd.Index(machines["id"]).unique()
    org_of = machines.set_index("id")["org_id"]
    reasons = reason_codes.drop_duplicates("code").set_index("code")
    states = _state_intervals(telemetry, start, end)
    states = _classify(states, reasons, settings)
    gaps = _data_gaps(telemetry, machine_ids, start, end, settings)
    background = pd.DataFrame({"machine_id": machine_ids, "start": start, "end": end, "kind": UNKNOWN_KIND})
    measured = _paint_frames([gaps, states, background], machine_ids, start, end)
    imported = _classify(_imported_intervals(imported_downtime, end), reasons, settings)
    known = measured["kind"] != UNKNOWN_KIND
    frame = _paint_frames([measured[known], imported, measured[~known]], machine_ids, start, end)
    alerts = concat_alerts(
        [_unknown_time_alerts(frame, org_of), _unknown_reason_alerts(states, reasons, org_of)]
    )
    return Timeline(frame=frame, alerts=alerts, range_start=start, range_end=end)


def downtime_events(timeline: Timeline, line_shifts: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    """`oee_downtime_events` rows: the planned and unplanned stops inside scheduled time.

    A stop is clipped to the line's shift instances; a stop running through a shift change stays
    one event. Small stops are not downtime (they appear in the snapshots' small-stop minutes).
    """
    stops = timeline.frame[timeline.frame["kind"].isin(DOWNTIME_KINDS)]
    stops = stops.merge(
        machines[["id", "org_id", "line_id"]].rename(columns={"id": "machine_id"}), on="machine_id"
    )
    scheduled = scheduled_time(line_shifts)
    clipped = overlap_join(stops, scheduled[["line_id", "start", "end"]], on="line_id")
    events = merge_adjacent(clipped, ["machine_id", "stop_start", "kind", "reason_code", "source_system"])
    if events.empty:
        return pd.DataFrame(columns=DOWNTIME_EVENT_COLUMNS)
    events["start_time"], events["end_time"] = events["start"], events["end"]
    events["duration_minutes"] = (events["end"] - events["start"]).dt.total_seconds() / 60.0
    events["is_resolved"] = ~(events["is_open"].astype(bool) & (events["end"] >= timeline.range_end))
    return events[DOWNTIME_EVENT_COLUMNS].sort_values(["machine_id", "start_time"]).reset_index(drop=True)


def scheduled_time(line_shifts: pd.DataFrame) -> pd.DataFrame:
    """Shift instances per line flattened so that overlapping shifts are not counted twice."""
    return flatten_latest(line_shifts, "line_id")


def _state_intervals(telemetry: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """One row per run of equal state: [change, next change), reason code in `reason_code`."""
    rows = telemetry[telemetry["signal"] == MACHINE_STATE]
    rows = rows.assign(ts=to_utc_datetimes(rows["ts"])).sort_values(["machine_id", "ts"], kind="stable")
    running_by_value = pd.Series(RUNNING, index=rows.index).where(rows["value"].astype(float) >= 0.5)
    code = rows["text_value"].where(rows["text_value"].notna(), running_by_value)
    code = code.where(code.notna(), None)
    machine = rows["machine_id"]
    changed = (machine != machine.shift()) | ~((code == code.shift()) | (code.isna() & code.shift().isna()))
    runs = rows.assign(reason_code=code)[changed.to_numpy()]
    next_start = runs.groupby("machine_id")["ts"].shift(-1)
    is_open = next_start.isna()
    observed_end = next_start.where(~is_open, runs["ts"].clip(lower=end))
    return pd.DataFrame(
        {
            "machine_id": runs["machine_id"].to_numpy(),
            "start": runs["ts"].to_numpy(),
            "end": to_utc_datetimes(observed_end).to_numpy(),
            "reason_code": runs["reason_code"].to_numpy(),
            "is_open": is_open.to_numpy(),
            "source_system": runs["source_system"].to_numpy(),
            "source_ref": runs["source_ref"].to_numpy(),
            "description": "machine_state",
            "operator_id": None,
            "is_planned_hint": None,
        }
    ).assign(start=lambda f: to_utc_datetimes(f["start"]), end=lambda f: to_utc_datetimes(f["end"]))


def _imported_intervals(imported: pd.DataFrame | None, end: pd.Timestamp) -> pd.DataFrame:
    if imported is None or imported.empty:
        return pd.DataFrame(
            columns=["machine_id", "start", "end", "reason_code", "is_open", "is_planned_hint"]
        )
    frame = imported.rename(columns={"start_time": "start", "end_time": "end"}).copy()
    frame["start"] = to_utc_datetimes(frame["start"])
    frame["is_open"] = frame["end"].isna()
    frame["end"] = to_utc_datetimes(frame["end"]).fillna(frame["start"].clip(lower=end))
    frame["is_planned_hint"] = frame.get("is_planned", None)
    for column in ("source_ref", "description", "operator_id"):
        if column not in frame:
            frame[column] = None
    return frame


def _classify(intervals: pd.DataFrame, reasons: pd.DataFrame, settings: DowntimeSettings) -> pd.DataFrame:
    """Kind, planned flag and effective loss category of each interval, from its reason code."""
    if intervals.empty:
        return intervals.assign(kind=pd.Series(dtype=object), loss_category=None, is_planned=None)
    frame = intervals.copy()
    code = frame["reason_code"]
    known = code.isin(reasons.index)
    table_planned = code.map(reasons["is_planned"]).astype("boolean")
    hint = pd.Series(frame["is_planned_hint"], index=frame.index).astype("boolean")
    planned = table_planned.where(known, hint).fillna(False).astype(bool)
    running = (code == RUNNING).to_numpy()
    duration_s = (frame["end"] - frame["start"]).dt.total_seconds()
    short = (duration_s < settings.microstop_threshold_seconds).to_numpy()
    setup = (code.map(reasons["loss_category"]) == LOSS_SETUP).to_numpy()
    frame["kind"] = np.select(
        [running, planned.to_numpy(), short], [RUNNING_KIND, PLANNED_STOP, SMALL_STOP], UNPLANNED_STOP
    )
    loss = np.select(
        [planned.to_numpy(), short, setup], [LOSS_PLANNED, LOSS_SMALL_STOPS, LOSS_SETUP], LOSS_BREAKDOWNS
    )
    frame["loss_category"] = pd.Series(loss, index=frame.index, dtype=object).mask(running)
    frame["is_planned"] = planned.to_numpy() & ~running
    frame["stop_start"] = frame["start"]
    frame["stop_duration_s"] = duration_s
    frame["reason_known"] = known | running
    return frame


def _data_gaps(
    telemetry: pd.DataFrame,
    machine_ids: pd.Index,
    start: pd.Timestamp,
    end: pd.Timestamp,
    settings: DowntimeSettings,
) -> pd.DataFrame:
    """Unknown intervals: silences of a machine's state and counter signals longer than the maximum."""
    live = telemetry[telemetry["signal"].isin([MACHINE_STATE, PIECES_GOOD, PIECES_REJECTED])]
    max_gap = np.full(len(machine_ids), int(settings.max_state_gap_seconds * MICROS_PER_SECOND))
    codes, gap_starts, gap_ends = silences(
        group_codes(live["machine_id"], machine_ids),
        to_micros(live["ts"]),
        max_gap,
        int(to_micros([start])[0]),
        int(to_micros([end])[0]),
    )
    return pd.DataFrame(
        {
            "machine_id": machine_ids[codes],
            "start": from_micros(gap_starts),
            "end": from_micros(gap_ends),
            "kind": UNKNOWN_KIND,
            "description": "no data",
        }
    )


def _paint_frames(
    layers: list[pd.DataFrame], machine_ids: pd.Index, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Flatten per-machine interval frames (first frame on top), clipped to [start, end)."""
    candidates = pd.concat(
        [layer.reset_index(drop=True) for layer in layers if len(layer)], ignore_index=True
    )
    offsets = np.cumsum([0] + [len(layer) for layer in layers])
    codes = group_codes(candidates["machine_id"], machine_ids)
    starts = np.clip(to_micros(candidates["start"]), *to_micros([start, end]))
    ends = np.clip(to_micros(candidates["end"]), *to_micros([start, end]))
    axis = TimeAxis.covering(starts, ends, groups=len(machine_ids))
    valid = (codes >= 0) & (ends > starts)
    encoded = [
        (
            axis.encode(codes[lo:hi][valid[lo:hi]], starts[lo:hi][valid[lo:hi]]),
            axis.encode(codes[lo:hi][valid[lo:hi]], ends[lo:hi][valid[lo:hi]]),
        )
        for lo, hi in itertools.pairwise(offsets)
    ]
    valid_rows = np.flatnonzero(valid)
    layer_offsets = np.cumsum([0] + [len(keys) for keys, _ in encoded])
    piece_start, piece_end, layer, row = paint(encoded)
    source_rows = valid_rows[layer_offsets[layer] + row]
    frame = candidates.iloc[source_rows].reset_index(drop=True)
    frame["start"] = from_micros(axis.decode(piece_start))
    frame["end"] = from_micros(axis.decode(piece_end))
    for column in TIMELINE_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[TIMELINE_COLUMNS].sort_values(["machine_id", "start"]).reset_index(drop=True)


def _unknown_time_alerts(timeline: pd.DataFrame, org_of: pd.Series) -> pd.DataFrame:
    unknown = timeline[timeline["kind"] == UNKNOWN_KIND]
    minutes = (unknown["end"] - unknown["start"]).dt.total_seconds() / 60.0
    details = [
        {"start": s.isoformat(), "end": e.isoformat()}
        for s, e in zip(unknown["start"], unknown["end"], strict=True)
    ]
    return alert_rows(
        org_id=unknown["machine_id"].map(org_of),
        machine_id=unknown["machine_id"],
        alert_type=UNKNOWN_TIME,
        timestamp_utc=unknown["start"],
        metric_name="unknown_minutes",
        metric_value=minutes,
        details=pd.Series(details, dtype=object),
    )


def _unknown_reason_alerts(states: pd.DataFrame, reasons: pd.DataFrame, org_of: pd.Series) -> pd.DataFrame:
    if states.empty:
        return concat_alerts([])
    unknown = states[~states["reason_known"].astype(bool)].assign(
        reason_code=lambda f: f["reason_code"].fillna("")
    )
    first = unknown.groupby(["machine_id", "reason_code"], as_index=False).agg(
        timestamp_utc=("start", "min"), occurrences=("start", "size")
    )
    return alert_rows(
        org_id=first["machine_id"].map(org_of),
        machine_id=first["machine_id"],
        alert_type=UNKNOWN_REASON_CODE,
        timestamp_utc=first["timestamp_utc"],
        metric_name="machine_state",
        metric_value=first["occurrences"],
        details=pd.Series([{"reason_code": c} for c in first["reason_code"]], dtype=object),
    )
