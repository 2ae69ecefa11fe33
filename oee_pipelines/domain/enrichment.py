"""Production context of every reading as of its timestamp: schedule, work order, recipe, shift, operators.

The reference frames are first flattened into non-overlapping context segments per line
(where schedules overlap, the one that started last is active). Each reading is then looked up
with one `searchsorted` over all lines at once (`intervals.TimeAxis`), so ten million readings
take seconds. Context string columns are Arrow dictionary arrays: the segment values are stored
once, the readings hold indices.
"""

from __future__ import annotations

import dataclasses
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
    micros = _context_micros(table)
    axis = TimeAxis.covering(micros, groups=len(line_keys))
    query = axis.encode(np.clip(codes, 0, None), micros)
    found: dict[str, np.ndarray] = {}
    for name, segments, fields in (
        ("schedule", context.schedules, SCHEDULE_CONTEXT),
        ("shift", context.shifts, SHIFT_CONTEXT),
        ("operator", context.operators, OPERATOR_CONTEXT),
    ):
        index = _segment_index(query, codes, segments, line_keys, axis)
        found[name] = index
        for field, arrow_type in fields.items():
            table = table.append_column(field, _take(segments[field], index, arrow_type))
    table = _plant_model_cycle_times(table, context)
    in_schedule = found["schedule"] >= 0
    recipe_known = _ideal_known(context.schedules, found["schedule"])
    with_context = in_schedule & recipe_known & (found["shift"] >= 0) & (found["operator"] >= 0)
    return EnrichmentResult(
        table=table,
        readings=table.num_rows,
        readings_in_schedule=int(in_schedule.sum()),
        readings_in_schedule_with_context=int(with_context.sum()),
    )


def _plant_model_cycle_times(table: pa.Table, context: ProductionContext) -> pa.Table:
    """`ideal_cycle_time_s` by precedence: machine and product, else product default, else recipe."""
    per_machine, per_product = context.machine_cycle_times, context.product_cycle_times
    if (per_machine.empty and per_product.empty) or table.num_rows == 0:
        return table
    product = pc.cast(table["product_id"], pa.string())
    recipe = table["ideal_cycle_time_s"]
    chosen = recipe
    if not per_product.empty:
        index = pc.index_in(product, value_set=pa.array(per_product["product_id"].astype(str).tolist()))
        default = pc.take(
            pa.array(per_product["ideal_cycle_time_s"].astype(float).tolist(), pa.float64()), index
        )
        chosen = pc.coalesce(default, chosen)
    if not per_machine.empty:
        key = pc.binary_join_element_wise(pc.cast(table["machine_id"], pa.string()), product, "\x1f")
        keys = (
            per_machine["machine_id"].astype(str) + "\x1f" + per_machine["product_id"].astype(str)
        ).tolist()
        index = pc.index_in(key, value_set=pa.array(keys, pa.string()))
        own = pc.take(pa.array(per_machine["ideal_cycle_time_s"].astype(float).tolist(), pa.float64()), index)
        chosen = pc.coalesce(own, chosen)
    position = table.schema.get_field_index("ideal_cycle_time_s")
    return table.set_column(position, "ideal_cycle_time_s", chosen)


def _line_codes(table: pa.Table, machine_lines: pd.DataFrame, line_keys: pd.Index) -> np.ndarray:
    """Line position of each reading; a reading without line_id takes its machine's line."""
    machine_line = pc.take(
        pa.array(machine_lines["line_id"].astype(object), pa.string()),
        pc.index_in(
            table["machine_id"], value_set=pa.array(machine_lines["machine_id"].astype(object), pa.string())
        ),
    )
    line = pc.coalesce(table["line_id"], machine_line)
    codes = pc.index_in(line, value_set=pa.array(list(line_keys), pa.string()))
    return pc.fill_null(codes, -1).to_numpy().astype(np.int64)


def _context_micros(table: pa.Table) -> np.ndarray:
    """The instant whose context each reading takes: `ts`, or 1 µs before it for counter increments."""
    ts = pc.cast(pc.cast(table["ts"], pa.timestamp("us", tz="UTC")), pa.int64()).to_numpy()
    is_counter = pc.is_in(table["signal"], value_set=pa.array(COUNTER_SIGNALS)).to_numpy(zero_copy_only=False)
    return ts - is_counter.astype(np.int64)


def _segment_index(
    query: np.ndarray, codes: np.ndarray, segments: pd.DataFrame, line_keys: pd.Index, axis: TimeAxis
) -> np.ndarray:
    if segments.empty or len(query) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    segment_codes = pd.Categorical(segments["line_id"], categories=line_keys).codes.astype(np.int64)
    starts = axis.encode(segment_codes, to_micros(segments["start"]))
    ends = axis.encode(segment_codes, to_micros(segments["end"]))
    order = np.argsort(starts, kind="stable")
    position = lookup(query, starts[order], ends[order])
    return np.where((position >= 0) & (codes >= 0), order[np.clip(position, 0, None)], -1)


def _take(values: pd.Series, index: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """The segment value for each reading (null where no segment or no value)."""
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
