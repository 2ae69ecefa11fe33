"""Production context of every reading as of its timestamp: schedule, work order, recipe, shift, operators.

The reference frames are first flattened into non-overlapping context segments per line
(where schedules overlap, the one that started last is active). The lookup is then set-wise, an
as-of join in numpy: every line's time is cut into cells in which no segment starts or ends, the
context is looked up once per cell (a few hundred), and each reading finds its cell with one
`searchsorted` over the bounds, so ten million readings take about as long as reading them from
Parquet. Context columns are then gathered per reading from the cells' rows; string columns are
Arrow dictionary arrays: the segment values are stored once, the readings hold indices.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.intervals import TimeAxis, flatten_latest, lookup, to_micros
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED, to_telemetry_table

CANCELLED_STATUSES = {"cancelled", "canceled"}
COUNTER_SIGNALS = [PIECES_GOOD, PIECES_REJECTED]

SCHEDULE_CONTEXT = {
    "schedule_ref": pa.string(),
    "work_order_id": pa.string(),
    "wo_number": pa.string(),
    "product_id": pa.string(),
    "recipe_id": pa.string(),
    "recipe_version": pa.string(),
    "planned_quantity": pa.int32(),
    "schedule_status": pa.string(),
    "target_cycle_time_s": pa.float64(),
    "ideal_cycle_time_s": pa.float64(),
}
SHIFT_CONTEXT = {"shift_id": pa.string(), "shift_number": pa.int16(), "shift_date": pa.date32()}
OPERATOR_CONTEXT = {"operator_id": pa.string(), "operator_role": pa.string()}
CONTEXT_FIELDS = {**SCHEDULE_CONTEXT, **SHIFT_CONTEXT, **OPERATOR_CONTEXT}


@dataclass(frozen=True)
class ProductionContext:
    """Non-overlapping context segments per line (`line_id`, `start`, `end`, context columns)."""

    schedules: pd.DataFrame
    shifts: pd.DataFrame
    operators: pd.DataFrame
    machine_lines: pd.DataFrame
    # The plant model's ideal cycle times, which win over the recipe's: per machine and product
    # (`machine_id`, `product_id`, `ideal_cycle_time_s`) and per product (`product_id`, `ideal_cycle_time_s`).
    machine_cycle_times: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    product_cycle_times: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class EnrichmentResult:
    table: pa.Table
    readings: int
    readings_in_schedule: int
    readings_in_schedule_with_context: int

    @property
    def context_share(self) -> float | None:
        """Share of readings inside a schedule that got full context (the seed's goal: 1.0)."""
        if self.readings_in_schedule == 0:
            return None
        return self.readings_in_schedule_with_context / self.readings_in_schedule


def schedule_segments(
    schedules: pd.DataFrame, work_orders: pd.DataFrame, recipes: pd.DataFrame
) -> pd.DataFrame:
    """The active schedule per line over time with its work order, product, recipe and cycle times."""
    active = schedules[~schedules["status"].astype(str).str.lower().isin(CANCELLED_STATUSES)]
    orders = work_orders[["id", "wo_number", "product_id", "recipe_id"]].rename(
        columns={"id": "work_order_id", "product_id": "order_product_id", "recipe_id": "order_recipe_id"}
    )
    frame = active.merge(orders, on="work_order_id", how="left")
    frame["recipe_id"] = frame["recipe_id"].where(frame["recipe_id"].notna(), frame["order_recipe_id"])
    recipe_columns = recipes[["id", "product_id", "version", "ideal_cycle_time_s", "target_cycle_time_s"]]
    frame = frame.merge(
        recipe_columns.rename(
            columns={"id": "recipe_id", "product_id": "recipe_product_id", "version": "recipe_version"}
        ),
        on="recipe_id",
        how="left",
    )
    frame["product_id"] = (
        frame["product_id"].fillna(frame["order_product_id"]).fillna(frame["recipe_product_id"])
    )
    for column in ("ideal_cycle_time_s", "target_cycle_time_s", "planned_quantity"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["schedule_ref"] = frame["external_id"] if "external_id" in frame else frame["id"].astype(str)
    frame["schedule_status"] = frame["status"]
    frame["start"], frame["end"] = frame["planned_start"], frame["planned_end"]
    frame = frame[["line_id", "start", "end", *SCHEDULE_CONTEXT]]
    return flatten_latest(frame, "line_id")


def shift_segments(line_shifts: pd.DataFrame) -> pd.DataFrame:
    """Shift instances per line (from `shifts.line_shift_instances`) as context segments."""
    return flatten_latest(line_shifts[["line_id", "start", "end", *SHIFT_CONTEXT]], "line_id")


def operator_segments(operator_shifts: pd.DataFrame) -> pd.DataFrame:
    """Who runs each line when; several operators at once are joined with ',' (ids sorted)."""
    ordered = operator_shifts.sort_values("operator_id")
    crews = (
        ordered.groupby(["line_id", "start_time", "end_time"], as_index=False)
        .agg(operator_id=("operator_id", ",".join), operator_role=("role", ",".join))
        .rename(columns={"start_time": "start", "end_time": "end"})
    )
    return flatten_latest(crews[["line_id", "start", "end", *OPERATOR_CONTEXT]], "line_id")


def build_context(
    *,
    schedules: pd.DataFrame,
    work_orders: pd.DataFrame,
    recipes: pd.DataFrame,
    line_shifts: pd.DataFrame,
    operator_shifts: pd.DataFrame,
    machines: pd.DataFrame,
    machine_cycle_times: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
) -> ProductionContext:
    """`machine_cycle_times` (table rows, first row per machine and product wins) and `products`
    (`id`, `ideal_cycle_time_seconds`) set the ideal cycle time before the recipe does."""
    per_machine = pd.DataFrame(columns=["machine_id", "product_id", "ideal_cycle_time_s"])
    if machine_cycle_times is not None and len(machine_cycle_times):
        per_machine = (
            machine_cycle_times.drop_duplicates(["machine_id", "product_id"])
            .rename(columns={"ideal_cycle_time_seconds": "ideal_cycle_time_s"})[list(per_machine.columns)]
            .reset_index(drop=True)
        )
    per_product = pd.DataFrame(columns=["product_id", "ideal_cycle_time_s"])
    if products is not None and "ideal_cycle_time_seconds" in products and len(products):
        known = products[products["ideal_cycle_time_seconds"].notna()]
        per_product = known.rename(
            columns={"id": "product_id", "ideal_cycle_time_seconds": "ideal_cycle_time_s"}
        )[list(per_product.columns)].reset_index(drop=True)
    return ProductionContext(
        schedules=schedule_segments(schedules, work_orders, recipes),
        shifts=shift_segments(line_shifts),
        operators=operator_segments(operator_shifts),
        machine_lines=machines[["id", "line_id"]].rename(columns={"id": "machine_id"}),
        machine_cycle_times=per_machine,
        product_cycle_times=per_product,
    )


def enrich_telemetry(readings: pa.Table | pd.DataFrame, context: ProductionContext) -> EnrichmentResult:
    """Append the context columns (`CONTEXT_FIELDS`) to every reading, as of its `ts`.

    A counter increment counts the pieces of `(ts - interval, ts]`, so it takes the context of the
    instant just before `ts`: the last minute of an order is valued at that order's cycle time.
    """
    table = readings if isinstance(readings, pa.Table) else to_telemetry_table(readings)
    line_keys = pd.Index(
        pd.concat(
            [context.schedules["line_id"], context.shifts["line_id"], context.operators["line_id"]]
        ).unique()
    )
    codes = _line_codes(table, context.machine_lines, line_keys)
    ts = _ts_micros(table)
    axis = _reading_axis(table, ts, groups=len(line_keys))
    segments = {
        name: _segment_keys(frame, line_keys, axis)
        for name, frame in (
            ("schedule", context.schedules),
            ("shift", context.shifts),
            ("operator", context.operators),
        )
    }
    cell, cell_keys = _cells(segments, table, codes, ts, axis, lines=len(line_keys))
    found = {name: _segment_at(cell_keys, starts, ends) for name, (starts, ends) in segments.items()}
    per_cell = _cell_context(found, context)
    for field, column in _expand(per_cell, cell).items():
        table = table.append_column(field, column)
    table = _machine_cycle_times(table, context.machine_cycle_times)
    in_schedule = found["schedule"] >= 0
    recipe_known = _ideal_known(context.schedules, found["schedule"])
    with_context = in_schedule & recipe_known & (found["shift"] >= 0) & (found["operator"] >= 0)
    readings_per_cell = np.bincount(cell, minlength=len(cell_keys))
    return EnrichmentResult(
        table=table,
        readings=table.num_rows,
        readings_in_schedule=int(readings_per_cell[in_schedule].sum()),
        readings_in_schedule_with_context=int(readings_per_cell[with_context].sum()),
    )


def _grid_fits(cells: int, readings: int) -> bool:
    """Whether the line-by-time grid is small enough (else cells are cut at each line's own bounds)."""
    return cells <= max(1 << 16, readings)


def _segment_keys(
    segments: pd.DataFrame, line_keys: pd.Index, axis: TimeAxis
) -> tuple[np.ndarray, np.ndarray]:
    """Segment starts and ends on the lines' axis (each line its band), clipped to the readings' span."""
    if segments.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    segment_codes = pd.Categorical(segments["line_id"], categories=line_keys).codes.astype(np.int64)
    starts = axis.encode(segment_codes, to_micros(segments["start"]))
    ends = axis.encode(segment_codes, to_micros(segments["end"]))
    return starts, ends


def _cells(
    segments: dict[str, tuple[np.ndarray, np.ndarray]],
    table: pa.Table,
    codes: np.ndarray,
    ts: np.ndarray,
    axis: TimeAxis,
    lines: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut every line's time into cells in which no segment starts or ends; each reading's cell.

    Returns (cell of each reading, key on the axis of each cell's first instant, -1 for the cells
    that hold no context: before a line's first bound, or of readings on no known line).
    `ts` is spent: when writable it is turned into offsets on the axis in place (one array less).
    """
    bounds = np.unique(np.concatenate([key for pair in segments.values() for key in pair]))
    offsets = ts - axis.origin if not ts.flags.writeable else np.subtract(ts, axis.origin, out=ts)
    times = np.unique(bounds % axis.span)
    grid_cells = (lines + 1) * (len(times) + 1)
    if _grid_fits(grid_cells, len(ts)):
        # Cell (line, k) is that line during [times[k-1], times[k]); line row 0 holds unknown lines.
        # The time lookup runs over a few bounds shared by all lines, on mostly sorted readings.
        cell = codes.astype(np.int64)
        cell += 1
        cell *= len(times) + 1
        cell += _bucket(times, offsets, table)
        line_starts = np.arange(lines, dtype=np.int64)[:, None] * axis.span + times[None, :]
        cell_keys = np.full((lines + 1, len(times) + 1), -1, dtype=np.int64)
        cell_keys[1:, 1:] = line_starts
        return cell, cell_keys.ravel()
    # Cell k is [bounds[k-1], bounds[k]) on the axis; a reading on no known line (code -1) gets a
    # negative key, below every bound, hence cell 0.
    query = codes.astype(np.int64)
    query *= axis.span
    query += offsets
    return _bucket(bounds, query, table), np.concatenate([[-1], bounds])


def _bucket(sorted_keys: np.ndarray, query: np.ndarray, table: pa.Table) -> np.ndarray:
    """`searchsorted(sorted_keys, key, "right")` of each reading's context instant (see `_ts_micros`).

    A counter increment's instant is 1 µs before its key, which moves it to the bucket before only
    when its key is a bound: the signal is read for those readings alone.
    """
    bucket = np.searchsorted(sorted_keys, query, side="right")
    if len(sorted_keys) == 0:
        return bucket
    # The bound at the start of each bucket; none (a value no key takes) for bucket 0.
    bucket_start = np.concatenate([[np.iinfo(np.int64).min], sorted_keys])
    rows = np.flatnonzero(bucket_start[bucket] == query)
    bucket[rows[_is_counter(table, rows)]] -= 1
    return bucket


def _segment_at(cell_keys: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Row of the segment holding each cell key (-1 where none).

    No segment starts or ends inside a cell, so a cell's first instant has the context of all of it.
    """
    if len(starts) == 0:
        return np.full(len(cell_keys), -1, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    position = lookup(cell_keys, starts[order], ends[order])
    return np.where((position >= 0) & (cell_keys >= 0), order[np.clip(position, 0, None)], -1)


def _cell_context(found: dict[str, np.ndarray], context: ProductionContext) -> dict[str, pa.Array]:
    """The context columns per cell (few rows); readings then take their cell's row."""
    columns: dict[str, pa.Array] = {}
    for name, segments, fields in (
        ("schedule", context.schedules, SCHEDULE_CONTEXT),
        ("shift", context.shifts, SHIFT_CONTEXT),
        ("operator", context.operators, OPERATOR_CONTEXT),
    ):
        for field, arrow_type in fields.items():
            columns[field] = _take(segments[field], found[name], arrow_type)
    columns["ideal_cycle_time_s"] = _product_cycle_times(
        columns["product_id"], columns["ideal_cycle_time_s"], context.product_cycle_times
    )
    return {field: columns[field] for field in CONTEXT_FIELDS}


def _expand(per_cell: dict[str, pa.Array], cell: np.ndarray) -> dict[str, pa.Array]:
    """Each per-cell column repeated for the readings (`cell` indexes it).

    Arrays are immutable, so columns whose per-cell values (or nulls) are equal share one gathered
    buffer: schedule ref, work order and order number usually do, so do product, recipe and status.
    The gathers run on a few threads (numpy releases the GIL while it copies).
    """
    wanted: dict[tuple[str, bytes], np.ndarray] = {}
    parts: dict[str, tuple[tuple[str, bytes] | None, tuple[str, bytes]]] = {}
    for field, array in per_cell.items():
        storage = array.indices if isinstance(array, pa.DictionaryArray) else array
        validity = None
        if storage.null_count:
            valid = storage.is_valid().to_numpy(zero_copy_only=False)
            validity = ("valid", valid.tobytes())
            wanted[validity] = valid
        values = _fixed_width_values(storage)
        data = ("data" + values.dtype.str, values.tobytes())
        wanted[data] = values
        parts[field] = (validity, data)

    def gather(key: tuple[str, bytes]) -> pa.Buffer:
        taken = wanted[key][cell]
        return pa.py_buffer(np.packbits(taken, bitorder="little") if key[0] == "valid" else taken)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        gathered = dict(zip(wanted, pool.map(gather, wanted), strict=True))
    columns: dict[str, pa.Array] = {}
    for field, array in per_cell.items():
        validity, data = parts[field]
        buffers = [None if validity is None else gathered[validity], gathered[data]]
        if isinstance(array, pa.DictionaryArray):
            columns[field] = pa.DictionaryArray.from_buffers(array.type, len(cell), buffers, array.dictionary)
        else:
            columns[field] = pa.Array.from_buffers(array.type, len(cell), buffers)
    return columns


def _fixed_width_values(array: pa.Array) -> np.ndarray:
    """The values buffer of a fixed-width array as numpy (whatever lies under a null)."""
    width = array.type.bit_width // 8
    raw = np.frombuffer(array.buffers()[1], dtype=np.uint8) if len(array) else np.empty(0, np.uint8)
    values = raw[array.offset * width : (array.offset + len(array)) * width]
    return values.view(np.float64 if pa.types.is_floating(array.type) else np.dtype(f"<i{width}"))


def _product_cycle_times(product_id: pa.Array, recipe: pa.Array, per_product: pd.DataFrame) -> pa.Array:
    """The product's plant-model default ideal cycle time wins over the recipe's."""
    if per_product.empty or len(product_id) == 0:
        return recipe
    index = pc.index_in(
        pc.cast(product_id, pa.string()), value_set=pa.array(per_product["product_id"].astype(str).tolist())
    )
    default = pc.take(pa.array(per_product["ideal_cycle_time_s"].astype(float).tolist(), pa.float64()), index)
    return pc.coalesce(default, recipe)


def _machine_cycle_times(table: pa.Table, per_machine: pd.DataFrame) -> pa.Table:
    """The plant model's ideal cycle time per machine and product wins over the product's and the recipe's."""
    if per_machine.empty or table.num_rows == 0:
        return table
    product = pc.cast(table["product_id"], pa.string())
    key = pc.binary_join_element_wise(pc.cast(table["machine_id"], pa.string()), product, "\x1f")
    keys = (per_machine["machine_id"].astype(str) + "\x1f" + per_machine["product_id"].astype(str)).tolist()
    index = pc.index_in(key, value_set=pa.array(keys, pa.string()))
    own = pc.take(pa.array(per_machine["ideal_cycle_time_s"].astype(float).tolist(), pa.float64()), index)
    position = table.schema.get_field_index("ideal_cycle_time_s")
    return table.set_column(position, "ideal_cycle_time_s", pc.coalesce(own, table["ideal_cycle_time_s"]))


def _line_codes(table: pa.Table, machine_lines: pd.DataFrame, line_keys: pd.Index) -> np.ndarray:
    """Line position of each reading (-1 where unknown); a reading without line takes its machine's."""
    line = table["line_id"]
    if line.null_count:
        machine_line = pc.take(
            pa.array(machine_lines["line_id"].astype(object), pa.string()),
            pc.index_in(
                table["machine_id"],
                value_set=pa.array(machine_lines["machine_id"].astype(object), pa.string()),
            ),
        )
        line = pc.coalesce(line, machine_line)
    codes = pc.index_in(line, value_set=pa.array(list(line_keys), pa.string()))
    return pc.fill_null(codes, -1).to_numpy()


def _ts_micros(table: pa.Table) -> np.ndarray:
    """Each reading's `ts` in UTC microseconds.

    The instant whose context a reading takes is `ts`, or 1 µs before it for a counter increment;
    the few readings where that makes a difference are found by `_bucket` and `_reading_axis`.
    """
    return pc.cast(pc.cast(table["ts"], pa.timestamp("us", tz="UTC")), pa.int64()).to_numpy()


def _is_counter(table: pa.Table, rows: np.ndarray) -> np.ndarray:
    """Whether each of `rows` (ascending) is a counter reading.

    Taken chunk by chunk: a take over the chunked column would first concatenate all its strings.
    """
    counters = pa.array(COUNTER_SIGNALS)
    found = np.zeros(len(rows), dtype=bool)
    start = 0
    for chunk in table["signal"].chunks:
        first, last = np.searchsorted(rows, [start, start + len(chunk)])
        if last > first:
            signal = chunk.take(pa.array(rows[first:last] - start, pa.int64()))
            found[first:last] = pc.is_in(signal, value_set=counters).to_numpy(zero_copy_only=False)
        start += len(chunk)
    return found


def _reading_axis(table: pa.Table, ts: np.ndarray, groups: int) -> TimeAxis:
    """The axis covering every reading's context instant (earliest and latest), as `TimeAxis.covering`."""
    if len(ts) == 0:
        return TimeAxis.covering(ts, groups=groups)
    first, last = int(ts.min()), int(ts.max())
    # The earliest instant is 1 µs before `first` if a counter sits there; the latest is 1 µs before
    # `last` only if every reading at `last` is a counter.
    earliest = first - int(_is_counter(table, np.flatnonzero(ts == first)).any())
    latest = last - int(_is_counter(table, np.flatnonzero(ts == last)).all())
    return TimeAxis.covering(np.array([earliest, latest], dtype=np.int64), groups=groups)


def _take(values: pd.Series, index: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """The segment value for each index (null where no segment or no value)."""
    if pa.types.is_string(arrow_type):
        # Strings as a dictionary of the distinct segment values: readings only hold indices.
        value_codes, distinct = pd.factorize(values)
        codes = value_codes[np.clip(index, 0, None)] if len(values) else np.full(len(index), -1)
        codes = np.where(index >= 0, codes, -1)
        indices = pa.array(np.clip(codes, 0, None).astype(np.int32), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(list(distinct), pa.string()))
    source = pa.array(values.astype(object).where(values.notna(), None).tolist(), arrow_type)
    missing = index < 0
    return pc.take(source, pa.array(np.clip(index, 0, None).astype(np.int32), mask=missing))


def _ideal_known(schedules: pd.DataFrame, index: np.ndarray) -> np.ndarray:
    if schedules.empty:
        return np.zeros(len(index), dtype=bool)
    known = schedules["ideal_cycle_time_s"].notna().to_numpy()
    return (index >= 0) & known[np.clip(index, 0, None)]
