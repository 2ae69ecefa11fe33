"""Shift calendar: local patterns to UTC instances across midnight and DST changes."""

from __future__ import annotations

from datetime import date, time

import pandas as pd

from oee_pipelines.domain.shifts import expand_shifts, line_shift_instances
from oee_pipelines_tests.support.telemetry_rows import utc

SITES = pd.DataFrame({"id": ["SITE-01"], "timezone": ["Europe/Berlin"]})


def pattern(weekdays: object = (1, 2, 3, 4, 5, 6, 7)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["SHIFT-1", "SHIFT-3"],
            "org_id": "demo",
            "site_id": "SITE-01",
            "name": ["Early", "Night"],
            "shift_number": [1, 3],
            "start_time": [time(6, 0), "22:00:00"],
            "end_time": [time(14, 0), "06:00:00"],
            "weekdays": [weekdays, weekdays],
        }
    )


def instance(instances: pd.DataFrame, shift_id: str, shift_date: date) -> pd.Series:
    match = instances[(instances["shift_id"] == shift_id) & (instances["shift_date"] == shift_date)]
    assert len(match) == 1
    return match.iloc[0]


def test_night_shift_crossing_the_spring_dst_change_is_seven_hours() -> None:
    calendar = expand_shifts(pattern(), SITES, utc("2025-03-29"), utc("2025-04-01"))
    night = instance(calendar.instances, "SHIFT-3", date(2025, 3, 29))
    assert (night["start"], night["end"]) == (utc("2025-03-29 21:00"), utc("2025-03-30 04:00"))
    early_before = instance(calendar.instances, "SHIFT-1", date(2025, 3, 29))
    early_after = instance(calendar.instances, "SHIFT-1", date(2025, 3, 31))
    assert early_before["start"] == utc("2025-03-29 05:00")
    assert early_after["start"] == utc("2025-03-31 04:00")


def test_night_shift_crossing_the_autumn_dst_change_is_nine_hours() -> None:
    calendar = expand_shifts(pattern(), SITES, utc("2025-10-25"), utc("2025-10-27"))
    night = instance(calendar.instances, "SHIFT-3", date(2025, 10, 25))
    assert night["end"] - night["start"] == pd.Timedelta(hours=9)


def test_weekdays_are_those_of_the_start_date_and_accept_a_postgres_literal() -> None:
    calendar = expand_shifts(pattern("{1,2,3,4,5}"), SITES, utc("2025-01-03"), utc("2025-01-07"))
    dates = sorted(set(calendar.instances.loc[calendar.instances["shift_id"] == "SHIFT-3", "shift_date"]))
    # Friday's night shift runs into Saturday; Saturday and Sunday have none; Monday's starts Monday.
    assert dates == [date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6)]
    assert calendar.instances["start"].dt.tz is not None


def test_only_instances_overlapping_the_range_and_breaks_by_elapsed_minutes() -> None:
    breaks = pd.DataFrame(
        {"shift_id": ["SHIFT-3"], "name": ["Meal"], "start_offset_minutes": [240], "duration_minutes": [30]}
    )
    calendar = expand_shifts(pattern(), SITES, utc("2025-03-30 00:00"), utc("2025-03-30 01:00"), breaks)
    assert list(calendar.instances["shift_id"]) == ["SHIFT-3"]
    meal = calendar.breaks.iloc[0]
    # Four real hours after 21:00 UTC, although the local clock jumped an hour in between.
    assert (meal["start"], meal["end"]) == (utc("2025-03-30 01:00"), utc("2025-03-30 01:30"))


def test_line_instances_follow_their_site() -> None:
    calendar = expand_shifts(pattern(), SITES, utc("2025-01-06"), utc("2025-01-07"))
    lines = pd.DataFrame({"id": ["L1", "L2"], "site_id": ["SITE-01", "SITE-01"]})
    per_line = line_shift_instances(calendar.instances, lines)
    assert len(per_line) == 2 * len(calendar.instances)
    assert set(per_line["line_id"]) == {"L1", "L2"}
