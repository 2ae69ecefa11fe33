"""The simulator's plan across daylight-saving changes: real shift lengths, breaks inside their shift."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from oee_pipelines.simulator.calendar import wall_clock_instant
from oee_pipelines.simulator.description import parse_plant_description
from oee_pipelines.simulator.plant import SimulatedPlant

WARSAW = ZoneInfo("Europe/Warsaw")


def plant(night_break_offset: int = 240) -> SimulatedPlant:
    description = parse_plant_description(
        {
            "organization_name": "Wawa",
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "shifts": [
                {"name": "Early", "start": "06:00", "end": "14:00"},
                {"name": "Late", "start": "14:00", "end": "22:00"},
                {
                    "name": "Night",
                    "start": "22:00",
                    "end": "06:00",
                    "breaks": [
                        {"name": "Meal", "start_offset_minutes": night_break_offset, "duration_minutes": 30}
                    ],
                },
            ],
            "products": [{"code": "P", "name": "P", "ideal_cycle_time_s": 2.0, "target_cycle_time_s": 2.2}],
            "sites": [
                {
                    "name": "Warsaw",
                    "timezone": "Europe/Warsaw",
                    "lines": [{"name": "L", "machines": 1, "products": ["P"]}],
                }
            ],
        }
    )
    return SimulatedPlant(description, seed=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_night_across_each_change_lasts_seven_or_nine_hours() -> None:
    simulated = plant()
    site = simulated.layout.sites[0]
    spring = [
        (s.shift.spec.name, s.start, s.end)
        for s in simulated.calendar.site_day_shifts(site, date(2025, 3, 29))
    ]
    assert spring[-1] == ("Night", utc(2025, 3, 29, 21), utc(2025, 3, 30, 4))
    autumn = [
        (s.shift.spec.name, s.start, s.end)
        for s in simulated.calendar.site_day_shifts(site, date(2025, 10, 25))
    ]
    assert autumn[-1] == ("Night", utc(2025, 10, 25, 20), utc(2025, 10, 26, 5))


def test_a_break_past_the_end_of_the_shortened_night_is_cut_and_never_paints_the_next_shift() -> None:
    # 400 + 30 minutes fit an 8-hour night; the 7-hour spring night ends 420 minutes in (04:00 UTC).
    simulated = plant(night_break_offset=400)
    night = simulated.calendar.site_day_shifts(simulated.layout.sites[0], date(2025, 3, 29))[-1]
    assert night.breaks() == [(utc(2025, 3, 30, 3, 40), utc(2025, 3, 30, 4))]
    states = simulated.machine_states(utc(2025, 3, 30, 4), utc(2025, 3, 30, 4, 30))
    assert "BREAK" not in set(states["reason_code"].dropna())


def test_wall_clock_times_skipped_or_repeated_by_a_change() -> None:
    # 02:30 does not exist on 2025-03-30: the clock jumps from 02:00 CET to 03:00 CEST (01:00 UTC).
    assert wall_clock_instant(date(2025, 3, 30), time(2, 30), WARSAW) == utc(2025, 3, 30, 1)
    # 02:30 happens twice on 2025-10-26: the first time is 02:30 CEST (00:30 UTC).
    assert wall_clock_instant(date(2025, 10, 26), time(2, 30), WARSAW) == utc(2025, 10, 26, 0, 30)
    assert wall_clock_instant(date(2025, 1, 15), time(6), WARSAW) == utc(2025, 1, 15, 5)
