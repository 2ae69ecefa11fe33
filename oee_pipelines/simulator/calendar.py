"""The plan of the plant in UTC: shift instances and breaks per site, work orders per line.

Shifts are local to the site (a shift belongs to the local date it starts on); work orders
split one local production day (all shifts starting on that date) of a line into consecutive
orders on whole minutes, each opening with a changeover. Randomness is seeded per line and
local date, so the plan of any day is the same whatever else was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from oee_pipelines.simulator.layout import Line, PlantLayout, Recipe, Shift, Site

PLAN_STREAM = 1
WORK_ORDER_EPOCH = date(2000, 1, 1)  # work order numbers count days from here
MAX_WORK_ORDERS_PER_DAY = 8


@dataclass(frozen=True)
class ShiftInstance:
    shift: Shift
    shift_date: date  # the local date the shift starts on
    start: datetime  # UTC
    end: datetime  # UTC

    def breaks(self) -> list[tuple[datetime, datetime]]:
        """Breaks by elapsed minutes from the start; cut at the end of a shift the spring change shortened."""
        spans = [
            (
                self.start + timedelta(minutes=item.start_offset_minutes),
                min(
                    self.end,
                    self.start + timedelta(minutes=item.start_offset_minutes + item.duration_minutes),
                ),
            )
            for item in self.shift.breaks
        ]
        return [(start, end) for start, end in spans if start < end]


@dataclass(frozen=True)
class PlannedWorkOrder:
    id: str
    line: Line
    recipe: Recipe
    production_date: date
    planned_start: datetime  # UTC, whole minute
    planned_end: datetime  # UTC, whole minute
    changeover_minutes: int

    @property
    def planned_quantity(self) -> int:
        producing_seconds = (
            self.planned_end - self.planned_start
        ).total_seconds() - 60 * self.changeover_minutes
        return max(0, int(producing_seconds / self.recipe.product.spec.target_cycle_time_s))


def to_utc(value: datetime | date | str | pd.Timestamp) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken as UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC dates whose day overlaps [start, end)."""
    first = start.date()
    last = (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)] if end > start else []


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def wall_clock_instant(local_date: date, clock: time, zone: ZoneInfo) -> datetime:
    """When a site's wall clock first shows `clock` on `local_date`, in UTC.

    A time repeated by the autumn change: its first occurrence. A time the spring change skips: the
    first minute the clock shows after it (the end of the gap). Written apart from the pipeline's
    `domain.days.local_instant` so that the ground truth checks it rather than repeats it.
    """
    wall = datetime.combine(local_date, clock)
    for minutes_later in range(0, 24 * 60):
        candidate = wall + timedelta(minutes=minutes_later)
        instant = candidate.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == candidate:
            return instant
    raise ValueError(f"{zone.key}: no wall-clock time on or after {wall.isoformat()} within a day")


class PlantCalendar:
    def __init__(self, layout: PlantLayout, seed: int) -> None:
        self.layout = layout
        self.seed = seed
        self._instances: dict[tuple[int, date], list[ShiftInstance]] = {}
        self._work_orders: dict[tuple[int, date], list[PlannedWorkOrder]] = {}

    def site_day_shifts(self, site: Site, local_date: date) -> list[ShiftInstance]:
        """The shift instances starting on one local date of a site (none on a day off)."""
        key = (site.index, local_date)
        if key not in self._instances:
            self._instances[key] = self._build_site_day(site, local_date)
        return self._instances[key]

    def _build_site_day(self, site: Site, local_date: date) -> list[ShiftInstance]:
        if local_date.isoweekday() not in self.layout.description.weekdays:
            return []
        instances = []
        for shift in self.layout.site_shifts(site):
            end_date = (
                local_date if shift.spec.end_time > shift.spec.start_time else local_date + timedelta(days=1)
            )
            start = wall_clock_instant(local_date, shift.spec.start_time, site.zone)
            end = wall_clock_instant(end_date, shift.spec.end_time, site.zone)
            instances.append(ShiftInstance(shift, local_date, start, end))
        return instances

    def shifts_between(self, site: Site, start: datetime, end: datetime) -> list[ShiftInstance]:
        """Shift instances of a site overlapping [start, end), in time order."""
        found = []
        for local_date in _local_dates_around(start, end):
            found += [s for s in self.site_day_shifts(site, local_date) if s.start < end and s.end > start]
        return sorted(found, key=lambda instance: instance.start)

    def line_day_work_orders(self, line: Line, local_date: date) -> list[PlannedWorkOrder]:
        key = (line.index, local_date)
        if key not in self._work_orders:
            self._work_orders[key] = self._build_line_day(line, local_date)
        return self._work_orders[key]

    def _build_line_day(self, line: Line, local_date: date) -> list[PlannedWorkOrder]:
        instances = self.site_day_shifts(line.site, local_date)
        if not instances:
            return []
        behaviour = self.layout.description.behaviour
        rng = np.random.default_rng([self.seed, PLAN_STREAM, line.index, local_date.toordinal()])
        span_start = min(instance.start for instance in instances)
        span_minutes = int((max(instance.end for instance in instances) - span_start).total_seconds() // 60)
        count = int(rng.integers(behaviour.work_orders_per_day_min, behaviour.work_orders_per_day_max + 1))
        count = max(1, min(count, MAX_WORK_ORDERS_PER_DAY))
        part = span_minutes / count
        # Jitter each inner boundary by at most a quarter of a part, so boundaries stay ordered.
        cuts = [round(part * n + rng.uniform(-0.25, 0.25) * part) for n in range(1, count)]
        bounds = [0, *cuts, span_minutes]
        day_number = (local_date - WORK_ORDER_EPOCH).days
        orders = []
        recipe_offset = int(rng.integers(0, len(line.recipes)))
        for n in range(count):
            changeover = int(
                rng.integers(behaviour.changeover_minutes_min, behaviour.changeover_minutes_max + 1)
            )
            number = (day_number * len(self.layout.lines) + line.index) * MAX_WORK_ORDERS_PER_DAY + n + 1
            orders.append(
                PlannedWorkOrder(
                    id=f"{self.layout.description.id_prefix}WO-{number:06d}",
                    line=line,
                    recipe=line.recipes[(recipe_offset + n) % len(line.recipes)],
                    production_date=local_date,
                    planned_start=span_start + timedelta(minutes=bounds[n]),
                    planned_end=span_start + timedelta(minutes=bounds[n + 1]),
                    changeover_minutes=min(changeover, bounds[n + 1] - bounds[n]),
                )
            )
        return orders

    def work_orders_between(self, line: Line, start: datetime, end: datetime) -> list[PlannedWorkOrder]:
        """Work orders of a line whose planned time overlaps [start, end), in time order."""
        found = []
        for local_date in _local_dates_around(start, end):
            found += [
                order
                for order in self.line_day_work_orders(line, local_date)
                if order.planned_start < end and order.planned_end > start
            ]
        return sorted(found, key=lambda order: order.planned_start)


def _local_dates_around(start: datetime, end: datetime) -> list[date]:
    # A shift starting on local date d can reach into UTC date d + 2 (far-east zones, night shift).
    first = start.date() - timedelta(days=2)
    last = end.date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
