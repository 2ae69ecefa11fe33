"""The event log of one machine over one UTC day: a state per second and pieces per minute.

The day is painted second by second (numpy arrays): off-shift, then shifts as running, then
changeovers at each work order start, planned maintenance, breaks, and finally random unplanned
stops placed only on running seconds. Unplanned stops never touch midnight UTC, so every stop a
day holds is whole, and days can be generated independently (randomness is seeded per machine
and UTC day) and joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from oee_pipelines.simulator.calendar import PlannedWorkOrder, PlantCalendar, day_start
from oee_pipelines.simulator.layout import Machine

EVENT_STREAM = 2
SECONDS_PER_DAY = 86_400
MINUTES_PER_DAY = 1_440

# State codes of the per-second arrays; the index is the code, the text the reason code.
STATE_NAMES = (
    "OFF-SHIFT",
    "RUNNING",
    "BREAK",
    "CHANGEOVER",
    "PLANNED-MAINT",
    "BRK-MECH",
    "BRK-ELEC",
    "STARVED",
    "ADJUST",
    "JAM",
)
OFF_SHIFT, RUNNING, BREAK, CHANGEOVER, PLANNED_MAINT, BRK_MECH, BRK_ELEC, STARVED, ADJUST, JAM = range(
    len(STATE_NAMES)
)
UNPLANNED_CODES = (BRK_MECH, BRK_ELEC, STARVED, ADJUST, JAM)


@dataclass(frozen=True)
class MachineDay:
    states: np.ndarray  # int8 state code per second of the day
    piece_rate: np.ndarray  # float64 pieces per second at full recipe speed x run speed, 0 outside orders
    good: np.ndarray  # int64 per minute: pieces completed in that minute
    rejected: np.ndarray


@dataclass(frozen=True)
class UnplannedStopKind:
    code: int
    per_hour: float
    shortest_seconds: int
    longest_seconds: int


def seconds_into(day: date, moment: datetime) -> int:
    """Seconds from the day's midnight UTC to `moment`, clamped to the day."""
    return int(min(max((moment - day_start(day)).total_seconds(), 0), SECONDS_PER_DAY))


