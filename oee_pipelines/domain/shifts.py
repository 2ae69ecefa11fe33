"""Shift calendar: a site's shift pattern (local times, ISO weekdays, IANA zone) as UTC shift instances.

A shift instance belongs to the local date on which it starts (`shift_date`) and runs on the
weekdays listed for that start date, between its optional `effective_from` and `effective_to`
(exclusive) dates. A shift whose end time is not after its start time crosses
midnight and ends on the next local day (equal times: a 24-hour shift).

Daylight saving: a local time repeated by the autumn change means its first occurrence (PEP 495,
fold=0); a local time skipped by the spring change means the end of the gap, the moment the wall
clock first shows a later time (02:30 in Europe/Warsaw on 2025-03-30 is 03:00 CEST, 01:00 UTC), so
instances stay ordered and never have a negative length. A shift crossing a change is therefore one
hour shorter (22:00-06:00 on the spring night: 7 h) or longer (autumn: 9 h) in real time. Break
offsets count elapsed minutes from the shift's real start; a break that would run past the end of
a shortened shift is cut at the shift's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from oee_pipelines.domain.days import local_instant
from oee_pipelines.domain.intervals import as_utc

INSTANCE_COLUMNS = [
    "org_id",
    "site_id",
    "shift_id",
    "shift_name",
    "shift_number",
    "shift_date",
    "start",
    "end",
]
BREAK_COLUMNS = ["org_id", "site_id", "shift_id", "shift_date", "break_name", "start", "end"]


@dataclass(frozen=True)
class ShiftCalendar:
    """Shift instances and their breaks, UTC, for one range."""

    instances: pd.DataFrame
    breaks: pd.DataFrame


def expand_shifts(
    shifts: pd.DataFrame,
    sites: pd.DataFrame,
    range_start: pd.Timestamp | datetime,
    range_end: pd.Timestamp | datetime,
    shift_breaks: pd.DataFrame | None = None,
) -> ShiftCalendar:
    """Every shift instance (and break) overlapping `[range_start, range_end)` (UTC).

    `shifts` has the columns of the `shifts` table, `sites` those of `sites` (id, timezone).
    """
    start_utc, end_utc = as_utc(range_start), as_utc(range_end)
    zones = dict(zip(sites["id"], sites["timezone"], strict=True))
    # One local day of margin each side covers every zone offset and shifts crossing midnight.
    local_dates = [
        (start_utc - timedelta(days=2)).date() + timedelta(days=offset)
        for offset in range((end_utc - start_utc).days + 4)
    ]
    rows = [
        _instance(shift, ZoneInfo(zones[shift.site_id]), local_date)
        for shift in shifts.itertuples(index=False)
        for local_date in local_dates
        if local_date.isoweekday() in _weekdays(shift.weekdays) and _effective(shift, local_date)
    ]
    instances = pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
    instances["start"] = pd.to_datetime(instances["start"], utc=True).dt.as_unit("us")
    instances["end"] = pd.to_datetime(instances["end"], utc=True).dt.as_unit("us")
    instances = instances[(instances["end"] > start_utc) & (instances["start"] < end_utc)]
    instances = instances.sort_values(["site_id", "start", "shift_id"]).reset_index(drop=True)
    breaks = _breaks(instances, shift_breaks)
    return ShiftCalendar(instances=instances, breaks=breaks)


def line_shift_instances(instances: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Shift instances per production line (lines carry `id` and `site_id`), with `line_id`."""
    line_sites = lines[["id", "site_id"]].rename(columns={"id": "line_id"})
    return line_sites.merge(instances, on="site_id", how="inner").reset_index(drop=True)


def _instance(shift: object, zone: ZoneInfo, local_date: date) -> tuple:
    start_time, end_time = _time(shift.start_time), _time(shift.end_time)  # type: ignore[attr-defined]
    end_date = local_date + timedelta(days=1) if end_time <= start_time else local_date
    start = local_instant(local_date, start_time, zone)
    end = local_instant(end_date, end_time, zone)
    return (
        shift.org_id,  # type: ignore[attr-defined]
        shift.site_id,  # type: ignore[attr-defined]
        shift.id,  # type: ignore[attr-defined]
        shift.name,  # type: ignore[attr-defined]
        int(shift.shift_number),  # type: ignore[attr-defined]
        local_date,
        start,
        end,
    )


def _breaks(instances: pd.DataFrame, shift_breaks: pd.DataFrame | None) -> pd.DataFrame:
    if shift_breaks is None or shift_breaks.empty or instances.empty:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="datetime64[us, UTC]" if c in ("start", "end") else object)
                for c in BREAK_COLUMNS
            }
        )
    joined = instances.merge(
        shift_breaks[["shift_id", "name", "start_offset_minutes", "duration_minutes"]], on="shift_id"
    )
    offsets = pd.to_timedelta(joined["start_offset_minutes"].astype("int64"), unit="min")
    durations = pd.to_timedelta(joined["duration_minutes"].astype("int64"), unit="min")
    break_start = joined["start"] + offsets
    # A break past the end of a shift shortened by the spring change is cut at the shift's end.
    break_end = (break_start + durations).where(break_start + durations <= joined["end"], joined["end"])
    joined = joined.assign(start=break_start, end=break_end).rename(columns={"name": "break_name"})
    joined = joined[joined["start"] < joined["end"]]
    return joined[BREAK_COLUMNS].sort_values(["site_id", "start"]).reset_index(drop=True)


def _time(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, pd.Timedelta | timedelta):
        return (datetime.min + pd.Timedelta(value).to_pytimedelta()).time()
    return time.fromisoformat(str(value))


def _effective(shift: object, local_date: date) -> bool:
    """Whether the shift's calendar applies on its start date (`effective_from` .. `effective_to`)."""
    first, last = getattr(shift, "effective_from", None), getattr(shift, "effective_to", None)
    if first is not None and not pd.isna(first) and local_date < pd.Timestamp(first).date():
        return False
    return last is None or pd.isna(last) or local_date < pd.Timestamp(last).date()


def _weekdays(value: object) -> set[int]:
    """ISO weekdays from a list, an array or a PostgreSQL array literal like '{1,2,3}'."""
    if isinstance(value, str):
        return {int(part) for part in value.strip("{}[] ").split(",") if part.strip()}
    return {int(day) for day in np.asarray(value).ravel()}
