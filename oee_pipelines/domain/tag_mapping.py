"""Historian raw points -> telemetry rows through `historian_tag_mappings`, vectorised.

`TagMapper(mappings, system)` keeps the active mappings of one historian system (columns of the
`historian_tag_mappings` table; optional `site_id` / `line_id` columns fill those telemetry
columns). `map(points)` takes a raw point table (`tag`, `ts`, `value`, `text_value`, `quality`;
see `oee_pipelines.connectors.historian.points`) and returns the telemetry rows and the
unmapped tags with their point counts; unmapped points are reported, never dropped silently.
`map_compact(points)` gives the same rows with the repeating text columns dictionary encoded
(`COMPACT_TELEMETRY_SCHEMA`), which is how a backfill holds a day's pages until they are written.

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
- `machine_state` tags without a state set (`state_set` NULL or no such column): a reading with a
  state name gets `value` 1.0 when the name is exactly RUNNING, else 0.0; the name is kept.
- `machine_state` tags with a state set: each good reading (quality > 0) is looked up in the set
  (`state_names`: the `state_name_mappings` rows), by its state name lower-cased first, then by its
  numeric value as a code (`4.0` -> "4"). Running: `value` 1.0, `text_value` RUNNING. Stopped:
  `value` 0.0, `text_value` the state's reason code, or the state name as the source wrote it when
  the set gives no reason code. A state the set does not know: `value` 0.0 (not running) and
  `text_value` `UNMAPPED:<name>`, so the time counts as an unplanned stop with an unknown reason
  (OEE errs low, never high) and is reported by `unmapped_states()`, once per tag and name with
  its count, for the caller's `data_quality_alerts`. Bad readings (quality 0, e.g. PI's
  "I/O Timeout") keep the rule of tags without a state set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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


# Columns that repeat a few texts over millions of rows: `map_compact` gives them dictionary encoded
# (indices into the mapping rows' texts), with no string copied per point.
REPEATING_COLUMNS = (
    "org_id",
    "site_id",
    "line_id",
    "machine_id",
    "signal",
    "unit",
    "source_system",
    "source_ref",
    "ingest_run_id",
)
COMPACT_TELEMETRY_SCHEMA = pa.schema(
    [
        field.with_type(pa.dictionary(pa.int32(), pa.string())) if field.name in REPEATING_COLUMNS else field
        for field in TELEMETRY_SCHEMA
    ]
)
# mapping column -> telemetry column, for the columns taken from the tag's mapping row
MAPPED_COLUMNS = {
    "org_id": "org_id",
    "site_id": "site_id",
    "line_id": "line_id",
    "machine_id": "machine_id",
    "signal": "signal_type",
    "unit": "unit",
}


@dataclass(frozen=True)
class UnmappedTag:
    tag: str
    point_count: int


@dataclass(frozen=True)
class UnmappedState:
    """A state name (or code) of a tag that the tag's state set does not map, over every page so far."""

    tag: str
    org_id: str
    machine_id: str
    state_set: str
    name: str
    point_count: int
    first_ts: datetime


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
        state_names: pd.DataFrame | None = None,
    ) -> None:
        """`state_names`: rows of `state_name_mappings` (org_id, state_set, state_key, running,
        reason_code) for the tags whose mapping names a `state_set`."""
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
        self._states_of_row = _states_of_rows(self._mappings, state_names)
        self._has_state_set = np.append(
            np.array([states is not None for states in self._states_of_row], bool), False
        )
        self._has_state_set &= self._is_state
        # (mapping row, state name as written) -> [points, first ts in microseconds]
        self._unmapped_states: dict[tuple[int, str], list[int]] = {}
        # Per telemetry column taken from the mapping: the mapping rows' texts (the dictionary of the
        # compact column, indexed by mapping row), built once rather than per page.
        self._texts_of_rows = {
            column: _texts(self._mappings, source) for column, source in MAPPED_COLUMNS.items()
        }

    def unmapped_states(self) -> list[UnmappedState]:
        """State names of tags with a state set that the set does not map, over every page so far."""
        report = []
        for (row, name), (count, first_us) in sorted(self._unmapped_states.items()):
            mapping = self._mappings.iloc[row]
            report.append(
                UnmappedState(
                    tag=str(mapping["historian_tag"]),
                    org_id=str(mapping["org_id"]),
                    machine_id=str(mapping["machine_id"]),
                    state_set=str(mapping["state_set"]),
                    name=name,
                    point_count=count,
                    first_ts=datetime.fromtimestamp(first_us / 1_000_000, UTC),
                )
            )
        return report

    def unmapped(self) -> list[UnmappedTag]:
        """Unmapped tags over every page mapped so far."""
        return [UnmappedTag(tag, count) for tag, count in sorted(self._unmapped_counts.items())]

    def map(self, points: pa.Table) -> MappedPoints:
        """Telemetry rows in `TELEMETRY_SCHEMA`, and the unmapped tags of these points."""
        compact = self.map_compact(points)
        return MappedPoints(compact.telemetry.cast(TELEMETRY_SCHEMA), compact.unmapped)

    def map_compact(self, points: pa.Table) -> MappedPoints:
        """As `map`, in `COMPACT_TELEMETRY_SCHEMA` (the same values; texts that repeat stay encoded)."""
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
        has_text = pc.is_valid(text).to_numpy(zero_copy_only=False)
        by_set = keep & self._has_state_set[rows] & (quality > 0) & (has_text | ~np.isnan(raw))
        state = keep & self._is_state[rows] & has_text & ~by_set
        if state.any():
            running = pc.fill_null(pc.equal(text, RUNNING), False).to_numpy(zero_copy_only=False)
            value = np.where(state, running.astype(np.float64), value)
        if by_set.any():
            value, text = self._map_states(np.flatnonzero(by_set), rows, ts_us, raw, text, value)
        selected = np.flatnonzero(keep)
        return MappedPoints(
            self._telemetry(rows[selected], points, selected, value[selected], text), unmapped
        )

    def _map_states(
        self,
        indices: np.ndarray,
        rows: np.ndarray,
        ts_us: np.ndarray,
        raw: np.ndarray,
        text: pa.Array,
        value: np.ndarray,
    ) -> tuple[np.ndarray, pa.Array]:
        """Value and text of the state readings at `indices` through their tags' state sets."""
        names = pd.Series(pc.take(text, pa.array(indices, pa.int64())).to_pylist(), dtype=object)
        codes = pd.Series([_code_text(number) for number in raw[indices]], dtype=object)
        written = names.where(names.notna(), codes)  # what the source said, for text and reports
        lowered = names.str.lower()
        pairs = pd.DataFrame(
            {"row": rows[indices], "name": lowered.where(lowered.notna(), None), "code": codes}
        )
        distinct = pairs.drop_duplicates().reset_index(drop=True)
        meanings = [
            self._meaning(int(row), name, code)
            for row, name, code in distinct.itertuples(index=False, name=None)
        ]
        distinct["known"] = [meaning is not None for meaning in meanings]
        distinct["running"] = [bool(meaning and meaning[0]) for meaning in meanings]
        distinct["reason"] = [meaning[1] if meaning else None for meaning in meanings]
        looked_up = pairs.merge(distinct, on=["row", "name", "code"], how="left", sort=False)
        known = looked_up["known"].to_numpy(bool)
        running = looked_up["running"].to_numpy(bool)
        reason = looked_up["reason"]
        new_text = np.where(
            running,
            RUNNING,
            np.where(known, reason.where(reason.notna(), written), "UNMAPPED:" + written.astype(str)),
        )
        value = value.copy()
        value[indices] = running.astype(np.float64)
        texts = text.to_numpy(zero_copy_only=False).copy()
        texts[indices] = new_text
        self._count_unmapped(rows[indices][~known], written[~known].to_numpy(), ts_us[indices][~known])
        return value, pa.array(texts, pa.string())

    def _meaning(self, row: int, name: str | None, code: str | None) -> tuple[bool, str | None] | None:
        """(running, reason code) of a state name or code in the row's state set; None if unmapped."""
        states = self._states_of_row[row] or {}
        for key in (name, code):
            if key is not None and key in states:
                return states[key]
        return None

    def _count_unmapped(self, rows: np.ndarray, names: np.ndarray, ts_us: np.ndarray) -> None:
        for row, name, ts in zip(rows.tolist(), names.tolist(), ts_us.tolist(), strict=True):
            entry = self._unmapped_states.setdefault((row, str(name)), [0, ts])
            entry[0] += 1
            entry[1] = min(entry[1], ts)

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
        self, rows: np.ndarray, points: pa.Table, selected: np.ndarray, value: np.ndarray, text: pa.Array
    ) -> pa.Table:
        count = len(rows)
        mapping_rows = pa.array(rows, pa.int32())
        taken = pa.array(selected, pa.int64())
        columns = {
            column: pa.DictionaryArray.from_arrays(mapping_rows, texts)
            for column, texts in self._texts_of_rows.items()
        }
        every_row = count == points.num_rows  # the usual page keeps every point: no copies

        def picked(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
            """The selected rows of a column (itself, in one chunk as `take` gives it, when all are)."""
            if every_row and (isinstance(column, pa.Array) or column.num_chunks == 1):
                return column
            return pc.take(column, taken)

        columns |= {
            "ts": picked(points["ts"]),
            "value": pa.array(value, pa.float64(), from_pandas=True),
            "text_value": picked(text),
            "quality": picked(points["quality"]),
            "source_system": _repeated(self.system, count),
            "source_ref": _dictionary(picked(points["tag"])),
            "ingest_run_id": _repeated(self.ingest_run_id, count),
        }
        return pa.table({name: columns[name] for name in COMPACT_TELEMETRY_SCHEMA.names}).cast(
            COMPACT_TELEMETRY_SCHEMA
        )


def _texts(mappings: pd.DataFrame, column: str) -> pa.Array:
    """A mapping column's texts, one per mapping row (all null when the mappings lack the column)."""
    if column not in mappings.columns:
        return pa.nulls(len(mappings), pa.string())
    texts = mappings[column].astype(object)
    return pa.array(texts.where(texts.notna(), None), pa.string())


def _repeated(text: str | None, count: int) -> pa.DictionaryArray:
    """`text` (or null) `count` times, dictionary encoded."""
    indices = pa.array(np.zeros(count, np.int32)) if text is not None else pa.nulls(count, pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array([text], pa.string()))


def _dictionary(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column dictionary encoded with int32 indices (the raw point `tag` already is)."""
    if pa.types.is_dictionary(column.type):
        return column
    return pc.dictionary_encode(column)


def _states_of_rows(
    mappings: pd.DataFrame, state_names: pd.DataFrame | None
) -> list[dict[str, tuple[bool, str | None]] | None]:
    """Per mapping row: its state set as {state_key: (running, reason code)}, None without a set."""
    if "state_set" not in mappings.columns:
        return [None] * len(mappings)
    sets: dict[tuple[str, str], dict[str, tuple[bool, str | None]]] = {}
    if state_names is not None:
        for org_id, state_set, key, running, reason in state_names[
            ["org_id", "state_set", "state_key", "running", "reason_code"]
        ].itertuples(index=False, name=None):
            reason_code = None if pd.isna(reason) else str(reason)
            states = sets.setdefault((str(org_id), str(state_set)), {})
            states[str(key).lower()] = (bool(running), reason_code)
    result: list[dict[str, tuple[bool, str | None]] | None] = []
    for org_id, state_set in mappings[["org_id", "state_set"]].itertuples(index=False, name=None):
        missing = state_set is None or (isinstance(state_set, float) and np.isnan(state_set))
        result.append(None if missing or state_set == "" else sets.get((str(org_id), str(state_set)), {}))
    return result


def _code_text(number: float) -> str | None:
    """A numeric state code as text: 4.0 -> "4"; None for NaN."""
    if np.isnan(number):
        return None
    return str(int(number)) if float(number).is_integer() else repr(float(number))


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
