"""Daylight-saving days in Europe/Warsaw, by hand: shift instances, windows, snapshots, shift reports.

A three-shift site (06-14, 14-22, 22-06 local, every day). On 2025-03-30 the clocks jump from
02:00 CET (UTC+1) to 03:00 CEST (UTC+2) at 01:00 UTC; on 2025-10-26 they fall back from 03:00 CEST
to 02:00 CET at 01:00 UTC. So the night shift starting 2025-03-29 at 22:00 lasts 7 h and the one
starting 2025-10-25 at 22:00 lasts 9 h; the local days are 23 h (92 windows) and 25 h (100).

The OEE is computed as the pipeline does: one UTC day partition at a time, then the partitions'
snapshots together. Machine M1 (line L1) runs all the time except, in each change night:
- a planned break (BREAK) of 30 min,
- a breakdown (BRK-MECH) of 45 min,
and makes 4 good + 1 rejected pieces in every minute it runs all through (ideal cycle time 9 s).
Per night: planned production = scheduled - 30; run = planned production - 45;
performance = 5 pieces x 9 s / 60 s = 75 %; quality = 4 / 5 = 80 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain.days import day_bounds, local_instant, site_day_bounds, utc_days_between
from oee_pipelines.domain.downtime import build_timeline, downtime_events
from oee_pipelines.domain.oee import compute_snapshots
from oee_pipelines.domain.shift_reports import build_shift_reports, reading_watermarks
from oee_pipelines.domain.shifts import expand_shifts, line_shift_instances
from oee_pipelines_tests.support.telemetry_rows import utc

WARSAW = "Europe/Warsaw"
SITES = pd.DataFrame({"id": ["WAW"], "timezone": [WARSAW]})
LINES = pd.DataFrame({"id": ["L1"], "site_id": ["WAW"]})
MACHINES = pd.DataFrame({"id": ["M1"], "org_id": "demo", "line_id": "L1"})
SCHEDULES = pd.DataFrame(columns=["line_id", "start", "end", "work_order_id"])
NO_OPERATORS = pd.DataFrame(columns=["line_id", "shift_id", "shift_date", "operator_id"])
SPRING, AUTUMN = date(2025, 3, 30), date(2025, 10, 26)
IDEAL_CYCLE_TIME_S = 9.0
GOOD_PER_MINUTE, REJECTED_PER_MINUTE = 4, 1


def three_shifts(night_end: str = "06:00", breaks: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    shifts = pd.DataFrame(
        {
            "id": ["EARLY", "LATE", "NIGHT"],
            "org_id": "demo",
            "site_id": "WAW",
            "name": ["Early", "Late", "Night"],
            "shift_number": [1, 2, 3],
            "start_time": [time(6), time(14), time(22)],
            "end_time": [time(14), time(22), time.fromisoformat(night_end)],
            "weekdays": [[1, 2, 3, 4, 5, 6, 7]] * 3,
        }
    )
    night_break = pd.DataFrame(
        {
            "shift_id": ["NIGHT"],
            "name": ["Late meal"],
            "start_offset_minutes": [400],
            "duration_minutes": [30],
        }
    )
    return shifts, night_break if breaks else None


def bounds(instances: pd.DataFrame, shift_date: date) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    rows = instances[instances["shift_date"] == shift_date]
    return list(rows[["shift_id", "start", "end"]].itertuples(index=False, name=None))


# --- shift instances in UTC -----------------------------------------------------------------------


def test_spring_change_shift_boundaries_in_utc_and_a_seven_hour_night() -> None:
    shifts, _ = three_shifts()
    instances = expand_shifts(shifts, SITES, utc("2025-03-29"), utc("2025-04-01")).instances
    assert bounds(instances, date(2025, 3, 29)) == [
        ("EARLY", utc("2025-03-29 05:00"), utc("2025-03-29 13:00")),  # CET, UTC+1
        ("LATE", utc("2025-03-29 13:00"), utc("2025-03-29 21:00")),
        ("NIGHT", utc("2025-03-29 21:00"), utc("2025-03-30 04:00")),  # 22:00 CET -> 06:00 CEST
    ]
    assert bounds(instances, SPRING) == [
        ("EARLY", utc("2025-03-30 04:00"), utc("2025-03-30 12:00")),  # CEST, UTC+2
        ("LATE", utc("2025-03-30 12:00"), utc("2025-03-30 20:00")),
        ("NIGHT", utc("2025-03-30 20:00"), utc("2025-03-31 04:00")),
    ]
    lengths = (instances["end"] - instances["start"]).dt.total_seconds() / 3600
    night = (instances["shift_id"] == "NIGHT") & (instances["shift_date"] == date(2025, 3, 29))
    assert lengths[night].tolist() == [7.0]
    assert set(lengths[~night]) == {8.0}
    # Each shift hands over to the next at the same instant: no time lost, none counted twice.
    assert (instances["start"].iloc[1:].to_numpy() == instances["end"].iloc[:-1].to_numpy()).all()


def test_autumn_change_shift_boundaries_in_utc_and_a_nine_hour_night() -> None:
    shifts, _ = three_shifts()
    instances = expand_shifts(shifts, SITES, utc("2025-10-25"), utc("2025-10-28")).instances
    assert bounds(instances, date(2025, 10, 25)) == [
        ("EARLY", utc("2025-10-25 04:00"), utc("2025-10-25 12:00")),  # CEST, UTC+2
        ("LATE", utc("2025-10-25 12:00"), utc("2025-10-25 20:00")),
        ("NIGHT", utc("2025-10-25 20:00"), utc("2025-10-26 05:00")),  # 22:00 CEST -> 06:00 CET
    ]
    assert bounds(instances, AUTUMN) == [
        ("EARLY", utc("2025-10-26 05:00"), utc("2025-10-26 13:00")),  # CET, UTC+1
        ("LATE", utc("2025-10-26 13:00"), utc("2025-10-26 21:00")),
        ("NIGHT", utc("2025-10-26 21:00"), utc("2025-10-27 05:00")),
    ]
    night = instances[(instances["shift_id"] == "NIGHT") & (instances["shift_date"] == date(2025, 10, 25))]
    assert (night["end"] - night["start"]).tolist() == [pd.Timedelta(hours=9)]
    assert (instances["start"].iloc[1:].to_numpy() == instances["end"].iloc[:-1].to_numpy()).all()


def test_a_break_past_the_end_of_the_shortened_night_is_cut_at_its_end() -> None:
    shifts, night_break = three_shifts(breaks=True)
    spring = expand_shifts(shifts, SITES, utc("2025-03-29 21:00"), utc("2025-03-30 04:00"), night_break)
    # 400 elapsed minutes after 21:00 UTC is 03:40 UTC; the 7-hour night ends at 04:00 UTC.
    assert list(spring.breaks[["start", "end"]].itertuples(index=False, name=None)) == [
        (utc("2025-03-30 03:40"), utc("2025-03-30 04:00"))
    ]
    autumn = expand_shifts(shifts, SITES, utc("2025-10-25 20:00"), utc("2025-10-26 05:00"), night_break)
    assert list(autumn.breaks[["start", "end"]].itertuples(index=False, name=None)) == [
        (utc("2025-10-26 02:40"), utc("2025-10-26 03:10"))
    ]


def test_a_handover_inside_the_spring_gap_happens_when_the_clock_jumps() -> None:
    # 02:30 does not exist on 2025-03-30 in Warsaw: the clock shows 03:00 CEST (01:00 UTC) instead.
    shifts = pd.DataFrame(
        {
            "id": ["NIGHT", "EARLY", "SHORT"],
            "org_id": "demo",
            "site_id": "WAW",
            "name": ["Night", "Early", "Short"],
            "shift_number": [1, 2, 3],
            "start_time": [time(18, 30), time(2, 30), time(2, 30)],
            "end_time": [time(2, 30), time(10, 30), time(3, 15)],
            "weekdays": [[7], [7], [7]],
        }
    )
    instances = expand_shifts(shifts, SITES, utc("2025-03-30 00:00"), utc("2025-03-30 12:00")).instances
    by_id = instances.set_index("shift_id")
    assert by_id.loc["EARLY", "start"] == utc("2025-03-30 01:00")
    assert by_id.loc["EARLY", "end"] == utc("2025-03-30 08:30")
    # Never a negative length: 02:30-03:15 is the quarter hour 03:00-03:15 CEST that day.
    assert (by_id.loc["SHORT", "start"], by_id.loc["SHORT", "end"]) == (
        utc("2025-03-30 01:00"),
        utc("2025-03-30 01:15"),
    )
    # A repeated autumn time is its first occurrence (CEST).
    assert local_instant(AUTUMN, time(2, 30), ZoneInfo(WARSAW)) == utc("2025-10-26 00:30")


# --- a site's local day -------------------------------------------------------------------------------


def test_a_sites_local_day_is_23_or_25_hours_and_touches_two_utc_partitions() -> None:
    assert site_day_bounds(SPRING, WARSAW) == (utc("2025-03-29 23:00"), utc("2025-03-30 22:00"))
    assert site_day_bounds(AUTUMN, WARSAW) == (utc("2025-10-25 22:00"), utc("2025-10-26 23:00"))
    assert site_day_bounds(date(2025, 1, 15), WARSAW) == (utc("2025-01-14 23:00"), utc("2025-01-15 23:00"))
    assert utc_days_between(*site_day_bounds(SPRING, WARSAW)) == [date(2025, 3, 29), SPRING]
    assert utc_days_between(*site_day_bounds(AUTUMN, WARSAW)) == [date(2025, 10, 25), AUTUMN]
    assert utc_days_between(*site_day_bounds(SPRING, "UTC")) == [SPRING]


# --- OEE of the change nights, partition by partition -------------------------------------------------


@dataclass(frozen=True)
class ChangeNight:
    local_day: date  # the day of the change
    night: tuple[pd.Timestamp, pd.Timestamp]  # the night shift starting the evening before (UTC)
    planned_break: tuple[str, str]  # UTC
    breakdown: tuple[str, str]  # UTC
    windows: int  # fifteen-minute windows of the local day
    scheduled: float  # minutes of the night shift
    availability: float
    oee: float


SPRING_NIGHT = ChangeNight(
    local_day=SPRING,
    night=(utc("2025-03-29 21:00"), utc("2025-03-30 04:00")),
    # 03:00-03:30 CEST, right after the jump; the breakdown 04:00-04:45 CEST.
    planned_break=("2025-03-30 01:00", "2025-03-30 01:30"),
    breakdown=("2025-03-30 02:00", "2025-03-30 02:45"),
    windows=92,
    scheduled=420.0,
    # Planned production 420 - 30 = 390; run 390 - 45 = 345. A = 345 / 390 = 88.4615 %;
    # OEE = 0.884615 x 0.75 x 0.80 = 53.0769 %.
    availability=88.4615,
    oee=53.0769,
)
AUTUMN_NIGHT = ChangeNight(
    local_day=AUTUMN,
    night=(utc("2025-10-25 20:00"), utc("2025-10-26 05:00")),
    # 02:00-02:30 CEST (the first 02:00); the breakdown 02:45 CEST -> 02:30 CET, across the fall-back.
    planned_break=("2025-10-26 00:00", "2025-10-26 00:30"),
    breakdown=("2025-10-26 00:45", "2025-10-26 01:30"),
    windows=100,
    scheduled=540.0,
    # Planned production 540 - 30 = 510; run 510 - 45 = 465. A = 465 / 510 = 91.1765 %;
    # OEE = 0.911765 x 0.75 x 0.80 = 54.7059 %.
    availability=91.1765,
    oee=54.7059,
)


def readings(change: ChangeNight, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """M1's state changes and per-minute counters over [first, last] (UTC)."""
    changes = [
        (first, "RUNNING"),
        (utc(change.planned_break[0]), "BREAK"),
        (utc(change.planned_break[1]), "RUNNING"),
        (utc(change.breakdown[0]), "BRK-MECH"),
        (utc(change.breakdown[1]), "RUNNING"),
    ]
    rows = [
        {"signal": "machine_state", "ts": ts, "value": float(code == "RUNNING"), "text_value": code}
        for ts, code in changes
    ]
    stops = [(utc(a), utc(b)) for a, b in (change.planned_break, change.breakdown)]
    for minute_end in pd.date_range(first + pd.Timedelta(minutes=1), last, freq="1min"):
        ran = not any(
            start < minute_end and minute_end - pd.Timedelta(minutes=1) < end for start, end in stops
        )
        for signal, pieces in (("pieces_good", GOOD_PER_MINUTE), ("pieces_rejected", REJECTED_PER_MINUTE)):
            rows.append({"signal": signal, "ts": minute_end, "value": float(pieces if ran else 0)})
    frame = pd.DataFrame(rows)
    return frame.assign(
        org_id="demo",
        machine_id="M1",
        source_system="test",
        source_ref="M1",
        quality=100,
        ideal_cycle_time_s=IDEAL_CYCLE_TIME_S,
    ).sort_values(["ts", "signal"], ignore_index=True)


