"""Shift reports: per line per shift instance, the time-weighted OEE of its snapshots and what stopped it.

A line's figures sum its machines' times and pieces (machine-minutes), then compute the factors.
A report is `draft` until the shift has ended and every machine of the line has sent data up to
the shift end (its latest state or counter reading is no older than the allowed gap before the
end); then it is `final`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.downtime import DowntimeSettings, scheduled_time
from oee_pipelines.domain.intervals import as_utc, overlap_join, to_utc_datetimes
from oee_pipelines.domain.oee import aggregate
from oee_pipelines.domain.telemetry import MACHINE_STATE, PIECES_GOOD, PIECES_REJECTED

SHIFT_REPORT_COLUMNS = [
    "org_id",
    "line_id",
    "shift_id",
    "shift_date",
    "shift_start",
    "shift_end",
    "planned_production_time",
    "actual_production_time",
    "total_pieces",
    "good_pieces",
    "rejected_pieces",
    "availability_pct",
    "performance_pct",
    "performance_raw_pct",
    "quality_pct",
    "oee_pct",
    "downtime_minutes",
    "top_downtime_reasons",
    "operator_ids",
    "status",
]
SHIFT_KEYS = ["line_id", "shift_id", "shift_date"]


def reading_watermarks(telemetry: pd.DataFrame) -> pd.DataFrame:
    """machine_id and the timestamp of its latest state or counter reading (`last_reading`)."""
    live = telemetry[telemetry["signal"].isin([MACHINE_STATE, PIECES_GOOD, PIECES_REJECTED])]
    latest = live.assign(ts=to_utc_datetimes(live["ts"])).groupby("machine_id", as_index=False)["ts"].max()
    return latest.rename(columns={"ts": "last_reading"})


def build_shift_reports(
    *,
    snapshots: pd.DataFrame,
    downtime_events: pd.DataFrame,
    line_shifts: pd.DataFrame,
    operator_shifts: pd.DataFrame,
    machines: pd.DataFrame,
    watermarks: pd.DataFrame,
    now: pd.Timestamp,
    top_reasons: int = 5,
    settings: DowntimeSettings | None = None,
) -> pd.DataFrame:
    """One `shift_reports` row per line shift instance in `line_shifts` (org_id, line_id, shift_id,
    shift_date, start, end)."""
    settings = settings or DowntimeSettings()
    instances = line_shifts[["org_id", *SHIFT_KEYS, "start", "end"]].rename(
        columns={"start": "shift_start", "end": "shift_end"}
    )
    totals = aggregate(snapshots, SHIFT_KEYS)
    reports = instances.merge(totals, on=SHIFT_KEYS, how="left")
    for column in (
        "planned_production_time",
        "actual_production_time",
        "planned_downtime",
        "unplanned_downtime",
    ):
        reports[column] = reports[column].fillna(0.0)
    for column in ("total_pieces", "good_pieces", "rejected_pieces"):
        reports[column] = reports[column].fillna(0).astype("int64")
    reports["downtime_minutes"] = reports["planned_downtime"] + reports["unplanned_downtime"]
    reports = reports.merge(
        _top_reasons(downtime_events, line_shifts, top_reasons), on=SHIFT_KEYS, how="left"
    )
    reports = reports.merge(_operators(operator_shifts), on=SHIFT_KEYS, how="left")
    for column in ("top_downtime_reasons", "operator_ids"):
        reports[column] = [value if isinstance(value, list) else [] for value in reports[column]]
    reports["status"] = np.where(
        _is_final(reports, machines, watermarks, as_utc(now), settings), "final", "draft"
    )
    return reports[SHIFT_REPORT_COLUMNS].sort_values(["line_id", "shift_start"]).reset_index(drop=True)


def _top_reasons(events: pd.DataFrame, line_shifts: pd.DataFrame, top: int) -> pd.DataFrame:
    """The reasons with the most downtime minutes inside each shift instance, as a list of dicts."""
    if events.empty:
        return pd.DataFrame(columns=[*SHIFT_KEYS, "top_downtime_reasons"])
    stops = events.rename(columns={"start_time": "start", "end_time": "end"})[
        ["line_id", "start", "end", "reason_code", "loss_category", "is_planned"]
    ]
    inside = overlap_join(stops, scheduled_time(line_shifts)[[*SHIFT_KEYS, "start", "end"]], on="line_id")
    inside["minutes"] = (inside["end"] - inside["start"]).dt.total_seconds() / 60.0
    by_reason = (
        inside.groupby(
            [*SHIFT_KEYS, "reason_code", "loss_category", "is_planned"], as_index=False, dropna=False
        )
        .agg(minutes=("minutes", "sum"), events=("minutes", "size"))
        .sort_values([*SHIFT_KEYS, "minutes", "reason_code"], ascending=[True, True, True, False, True])
    )
    by_reason = by_reason.groupby(SHIFT_KEYS, sort=False).head(top)
    by_reason["entry"] = [
        {
            "reason_code": code,
            "loss_category": loss,
            "is_planned": bool(planned),
            "minutes": round(float(m), 4),
            "events": int(n),
        }
        for code, loss, planned, m, n in by_reason[
            ["reason_code", "loss_category", "is_planned", "minutes", "events"]
        ].itertuples(index=False)
    ]
    return (
        by_reason.groupby(SHIFT_KEYS, as_index=False)["entry"]
        .agg(list)
        .rename(columns={"entry": "top_downtime_reasons"})
    )


def _operators(operator_shifts: pd.DataFrame) -> pd.DataFrame:
    if operator_shifts.empty:  # a plant with no roster (pandas' empty groupby-agg is a Series)
        return pd.DataFrame(columns=[*SHIFT_KEYS, "operator_ids"])
    return (
        operator_shifts.groupby(SHIFT_KEYS, as_index=False)["operator_id"]
        .agg(lambda ids: sorted(set(ids)))
        .rename(columns={"operator_id": "operator_ids"})
    )


def _is_final(
    reports: pd.DataFrame,
    machines: pd.DataFrame,
    watermarks: pd.DataFrame,
    now: pd.Timestamp,
    settings: DowntimeSettings,
) -> np.ndarray:
    """Shift ended, and every machine of the line has data up to the end (within the allowed gap)."""
    tolerance = pd.Timedelta(seconds=settings.max_state_gap_seconds)
    line_machines = machines[["id", "line_id"]].rename(columns={"id": "machine_id"})
    seen = line_machines.merge(watermarks, on="machine_id", how="left")
    # A machine without any reading holds its line's reports in draft.
    oldest = seen.groupby("line_id")["last_reading"].agg(lambda s: pd.NaT if s.isna().any() else s.min())
    line_watermark = pd.to_datetime(reports["line_id"].map(oldest), utc=True)
    ended = reports["shift_end"] <= now
    complete = line_watermark.notna() & (line_watermark >= reports["shift_end"] - tolerance)
    return (ended & complete).to_numpy()