class EventGenerator:
    def __init__(self, calendar: PlantCalendar) -> None:
        self.calendar = calendar
        self.behaviour = calendar.layout.description.behaviour

    def machine_day(self, machine: Machine, day: date) -> MachineDay:
        rng = np.random.default_rng([self.calendar.seed, EVENT_STREAM, machine.index, day.toordinal()])
        start, end = day_start(day), day_start(day) + timedelta(days=1)
        states = np.full(SECONDS_PER_DAY, OFF_SHIFT, dtype=np.int8)
        shifts = self.calendar.shifts_between(machine.line.site, start, end)
        orders = self.calendar.work_orders_between(machine.line, start, end)
        for instance in shifts:
            states[seconds_into(day, instance.start) : seconds_into(day, instance.end)] = RUNNING
        speed = rng.uniform(self.behaviour.run_speed_min, self.behaviour.run_speed_max)
        piece_rate = np.zeros(SECONDS_PER_DAY)
        for order in orders:
            _paint_work_order(states, piece_rate, order, day, speed)
        self._paint_planned_maintenance(states, rng)
        for instance in shifts:
            for break_start, break_end in instance.breaks():
                span = slice(seconds_into(day, break_start), seconds_into(day, break_end))
                states[span] = np.where(states[span] == OFF_SHIFT, OFF_SHIFT, BREAK)
        self._place_unplanned_stops(states, rng)
        good, rejected = self._pieces(states, piece_rate, orders, day, rng)
        return MachineDay(states, piece_rate, good, rejected)

    def _paint_planned_maintenance(self, states: np.ndarray, rng: np.random.Generator) -> None:
        happens = rng.random() < self.behaviour.planned_maintenance_probability
        minute = int(rng.integers(0, MINUTES_PER_DAY))
        length = int(
            rng.integers(
                self.behaviour.planned_maintenance_minutes_min,
                self.behaviour.planned_maintenance_minutes_max + 1,
            )
        )
        if happens:
            span = slice(minute * 60, min(SECONDS_PER_DAY, (minute + length) * 60))
            states[span] = np.where(states[span] == RUNNING, PLANNED_MAINT, states[span])

    def _stop_kinds(self) -> list[UnplannedStopKind]:
        b = self.behaviour
        return [
            UnplannedStopKind(
                BRK_MECH, b.breakdowns_per_hour / 2, b.breakdown_seconds_min, b.breakdown_seconds_max
            ),
            UnplannedStopKind(
                BRK_ELEC, b.breakdowns_per_hour / 2, b.breakdown_seconds_min, b.breakdown_seconds_max
            ),
            UnplannedStopKind(STARVED, b.starved_per_hour, b.starved_seconds_min, b.starved_seconds_max),
            UnplannedStopKind(ADJUST, b.adjust_per_hour, b.adjust_seconds_min, b.adjust_seconds_max),
            UnplannedStopKind(JAM, b.jams_per_hour, b.jam_seconds_min, b.jam_seconds_max),
        ]

    def _place_unplanned_stops(self, states: np.ndarray, rng: np.random.Generator) -> None:
        running_hours = np.count_nonzero(states == RUNNING) / 3600
        starts, lengths, codes = [], [], []
        for kind in self._stop_kinds():
            count = int(rng.poisson(kind.per_hour * running_hours))
            starts.append(rng.integers(1, SECONDS_PER_DAY - 1, count))
            lengths.append(rng.integers(kind.shortest_seconds, kind.longest_seconds + 1, count))
            codes.append(np.full(count, kind.code))
        order = rng.permutation(sum(len(s) for s in starts))
        all_starts, all_lengths, all_codes = (
            np.concatenate(parts)[order] for parts in (starts, lengths, codes)
        )
        for start, length, code in zip(
            all_starts.tolist(), all_lengths.tolist(), all_codes.tolist(), strict=True
        ):
            _place_stop(states, start, length, code)

    def _pieces(
        self,
        states: np.ndarray,
        piece_rate: np.ndarray,
        orders: list[PlannedWorkOrder],
        day: date,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        produced = np.cumsum(np.where(states == RUNNING, piece_rate, 0.0))
        # A new order starts from a whole piece: the fraction of the previous order's piece is dropped.
        for order in orders:
            first = seconds_into(day, order.planned_start)
            if 0 < first < SECONDS_PER_DAY:
                produced[first:] -= produced[first - 1] - np.floor(produced[first - 1])
        completed = np.floor(produced[59::60])
        total = np.diff(completed, prepend=0.0).astype(np.int64)
        startup = self._startup_minutes(states)
        reject_rate = np.where(startup, self.behaviour.startup_reject_rate, self.behaviour.reject_rate)
        rejected = rng.binomial(total, reject_rate)
        return total - rejected, rejected

    def _startup_minutes(self, states: np.ndarray) -> np.ndarray:
        """Minutes that end within `startup_minutes` after a changeover ended (rejects run high then)."""
        changeover_ends = np.flatnonzero((states[:-1] == CHANGEOVER) & (states[1:] != CHANGEOVER)) + 1
        marks = np.full(SECONDS_PER_DAY, -SECONDS_PER_DAY, dtype=np.int64)
        marks[changeover_ends] = changeover_ends
        last_end = np.maximum.accumulate(marks)
        minute_ends = np.arange(59, SECONDS_PER_DAY, 60)
        return minute_ends - last_end[minute_ends] < 60 * (self.behaviour.startup_minutes + 1)


def _paint_work_order(
    states: np.ndarray, piece_rate: np.ndarray, order: PlannedWorkOrder, day: date, speed: float
) -> None:
    first, last = seconds_into(day, order.planned_start), seconds_into(day, order.planned_end)
    piece_rate[first:last] = speed / order.recipe.product.spec.ideal_cycle_time_s
    changeover_end = seconds_into(day, order.planned_start + timedelta(minutes=order.changeover_minutes))
    span = slice(first, changeover_end)
    states[span] = np.where(states[span] == OFF_SHIFT, OFF_SHIFT, CHANGEOVER)


def _place_stop(states: np.ndarray, start: int, length: int, code: int) -> None:
    """Put an unplanned stop on running seconds only, never touching another unplanned stop or midnight."""
    if states[start - 1] != RUNNING or states[start] != RUNNING:
        return
    stop = min(start + length, SECONDS_PER_DAY - 1)
    blocked = np.flatnonzero(states[start : stop + 1] != RUNNING)
    if blocked.size:
        first_blocked = start + int(blocked[0])
        stop = min(stop, first_blocked - 1 if states[first_blocked] in UNPLANNED_CODES else first_blocked)
    if stop > start:
        states[start:stop] = code


def run_length_segments(states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start second, end second, state code) of each run of equal states."""
    changes = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate(([0], changes))
    ends = np.concatenate((changes, [len(states)]))
    return starts, ends, states[starts]