def partitions_of(change: ChangeNight, reason_codes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Snapshots, downtime events and shift reports of the UTC days holding the local day and the night."""
    local_start, local_end = site_day_bounds(change.local_day, WARSAW)
    days = utc_days_between(min(change.night[0], pd.Timestamp(local_start)), local_end)
    first, last = (pd.Timestamp(bound) for bound in (day_bounds(days[0])[0], day_bounds(days[-1])[1]))
    telemetry = readings(change, first, last + pd.Timedelta(hours=1))
    shifts, _ = three_shifts()
    calendar = expand_shifts(shifts, SITES, first - pd.Timedelta(days=1), last + pd.Timedelta(days=1))
    line_shifts = line_shift_instances(calendar.instances, LINES)
    snapshots, events = [], []
    for day in days:
        start, end = (pd.Timestamp(bound) for bound in day_bounds(day))
        timeline = build_timeline(
            telemetry=telemetry,
            reason_codes=reason_codes,
            machines=MACHINES,
            range_start=start,
            range_end=end,
        )
        counters = telemetry[telemetry["signal"] != "machine_state"]
        snapshots.append(
            compute_snapshots(
                timeline=timeline,
                line_shifts=line_shifts,
                machines=MACHINES,
                counters=counters,
                schedules=SCHEDULES,
            )
        )
        events.append(downtime_events(timeline, line_shifts, MACHINES))
    all_snapshots = pd.concat(snapshots, ignore_index=True)
    # The change night's stops all lie in one UTC day; the other day has none.
    all_events = pd.concat([frame for frame in events if len(frame)], ignore_index=True)
    night = line_shifts[line_shifts["start"] == change.night[0]]
    reports = build_shift_reports(
        snapshots=all_snapshots,
        downtime_events=all_events,
        line_shifts=night,
        operator_shifts=NO_OPERATORS,
        machines=MACHINES,
        watermarks=reading_watermarks(telemetry),
        now=last + pd.Timedelta(days=1),
    )
    return {"snapshots": all_snapshots, "reports": reports, "events": all_events}


@pytest.mark.parametrize("change", [SPRING_NIGHT, AUTUMN_NIGHT], ids=["spring", "autumn"])
def test_windows_of_the_change_day_are_contiguous_unique_and_92_or_100(
    change: ChangeNight, reason_codes: pd.DataFrame
) -> None:
    snapshots = partitions_of(change, reason_codes)["snapshots"]
    starts = snapshots["window_start"]
    # Two UTC partitions of 96 windows each, one after the other: none lost, none doubled.
    assert len(snapshots) == 2 * 96 and starts.is_unique
    assert (np.diff(starts.sort_values().to_numpy()) == np.timedelta64(15, "m")).all()
    assert (snapshots["snapshot_time"] - starts == pd.Timedelta(minutes=15)).all()
    local_start, local_end = (pd.Timestamp(b) for b in site_day_bounds(change.local_day, WARSAW))
    in_local_day = snapshots[(starts >= local_start) & (starts < local_end)]
    assert len(in_local_day) == change.windows
    # Every window of the local day is scheduled (three shifts cover the clock): 23 h or 25 h.
    assert in_local_day["scheduled_time"].sum() == change.windows * 15.0


@pytest.mark.parametrize("change", [SPRING_NIGHT, AUTUMN_NIGHT], ids=["spring", "autumn"])
def test_night_shift_across_the_change_has_its_real_scheduled_time_and_oee(
    change: ChangeNight, reason_codes: pd.DataFrame
) -> None:
    result = partitions_of(change, reason_codes)
    snapshots = result["snapshots"]
    night_date = change.night[0].date()
    night = snapshots[(snapshots["shift_id"] == "NIGHT") & (snapshots["shift_date"] == night_date)]
    assert night["scheduled_time"].sum() == change.scheduled  # 7 h in spring, 9 h in autumn
    assert len(night) == change.scheduled / 15
    assert night["planned_downtime"].sum() == 30.0 and night["unplanned_downtime"].sum() == 45.0

    report = result["reports"].iloc[0]
    assert (report["shift_start"], report["shift_end"]) == change.night
    assert report["shift_date"] == night_date
    assert report["planned_production_time"] == change.scheduled - 30.0
    assert report["actual_production_time"] == change.scheduled - 30.0 - 45.0
    run_minutes = change.scheduled - 75.0
    assert (report["total_pieces"], report["good_pieces"], report["rejected_pieces"]) == (
        5 * run_minutes,
        4 * run_minutes,
        run_minutes,
    )
    assert report["availability_pct"] == pytest.approx(change.availability, abs=1e-4)
    assert report["performance_raw_pct"] == pytest.approx(75.0)
    assert report["quality_pct"] == pytest.approx(80.0)
    assert report["oee_pct"] == pytest.approx(change.oee, abs=1e-4)
    assert report["downtime_minutes"] == 75.0 and report["status"] == "final"
    # The breakdown is one event of 45 real minutes, whatever the wall clock did meanwhile.
    events = result["events"]
    breakdown = events[events["reason_code"] == "BRK-MECH"]
    assert breakdown["duration_minutes"].tolist() == [45.0]
