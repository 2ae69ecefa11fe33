"""The deterministic simulated plant: reference data, event log, telemetry and ground-truth OEE.

`SimulatedPlant(description, seed=42)` answers every question from the description and the
seed alone. Randomness is seeded per (seed, machine, UTC day) (per line and local date for the
plan), so any range gives the same values whatever was asked before. Times are UTC.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.simulator import reference, registry, truth
from oee_pipelines.simulator.calendar import PlannedWorkOrder, PlantCalendar, day_start, to_utc, utc_days
from oee_pipelines.simulator.description import PlantConfigError, PlantDescription, load_plant_description
from oee_pipelines.simulator.events import (
    RUNNING,
    STATE_NAMES,
    EventGenerator,
    MachineDay,
    run_length_segments,
)
from oee_pipelines.simulator.layout import Machine, PlantLayout
from oee_pipelines.simulator.sensors import (
    LINE_SIGNALS,
    MACHINE_SIGNALS,
    Readings,
    line_signal_readings,
    machine_signal_readings,
    signal_rng,
    signal_spec,
)

__all__ = ["PlantConfigError", "PlantDescription", "SimulatedPlant", "load_plant_description"]

TimeLike: TypeAlias = datetime | date | str | pd.Timestamp
STATE_SIGNAL, GOOD_SIGNAL, REJECTED_SIGNAL = "machine_state", "pieces_good", "pieces_rejected"
ALL_SIGNALS = (STATE_SIGNAL, GOOD_SIGNAL, REJECTED_SIGNAL, *MACHINE_SIGNALS, *LINE_SIGNALS)
CACHED_MACHINE_DAYS = 512
SOURCE_SYSTEM = "simulator"


@dataclass(frozen=True)
class SignalChunk:
    """Readings of one signal of one machine, before they become telemetry rows."""

    machine: Machine
    signal: str
    seconds: np.ndarray  # int64 epoch seconds
    values: np.ndarray  # float64
    quality: np.ndarray  # int16
    state_codes: np.ndarray | None = None  # machine_state only: index into STATE_NAMES


class SimulatedPlant:
    def __init__(self, description: PlantDescription, seed: int = 42) -> None:
        self.description = description
        self.seed = seed
        self.layout = PlantLayout(description)
        self.calendar = PlantCalendar(self.layout, seed)
        self.events = EventGenerator(self.calendar)
        self._machine_days: OrderedDict[tuple[int, date], MachineDay] = OrderedDict()

    # Reference frames, one per warehouse table.
    def organizations(self) -> pd.DataFrame:
        return reference.organizations(self.layout)

    def sites(self) -> pd.DataFrame:
        return reference.sites(self.layout)

    def lines(self) -> pd.DataFrame:
        return reference.lines(self.layout)

    def machines(self) -> pd.DataFrame:
        return reference.machines(self.layout)

    def shifts(self) -> pd.DataFrame:
        return reference.shifts(self.layout)

    def shift_breaks(self) -> pd.DataFrame:
        return reference.shift_breaks(self.layout)

    def operators(self) -> pd.DataFrame:
        return reference.operators(self.layout)

    def products(self) -> pd.DataFrame:
        return reference.products(self.layout)

    def recipes(self) -> pd.DataFrame:
        return reference.recipes(self.layout)

    def reason_codes(self) -> pd.DataFrame:
        return reference.reason_codes(self.layout)

    def materials(self) -> pd.DataFrame:
        return reference.materials(self.layout)

    def iot_sensors(self) -> pd.DataFrame:
        return registry.iot_sensors(self.layout)

    def historian_tag_mappings(self) -> pd.DataFrame:
        return registry.historian_tag_mappings(self.layout)

    def sensor_range_config(self) -> pd.DataFrame:
        return registry.sensor_range_config(self.layout)

    # Frames over a time range.
    def operator_shifts(self, start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Who ran each line on each shift instance overlapping [start, end)."""
        begin, finish = _range(start, end)
        rows = []
        for site in self.layout.sites:
            site_lines = [line for line in self.layout.lines if line.site is site]
            for instance in self.calendar.shifts_between(site, begin, finish):
                crew = [
                    o
                    for o in self.layout.operators
                    if o.site is site and o.shift_number == instance.shift.number
                ]
                for operator in crew:
                    for line in [operator.line] if operator.line else site_lines:
                        rows.append(
                            {
                                "org_id": self.description.organization_id,
                                "line_id": line.id,
                                "shift_id": instance.shift.id,
                                "shift_date": instance.shift_date,
                                "operator_id": operator.id,
                                "role": operator.role,
                                "start_time": pd.Timestamp(instance.start),
                                "end_time": pd.Timestamp(instance.end),
                            }
                        )
        columns = [
            "org_id",
            "line_id",
            "shift_id",
            "shift_date",
            "operator_id",
            "role",
            "start_time",
            "end_time",
        ]
        return pd.DataFrame(rows, columns=columns)

    def work_orders(self, start: TimeLike, end: TimeLike, as_of: TimeLike | None = None) -> pd.DataFrame:
        """Work orders planned to overlap [start, end); status as of `as_of` (default: all completed)."""
        moment = to_utc(as_of) if as_of is not None else None
        rows = [self._work_order_row(order, moment) for order in self._planned_orders(start, end)]
        return pd.DataFrame(rows, columns=WORK_ORDER_COLUMNS)

    def _work_order_row(self, order: PlannedWorkOrder, as_of: datetime | None) -> dict[str, object]:
        started = as_of is None or order.planned_start <= as_of
        completed = as_of is None or order.planned_end <= as_of
        status = "completed" if completed else "in_progress" if started else "released"
        return {
            "id": order.id,
            "org_id": self.description.organization_id,
            "wo_number": order.id.removeprefix(self.description.id_prefix),
            "product_id": order.recipe.product.id,
            "recipe_id": order.recipe.id,
            "line_id": order.line.id,
            "planned_quantity": order.planned_quantity,
            "actual_quantity": None,
            "status": status,
            "planned_start": pd.Timestamp(order.planned_start),
            "planned_end": pd.Timestamp(order.planned_end),
            "actual_start": pd.Timestamp(order.planned_start) if started else pd.NaT,
            "actual_end": pd.Timestamp(order.planned_end) if completed else pd.NaT,
            "source_system": SOURCE_SYSTEM,
        }

    def schedules(self, start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Production schedule entries (one per work order) overlapping [start, end)."""
        rows = [
            {
                "org_id": self.description.organization_id,
                "external_id": f"SCH-{order.id}",
                "line_id": order.line.id,
                "work_order_id": order.id,
                "product_id": order.recipe.product.id,
                "recipe_id": order.recipe.id,
                "planned_start": pd.Timestamp(order.planned_start),
                "planned_end": pd.Timestamp(order.planned_end),
                "planned_quantity": order.planned_quantity,
                "status": "scheduled",
                "source_system": SOURCE_SYSTEM,
            }
            for order in self._planned_orders(start, end)
        ]
        return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)

    def _planned_orders(self, start: TimeLike, end: TimeLike) -> list[PlannedWorkOrder]:
        begin, finish = _range(start, end)
        return [
            order
            for line in self.layout.lines
            for order in self.calendar.work_orders_between(line, begin, finish)
        ]

    def labor_costs(self, start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Labour per line, local work date in [start, end) and cost centre (production, maintenance)."""
        begin, finish = _range(start, end)
        rows = []
        for day in utc_days(begin, finish):
            for line in self.layout.lines:
                hours = (
                    sum(
                        (s.end - s.start).total_seconds()
                        for s in self.calendar.site_day_shifts(line.site, day)
                    )
                    / 3600
                )
                rate = line.site.spec.hourly_rate
                for centre, centre_hours, centre_rate in (
                    ("PROD", hours, rate),
                    ("MAINT", 0.1 * hours, 1.25 * rate),
                ):
                    if centre_hours > 0:
                        rows.append(
                            {
                                "org_id": self.description.organization_id,
                                "line_id": line.id,
                                "cost_center": f"CC-{line.code}-{centre}",
                                "work_date": day,
                                "labor_hours": round(centre_hours, 2),
                                "hourly_rate": round(centre_rate, 2),
                                "labor_cost": round(centre_hours * centre_rate, 2),
                                "currency": line.site.spec.currency,
                                "source_system": SOURCE_SYSTEM,
                            }
                        )
        return pd.DataFrame(rows, columns=LABOR_COLUMNS)

    # The event log.
    def machine_states(
        self, start: TimeLike, end: TimeLike, machine_ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """State intervals overlapping [start, end), clipped to it; reason_code is null while running."""
        begin, finish = _range(start, end)
        frames = []
        for machine in self._select(machine_ids):
            starts, ends, codes = self._segments(machine, begin, finish)
            frames.append(
                pd.DataFrame(
                    {
                        "machine_id": machine.id,
                        "start_time": pd.to_datetime(starts, unit="s", utc=True),
                        "end_time": pd.to_datetime(ends, unit="s", utc=True),
                        "state": np.where(codes == RUNNING, "RUNNING", "STOPPED"),
                        "reason_code": pd.Series(np.asarray(STATE_NAMES, dtype=object)[codes]).where(
                            codes != RUNNING, None
                        ),
                    }
                )
            )
        return _concat(frames, ["machine_id", "start_time", "end_time", "state", "reason_code"])

    def pieces(
        self, start: TimeLike, end: TimeLike, machine_ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """One row per machine per minute with ts in (start, end]: the pieces completed in (ts - 60 s, ts]."""
        begin, finish = _range(start, end)
        frames = []
        for machine in self._select(machine_ids):
            seconds, good, rejected = self._minute_pieces(machine, begin, finish)
            inside = (seconds > _epoch(begin)) & (seconds <= _epoch(finish))
            frames.append(
                pd.DataFrame(
                    {
                        "machine_id": machine.id,
                        "ts": pd.to_datetime(seconds[inside], unit="s", utc=True),
                        "good": good[inside],
                        "rejected": rejected[inside],
                    }
                )
            )
        return _concat(frames, ["machine_id", "ts", "good", "rejected"])

    def telemetry(
        self,
        start: TimeLike,
        end: TimeLike,
        machine_ids: Iterable[str] | None = None,
        signals: Iterable[str] | None = None,
    ) -> pa.Table:
        """Readings with ts in [start, end) in the telemetry schema (source_system "simulator").

        machine_state rows are state changes, the first one at `start` (the state then); piece rows
        are per-minute increments; process sensors come every `sensor_interval_seconds` with noise,
        spikes, gaps and duplicates. Humidity is a line sensor, reported on the line's first machine.
        """
        begin, finish = _range(start, end)
        wanted = tuple(signals) if signals is not None else ALL_SIGNALS
        unknown = [signal for signal in wanted if signal not in ALL_SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal {unknown[0]!r}; known: {', '.join(ALL_SIGNALS)}")
        chunks: list[SignalChunk] = []
        for machine in self._select(machine_ids):
            for signal in wanted:
                chunks += self._signal_chunks(machine, signal, begin, finish)
        return self._telemetry_table(chunks)

    def signal_arrays(
        self, machine_id: str, signal: str, start: TimeLike, end: TimeLike
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One machine's `signal` in [start, end) as `telemetry` holds it, without building the table:
        ts (int64 epoch microseconds), value (float64), quality (int16) and text_value (object: the
        state name, None for other signals). For callers reading one signal at a time (the historians).
        """
        begin, finish = _range(start, end)
        if signal not in ALL_SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; known: {', '.join(ALL_SIGNALS)}")
        chunks = self._signal_chunks(self.layout.machine(machine_id), signal, begin, finish)

        def joined(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(arrays or [np.empty(0, dtype)]).astype(dtype)

        codes = joined(
            [c.state_codes if c.state_codes is not None else np.full(len(c.seconds), -1) for c in chunks],
            np.int64,
        )
        names = np.asarray([*STATE_NAMES, None], dtype=object)  # code -1: no state name
        return (
            joined([chunk.seconds for chunk in chunks], np.int64) * 1_000_000,
            joined([chunk.values for chunk in chunks], np.float64),
            joined([chunk.quality for chunk in chunks], np.int16),
            names[codes],
        )

    def true_oee(self, start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Ground-truth OEE per machine per 15-minute window of [start, end), from `truth.py`."""
        begin, finish = _range(start, end)
        days = utc_days(begin, finish)
        # Whole UTC days of states: an unplanned stop never crosses midnight, so every stop is whole.
        log_start, log_end = day_start(days[0]), day_start(days[-1]) + timedelta(days=1)
        reason_codes = self.reason_codes()
        inputs = truth.TruthInputs(
            machines=self.machines().rename(columns={"id": "machine_id"})[["machine_id", "line_id"]],
            scheduled=self._scheduled_frame(begin, finish),
            states=self.machine_states(log_start, log_end),
            reason_codes=reason_codes[["code", "is_planned", "loss_category"]],
            pieces=self.pieces(begin, finish),
            work_orders=self._orders_with_ideal_cycle(
                log_start - timedelta(days=1), log_end + timedelta(days=1)
            ),
        )
        return truth.true_oee(inputs, begin, finish, self.description.microstop_threshold_seconds)

    # Internals.
    def _select(self, machine_ids: Iterable[str] | None) -> list[Machine]:
        if machine_ids is None:
            return self.layout.machines
        return [self.layout.machine(machine_id) for machine_id in machine_ids]

    def _machine_day(self, machine: Machine, day: date) -> MachineDay:
        key = (machine.index, day)
        if key in self._machine_days:
            self._machine_days.move_to_end(key)
            return self._machine_days[key]
        result = self.events.machine_day(machine, day)
        self._machine_days[key] = result
        if len(self._machine_days) > CACHED_MACHINE_DAYS:
            self._machine_days.popitem(last=False)
        return result

    def _segments(
        self, machine: Machine, begin: datetime, finish: datetime
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = []
        for day in utc_days(begin, finish):
            starts, ends, codes = run_length_segments(self._machine_day(machine, day).states)
            offset = _epoch(day_start(day))
            parts.append((starts + offset, ends + offset, codes))
        starts, ends, codes = (np.concatenate([part[n] for part in parts]) for n in range(3))
        # Days are contiguous: equal states meeting at midnight are one interval.
        first_of_run = np.concatenate(([True], codes[1:] != codes[:-1]))
        last_of_run = np.concatenate((first_of_run[1:], [True]))
        starts, ends, codes = starts[first_of_run], ends[last_of_run], codes[first_of_run]
        inside = (ends > _epoch(begin)) & (starts < _epoch(finish))
        return (
            np.maximum(starts[inside], _epoch(begin)),
            np.minimum(ends[inside], _epoch(finish)),
            codes[inside].astype(np.int64),
        )

    def _minute_pieces(
        self, machine: Machine, begin: datetime, finish: datetime
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Minute rows of the UTC days holding every minute end in [begin, finish]; the caller cuts them."""
        # The minute ending at ts belongs to the day of ts - 1 s (the day's last minute ends at midnight).
        days = utc_days(begin - timedelta(seconds=1), finish)
        minute_ends = np.arange(60, 86_401, 60, dtype=np.int64)
        seconds = np.concatenate([minute_ends + _epoch(day_start(day)) for day in days])
        good = np.concatenate([self._machine_day(machine, day).good for day in days])
        rejected = np.concatenate([self._machine_day(machine, day).rejected for day in days])
        return seconds, good, rejected

    def _signal_chunks(
        self, machine: Machine, signal: str, begin: datetime, finish: datetime
    ) -> list[SignalChunk]:
        if signal == STATE_SIGNAL:
            starts, _, codes = self._segments(machine, begin, finish)
            values = (codes == RUNNING).astype(np.float64)
            return [SignalChunk(machine, signal, starts, values, np.full(len(starts), 100, np.int16), codes)]
        if signal in (GOOD_SIGNAL, REJECTED_SIGNAL):
            seconds, good, rejected = self._minute_pieces(machine, begin, finish)
            inside = (seconds >= _epoch(begin)) & (seconds < _epoch(finish))
            counts = (good if signal == GOOD_SIGNAL else rejected)[inside].astype(np.float64)
            return [
                SignalChunk(machine, signal, seconds[inside], counts, np.full(len(counts), 100, np.int16))
            ]
        if signal in LINE_SIGNALS and registry.line_sensor_machine(self.layout, machine.line) is not machine:
            return []
        return [self._sensor_chunk(machine, signal, day, begin, finish) for day in utc_days(begin, finish)]

    def _sensor_chunk(
        self, machine: Machine, signal: str, day: date, begin: datetime, finish: datetime
    ) -> SignalChunk:
        interval = self.description.sensor_interval_seconds
        readings: Readings
        if signal in LINE_SIGNALS:
            rng = signal_rng(self.seed, machine.line.index, day.toordinal(), signal)
            readings = line_signal_readings(signal, interval, rng)
        else:
            machine_day = self._machine_day(machine, day)
            rng = signal_rng(self.seed, machine.index, day.toordinal(), signal)
            readings = machine_signal_readings(
                signal, machine_day.states, machine_day.piece_rate, interval, rng
            )
        seconds = readings.offsets + _epoch(day_start(day))
        inside = (seconds >= _epoch(begin)) & (seconds < _epoch(finish))
        return SignalChunk(
            machine, signal, seconds[inside], readings.values[inside], readings.quality[inside]
        )

    def _telemetry_table(self, chunks: list[SignalChunk]) -> pa.Table:
        lengths = np.array([len(chunk.seconds) for chunk in chunks], dtype=np.int64)

        def repeated(text_of: Callable[[SignalChunk], str | None]) -> pa.Array:
            texts = [text_of(chunk) for chunk in chunks]
            dictionary = sorted({text for text in texts if text is not None})
            codes = np.array(
                [dictionary.index(text) if text is not None else -1 for text in texts], dtype=np.int32
            )
            return _dictionary_strings(np.repeat(codes, lengths), dictionary)

        state_codes = np.concatenate(
            [
                chunk.state_codes if chunk.state_codes is not None else np.full(len(chunk.seconds), -1)
                for chunk in chunks
            ]
            or [np.empty(0, np.int64)]
        ).astype(np.int32)

        def concatenated(attribute: str, dtype: type) -> np.ndarray:
            return np.concatenate(
                [getattr(chunk, attribute) for chunk in chunks] or [np.empty(0, dtype)]
            ).astype(dtype)

        columns = {
            "org_id": repeated(lambda chunk: self.description.organization_id),
            "site_id": repeated(lambda chunk: chunk.machine.line.site.id),
            "line_id": repeated(lambda chunk: chunk.machine.line.id),
            "machine_id": repeated(lambda chunk: chunk.machine.id),
            "signal": repeated(lambda chunk: chunk.signal),
            "ts": pa.array(concatenated("seconds", np.int64) * 1_000_000, type=pa.timestamp("us", tz="UTC")),
            "value": pa.array(concatenated("values", np.float64)),
            "text_value": _dictionary_strings(state_codes, list(STATE_NAMES)),
            "unit": repeated(lambda chunk: _unit(chunk.signal)),
            "quality": pa.array(concatenated("quality", np.int16)),
            "source_system": repeated(lambda chunk: SOURCE_SYSTEM),
            "source_ref": repeated(
                lambda chunk: registry.source_ref(self.layout, chunk.machine, chunk.signal)
            ),
            "ingest_run_id": pa.nulls(int(lengths.sum()), pa.string()),
        }
        return pa.table(columns, schema=TELEMETRY_SCHEMA)

    def _scheduled_frame(self, begin: datetime, finish: datetime) -> pd.DataFrame:
        rows = [
            {
                "line_id": line.id,
                "shift_id": instance.shift.id,
                "start_time": instance.start,
                "end_time": instance.end,
            }
            for line in self.layout.lines
            for instance in self.calendar.shifts_between(line.site, begin, finish)
        ]
        return pd.DataFrame(rows, columns=["line_id", "shift_id", "start_time", "end_time"])

    def _orders_with_ideal_cycle(self, begin: datetime, finish: datetime) -> pd.DataFrame:
        rows = [
            {
                "id": order.id,
                "line_id": order.line.id,
                "planned_start": order.planned_start,
                "planned_end": order.planned_end,
                "ideal_cycle_time_s": order.recipe.product.spec.ideal_cycle_time_s,
            }
            for order in self._planned_orders(begin, finish)
        ]
        return pd.DataFrame(
            rows, columns=["id", "line_id", "planned_start", "planned_end", "ideal_cycle_time_s"]
        )


WORK_ORDER_COLUMNS = [
    "id",
    "org_id",
    "wo_number",
    "product_id",
    "recipe_id",
    "line_id",
    "planned_quantity",
    "actual_quantity",
    "status",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "source_system",
]
SCHEDULE_COLUMNS = [
    "org_id",
    "external_id",
    "line_id",
    "work_order_id",
    "product_id",
    "recipe_id",
    "planned_start",
    "planned_end",
    "planned_quantity",
    "status",
    "source_system",
]
LABOR_COLUMNS = [
    "org_id",
    "line_id",
    "cost_center",
    "work_date",
    "labor_hours",
    "hourly_rate",
    "labor_cost",
    "currency",
    "source_system",
]


def _range(start: TimeLike, end: TimeLike) -> tuple[datetime, datetime]:
    begin, finish = to_utc(start), to_utc(end)
    if finish <= begin:
        raise ValueError(f"empty time range: {begin.isoformat()} .. {finish.isoformat()}")
    return begin, finish


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _unit(signal: str) -> str | None:
    if signal == STATE_SIGNAL:
        return None
    if signal in (GOOD_SIGNAL, REJECTED_SIGNAL):
        return "pcs"
    return signal_spec(signal).unit


def _dictionary_strings(codes: np.ndarray, dictionary: list[str]) -> pa.Array:
    indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, type=pa.string())).cast(pa.string())


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
