"""Historian raw points -> telemetry rows through `historian_tag_mappings`, vectorised.

`TagMapper(mappings, system)` keeps the active mappings of one historian system (columns of the
`historian_tag_mappings` table; optional `site_id` / `line_id` columns fill those telemetry
columns). `map(points)` takes a raw point table (`tag`, `ts`, `value`, `text_value`, `quality`;
see `oee_pipelines.connectors.historian.points`) and returns the telemetry rows and the
unmapped tags with their point counts; unmapped points are reported, never dropped silently.

- `counter_mode` none / increment: `value = raw * scale_factor + offset_value`.
- `counter_mode` cumulative: each reading minus the tag's previous reading, times `scale_factor`
  (an offset cancels out in a difference). A drop is a reset (the new reading is the increment)
  unless the tag has a `counter_rollover` R and the drop is larger than R / 2, which is a wrap:
  `increment = reading + R - previous`. (A reset from above half the range to a small value is
  therefore read as a wrap; counters that wrap are normally far from resets.) A tag's first
  reading has no previous one: it is the baseline and gives no row, so ask from one counter
  interval before the window and pass `emit_from`. The mapper remembers each tag's last reading
  across pages. Bad readings (quality 0 or no number) of cumulative tags give no row and do
  not break the chain.
- `machine_state` rows with a state name get `value` 1.0 when the name is RUNNING, else 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.telemetry import MACHINE_STATE, RUNNING, TELEMETRY_SCHEMA

COUNTER_MODES = ("none", "increment", "cumulative")
REQUIRED_COLUMNS = (
    "historian_system",
    "historian_tag",
    "org_id",
    "machine_id",
    "signal_type",
    "unit",
    "scale_factor",
    "offset_value",
    "counter_mode",
    "counter_rollover",
)


@dataclass(frozen=True)
class UnmappedTag:
    tag: str
    point_count: int


@dataclass(frozen=True)
class MappedPoints:
    telemetry: pa.Table
    unmapped: list[UnmappedTag]


class TagMapper:
    """Maps the raw points of one historian system; keeps counter state between pages."""

    def __init__(
        self,
        mappings: pd.DataFrame,
        system: str,
        *,
        ingest_run_id: str | None = None,
        emit_from: datetime | None = None,
    ) -> None:
        missing = [name for name in REQUIRED_COLUMNS if name not in mappings.columns]
        if missing:
            raise ValueError(f"historian tag mappings lack columns: {', '.join(missing)}")
        active = mappings[mappings["historian_system"] == system]
        if "is_active" in active.columns:
            active = active[active["is_active"].fillna(True).astype(bool)]
        unknown_modes = sorted(set(active["counter_mode"]) - set(COUNTER_MODES))
        if unknown_modes:
            raise ValueError(f"unknown counter_mode {unknown_modes[0]!r}; known: {', '.join(COUNTER_MODES)}")
        self.system = system
        self.ingest_run_id = ingest_run_id
        self.emit_from_us = None if emit_from is None else _micros(emit_from)
        self._mappings = active.reset_index(drop=True)
        self._row_of_tag = {tag: row for row, tag in enumerate(self._mappings["historian_tag"])}
        # Each per-mapping array ends with a neutral entry, so the row -1 of an unmapped point indexes it.
        self._scale = np.append(self._mappings["scale_factor"].to_numpy(np.float64), 1.0)
        self._offset = np.append(self._mappings["offset_value"].to_numpy(np.float64), 0.0)
        rollover = self._mappings["counter_rollover"].to_numpy(np.float64, na_value=np.nan)
        self._rollover = np.append(rollover, np.nan)
        self._cumulative = np.append((self._mappings["counter_mode"] == "cumulative").to_numpy(bool), False)
        self._is_state = np.append((self._mappings["signal_type"] == MACHINE_STATE).to_numpy(bool), False)
        self._last_reading = np.full(len(self._mappings) + 1, np.nan)
        self._unmapped_counts: dict[str, int] = {}

    def unmapped(self) -> list[UnmappedTag]:
        """Unmapped tags over every page mapped so far."""
        return [UnmappedTag(tag, count) for tag, count in sorted(self._unmapped_counts.items())]

    def map(self, points: pa.Table) -> MappedPoints:
        tag_names, tag_codes = _tag_codes(points)
        rows_of_codes = np.array([self._row_of_tag.get(tag, -1) for tag in tag_names], dtype=np.int64)
        rows = rows_of_codes[tag_codes] if len(tag_codes) else np.empty(0, np.int64)
        unmapped = self._report_unmapped(tag_names, tag_codes, rows_of_codes)
        ts_us = points["ts"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        raw = points["value"].combine_chunks().to_numpy(zero_copy_only=False).astype(np.float64)
        quality = points["quality"].combine_chunks().to_numpy(zero_copy_only=False)
        text = points["text_value"].combine_chunks()
        keep = rows >= 0
        value = np.where(keep, raw * self._scale[rows] + self._offset[rows], np.nan)
        counter = keep & self._cumulative[rows]
        if counter.any():
            increments, has_increment = self._increments(rows, raw, quality, counter)
            value = np.where(counter, increments, value)
            keep &= ~counter | has_increment
        if self.emit_from_us is not None:
            keep &= ts_us >= self.emit_from_us
        state = keep & self._is_state[rows] & pc.is_valid(text).to_numpy(zero_copy_only=False)
        if state.any():
            running = pc.fill_null(pc.equal(text, RUNNING), False).to_numpy(zero_copy_only=False)
            value = np.where(state, running.astype(np.float64), value)
        selected = np.flatnonzero(keep)
        return MappedPoints(self._telemetry(rows[selected], points, selected, value[selected]), unmapped)

    def _increments(
        self, rows: np.ndarray, raw: np.ndarray, quality: np.ndarray, counter: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per point: the counter increment, and whether it has one (not a baseline or bad reading)."""
        usable = np.flatnonzero(counter & (quality > 0) & ~np.isnan(raw))
        # Group the readings by tag, keeping time order within a tag (pages arrive in time order).
        order = usable[np.argsort(rows[usable], kind="stable")]
        tag_rows, readings = rows[order], raw[order]
        first_of_tag = np.diff(tag_rows, prepend=-2) != 0
        previous = np.roll(readings, 1)
        previous[first_of_tag] = self._last_reading[tag_rows[first_of_tag]]
        increments = _counter_increments(readings, previous, self._rollover[tag_rows]) * self._scale[tag_rows]
        last_of_tag = np.diff(tag_rows, append=-2) != 0
        self._last_reading[tag_rows[last_of_tag]] = readings[last_of_tag]
        result = np.full(len(rows), np.nan)
        result[order] = increments
        has_increment = np.zeros(len(rows), bool)
        has_increment[order] = ~np.isnan(increments)
        return result, has_increment

    def _report_unmapped(
        self, tag_names: list[str], tag_codes: np.ndarray, rows_of_codes: np.ndarray
    ) -> list[UnmappedTag]:
        counts = np.bincount(tag_codes, minlength=len(tag_names))
        report = [
            UnmappedTag(tag, int(counts[code]))
            for code, tag in enumerate(tag_names)
            if rows_of_codes[code] < 0 and counts[code] > 0
        ]
        for item in report:
            self._unmapped_counts[item.tag] = self._unmapped_counts.get(item.tag, 0) + item.point_count
        return report

    def _telemetry(
        self, rows: np.ndarray, points: pa.Table, selected: np.ndarray, value: np.ndarray
    ) -> pa.Table:
        count = len(rows)
        mapping_rows = pa.array(rows, pa.int64())

        def mapped(column: str) -> pa.Array:
            if column not in self._mappings.columns:
                return pa.nulls(count, pa.string())
            texts = self._mappings[column].astype(object)
            strings = pa.array(texts.where(texts.notna(), None), pa.string())
            return pc.take(strings, mapping_rows)

        taken = pa.array(selected, pa.int64())
        columns = {
            "org_id": mapped("org_id"),
            "site_id": mapped("site_id"),
            "line_id": mapped("line_id"),
            "machine_id": mapped("machine_id"),
            "signal": mapped("signal_type"),
            "ts": pc.take(points["ts"], taken),
            "value": pa.array(value, pa.float64(), from_pandas=True),
            "text_value": pc.take(points["text_value"], taken),
            "unit": mapped("unit"),
            "quality": pc.take(points["quality"], taken),
            "source_system": pa.array(np.full(count, self.system, dtype=object), pa.string()),
            "source_ref": pc.take(pc.cast(points["tag"], pa.string()), taken),
            "ingest_run_id": pa.array([self.ingest_run_id] * count, pa.string())
            if self.ingest_run_id is not None
            else pa.nulls(count, pa.string()),
        }
        return pa.table(columns).cast(TELEMETRY_SCHEMA)


def _counter_increments(readings: np.ndarray, previous: np.ndarray, rollover: np.ndarray) -> np.ndarray:
    """Increment of each cumulative reading over the previous one (NaN when there is none)."""
    delta = readings - previous
    dropped = delta < 0
    wrapped = dropped & ~np.isnan(rollover) & (-delta > rollover / 2)
    return np.where(wrapped, readings + rollover - previous, np.where(dropped, readings, delta))


def _tag_codes(points: pa.Table) -> tuple[list[str], np.ndarray]:
    """The distinct tags of a point table and, per point, its index into them."""
    column = points["tag"].combine_chunks() if points.num_rows else pa.array([], pa.string())
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    tags = column.dictionary.to_pylist()
    codes = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return tags, codes


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"emit_from must be timezone-aware, got {moment!r}")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond
