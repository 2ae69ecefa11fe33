"""Enrichment's as-of lookups, set-wise: a hand-computed case, the edges, and a brute-force oracle.

The lookup cuts each line's time into cells in which no context changes; the tests pin what a
reading gets (and its Arrow types) on both ways of cutting: the line-by-time grid and, for plants
too big for it, the cells cut at each line's own bounds.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.domain import enrichment
from oee_pipelines.domain.enrichment import CONTEXT_FIELDS, ProductionContext, build_context, enrich_telemetry
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA, to_telemetry_table
from oee_pipelines_tests.support.telemetry_rows import utc

DAY = dt.date(2025, 1, 6)


@pytest.fixture(params=["grid", "line bounds"])
def cutting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(enrichment, "_grid_fits", lambda cells, readings: request.param == "grid")
    return str(request.param)


def at(hour_minute: str) -> pd.Timestamp:
    return utc(f"2025-01-06 {hour_minute}")


def literal_context() -> ProductionContext:
    schedules = pd.DataFrame(
        {
            "external_id": ["S-A", "S-B", "S-C", "S-D"],
            "line_id": ["L1", "L1", "L1", "L2"],
            "work_order_id": ["WO-1", "WO-2", "WO-3", "WO-4"],
            "product_id": [None, "P2", "P3", "P3"],
            "recipe_id": [None, "R2", None, None],
            "planned_start": [at("06:00"), at("08:00"), at("07:00"), at("10:00")],
            "planned_end": [at("12:00"), at("09:00"), at("13:00"), at("11:00")],
            "planned_quantity": [500, 100, 7, 40],
            "status": ["in_progress", "scheduled", "cancelled", "scheduled"],
        }
    )  # fmt: skip
    work_orders = pd.DataFrame(
        {
            "id": ["WO-1", "WO-2", "WO-3"],
            "wo_number": ["000001", "000002", "000003"],
            "product_id": ["P1", "P2", "P3"],
            "recipe_id": ["R1", "R2", None],
        }
    )
    recipes = pd.DataFrame(
        {
            "id": ["R1", "R2"],
            "product_id": ["P1", "P2"],
            "version": ["1.0", None],
            "ideal_cycle_time_s": [30.0, 20.0],
            "target_cycle_time_s": [33.0, 22.0],
        }
    )
    line_shifts = pd.DataFrame(
        {
            "line_id": ["L1", "L2"],
            "shift_id": ["SHIFT-1", "SHIFT-2"],
            "shift_number": [1, 2],
            "shift_date": [DAY, DAY],
            "start": [at("06:00"), at("10:00")],
            "end": [at("14:00"), at("18:00")],
        }
    )
    operator_shifts = pd.DataFrame(
        {
            "line_id": "L1",
            "shift_id": "SHIFT-1",
            "operator_id": ["OP-2", "OP-1"],
            "role": ["supervisor", "operator"],
            "start_time": at("06:00"),
            "end_time": at("14:00"),
        }
    )
    return build_context(
        schedules=schedules,
        work_orders=work_orders,
        recipes=recipes,
        line_shifts=line_shifts,
        operator_shifts=operator_shifts,
        machines=pd.DataFrame({"id": ["M1", "M2"], "line_id": ["L1", "L2"]}),
    )


LITERAL_READINGS = [
    # machine, line, signal, ts (UTC)
    ("M1", "L1", "temperature", "2025-01-06 05:59:59"),  # before every window
    ("M1", "L1", "temperature", "2025-01-06 08:00"),  # S-B started last: it wins over S-A
    ("M1", "L1", "pieces_good", "2025-01-06 08:00"),  # a counter: the instant before, still S-A
    ("M1", None, "temperature", "2025-01-06 09:00"),  # no line: M1's line; S-B is over, S-A again
    ("M1", "L1", "pieces_good", "2025-01-06 09:00"),  # counter: still S-B
    ("M2", "L2", "temperature", "2025-01-06 10:30"),  # S-D: unknown order, no recipe; no crew
    ("M9", None, "temperature", "2025-01-06 10:30"),  # unknown machine, no line: nothing
    ("M1", "L1", "temperature", "2025-01-06 12:00"),  # S-A is over (S-C was cancelled)
    ("M1", "L1", "pieces_rejected", "2025-01-06 14:00"),  # counter: last instant of the shift
    ("M2", "L2", "temperature", "2025-01-06 18:00"),  # the shift is over
]
AB, A, D = ("S-B", "S-A", "S-D")
EXPECTED = {
    "schedule_ref": [None, AB, A, A, AB, D, None, None, None, None],
    "work_order_id": [None, "WO-2", "WO-1", "WO-1", "WO-2", "WO-4", None, None, None, None],
    "wo_number": [None, "000002", "000001", "000001", "000002", None, None, None, None, None],
    "product_id": [None, "P2", "P1", "P1", "P2", "P3", None, None, None, None],
    "recipe_id": [None, "R2", "R1", "R1", "R2", None, None, None, None, None],
    "recipe_version": [None, None, "1.0", "1.0", None, None, None, None, None, None],
    "planned_quantity": [None, 100, 500, 500, 100, 40, None, None, None, None],
    "schedule_status": [
        None, "scheduled", "in_progress", "in_progress", "scheduled", "scheduled", None, None, None, None
    ],
    "target_cycle_time_s": [None, 22.0, 33.0, 33.0, 22.0, None, None, None, None, None],
    "ideal_cycle_time_s": [None, 20.0, 30.0, 30.0, 20.0, None, None, None, None, None],
    "shift_id": [None, *["SHIFT-1"] * 4, "SHIFT-2", None, "SHIFT-1", "SHIFT-1", None],
    "shift_number": [None, 1, 1, 1, 1, 2, None, 1, 1, None],
    "shift_date": [None, DAY, DAY, DAY, DAY, DAY, None, DAY, DAY, None],
    "operator_id": [None, *["OP-1,OP-2"] * 4, None, None, *["OP-1,OP-2"] * 2, None],
    "operator_role": [None, *["operator,supervisor"] * 4, None, None, *["operator,supervisor"] * 2, None],
}  # fmt: skip
CONTEXT_TYPES = {
    field: pa.dictionary(pa.int32(), pa.string()) if pa.types.is_string(arrow_type) else arrow_type
    for field, arrow_type in CONTEXT_FIELDS.items()
}


def literal_readings(tz: str = "UTC") -> pa.Table:
    frame = pd.DataFrame(
        [
            {
                "org_id": "demo",
                "site_id": "SITE-01",
                "line_id": line,
                "machine_id": machine,
                "signal": signal,
                "ts": utc(ts),
                "value": 1.0,
                "text_value": None,
                "unit": None,
                "quality": 100,
                "source_system": "simulator",
                "source_ref": None,
                "ingest_run_id": "run",
            }
            for machine, line, signal, ts in LITERAL_READINGS
        ]
    )
    table = to_telemetry_table(frame)
    position = table.schema.get_field_index("ts")
    return table.set_column(position, "ts", table["ts"].cast(pa.timestamp("us", tz=tz)))


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/Chicago"])
def test_the_hand_computed_case_whatever_the_readings_time_zone(cutting: str, tz: str) -> None:
    readings = literal_readings(tz)
    result = enrich_telemetry(readings, literal_context())
    table = result.table
    assert table.schema.names == [*TELEMETRY_SCHEMA.names, *CONTEXT_FIELDS]
    # The readings' own columns pass through untouched, their time zone too.
    assert table.select(TELEMETRY_SCHEMA.names).equals(readings)
    assert {field: table.schema.field(field).type for field in CONTEXT_FIELDS} == CONTEXT_TYPES
    assert {field: table[field].to_pylist() for field in CONTEXT_FIELDS} == EXPECTED
    # String context is dictionary-encoded over the distinct segment values, in segment order.
    assert table["schedule_ref"].combine_chunks().dictionary.to_pylist() == ["S-A", "S-B", "S-D"]
    # In a schedule: readings 1-5; with full context: not S-D's (no recipe, no crew).
    assert (result.readings, result.readings_in_schedule, result.readings_in_schedule_with_context) == (
        10,
        5,
        4,
    )


def test_no_readings_give_an_empty_table_with_every_context_column(cutting: str) -> None:
    result = enrich_telemetry(TELEMETRY_SCHEMA.empty_table(), literal_context())
    assert result.table.num_rows == 0
    assert {field: result.table.schema.field(field).type for field in CONTEXT_FIELDS} == CONTEXT_TYPES
    assert (result.readings, result.readings_in_schedule, result.context_share) == (0, 0, None)


def test_no_context_at_all_leaves_every_context_column_null(cutting: str) -> None:
    empty = literal_context()
    for frame in (empty.schedules, empty.shifts, empty.operators):
        frame.drop(frame.index, inplace=True)
    result = enrich_telemetry(literal_readings(), empty)
    assert all(result.table[field].null_count == result.table.num_rows for field in CONTEXT_FIELDS)
    assert (result.readings, result.readings_in_schedule) == (10, 0)


# --- brute force: every reading against every segment, one at a time ---------------------------


def random_plant(seed: int) -> tuple[dict, pd.DataFrame]:
    """A small plant whose windows and readings fall on a 15-minute grid (± 1 µs), so they collide."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-03-30", tz="UTC")
    lines = [f"L{i}" for i in range(int(rng.integers(1, 4)))]

    def at() -> pd.Timestamp:
        return start + pd.Timedelta(minutes=15 * int(rng.integers(-8, 110)))

    def window(hours: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        begin = at()
        return begin, begin + pd.Timedelta(minutes=15 * int(rng.integers(1, 4 * hours)))

    schedules = pd.DataFrame(
        [
            {
                "external_id": f"S{i}",
                "line_id": str(rng.choice(lines)),
                "work_order_id": f"WO{int(rng.integers(0, 4))}",
                "product_id": [None, "PA", "PB"][int(rng.integers(0, 3))],
                "recipe_id": [None, "R1", "R2"][int(rng.integers(0, 3))],
                "planned_start": begin,
                "planned_end": end,
                "planned_quantity": int(rng.integers(1, 9)) * 10,
                "status": ["scheduled", "cancelled", "in_progress"][int(rng.integers(0, 3))],
            }
            for i, (begin, end) in enumerate(window(8) for _ in range(int(rng.integers(0, 10))))
        ],
        columns=[
            "external_id", "line_id", "work_order_id", "product_id", "recipe_id",
            "planned_start", "planned_end", "planned_quantity", "status",
        ],
    )  # fmt: skip
    line_shifts = pd.DataFrame(
        [
            {"line_id": str(rng.choice(lines)), "shift_id": f"SH{i % 3}", "shift_number": i % 3 + 1,
             "shift_date": begin.date(), "start": begin, "end": end}
            for i, (begin, end) in enumerate(window(9) for _ in range(int(rng.integers(0, 6))))
        ],
        columns=["line_id", "shift_id", "shift_number", "shift_date", "start", "end"],
    )  # fmt: skip
    operator_shifts = pd.DataFrame(
        [
            {"line_id": str(rng.choice(lines)), "shift_id": "x",
             "operator_id": f"OP{int(rng.integers(0, 4))}", "role": str(rng.choice(["operator", "lead"])),
             "start_time": begin, "end_time": end}
            for begin, end in (window(9) for _ in range(int(rng.integers(0, 6))))
        ],
        columns=["line_id", "shift_id", "operator_id", "role", "start_time", "end_time"],
    )  # fmt: skip
    machines = [f"M{i}" for i in range(len(lines))]
    inputs = {
        "schedules": schedules,
        "work_orders": pd.DataFrame(
            {"id": ["WO0", "WO1", "WO2"], "wo_number": ["N0", "N1", "N2"],
             "product_id": ["PA", "PB", None], "recipe_id": ["R1", "R2", None]}
        ),
        "recipes": pd.DataFrame(
            {"id": ["R1", "R2"], "product_id": ["PA", "PB"], "version": ["1", "2"],
             "ideal_cycle_time_s": [30.0, 20.0], "target_cycle_time_s": [33.0, 22.0]}
        ),
        "line_shifts": line_shifts,
        "operator_shifts": operator_shifts,
        "machines": pd.DataFrame({"id": machines, "line_id": lines}),
        "machine_cycle_times": pd.DataFrame(
            {"machine_id": ["M0"], "product_id": ["PA"], "ideal_cycle_time_seconds": [12.0]}
        ),
        "products": pd.DataFrame({"id": ["PB"], "ideal_cycle_time_seconds": [25.0]}),
    }  # fmt: skip
    count = int(rng.integers(1, 80))
    reading_machines = rng.choice([*machines, "M-UNKNOWN"], count)
    readings = pd.DataFrame(
        {
            "org_id": "demo",
            "site_id": "S",
            "line_id": [
                None if rng.random() < 0.3 or m == "M-UNKNOWN" else lines[machines.index(m)]
                for m in reading_machines
            ],
            "machine_id": reading_machines,
            "signal": rng.choice(["pieces_good", "pieces_rejected", "temperature", "machine_state"], count),
            "ts": [at() + pd.Timedelta(microseconds=int(rng.choice([0, 0, 1, -1]))) for _ in range(count)],
            "value": 1.0,
            "text_value": None,
            "unit": None,
            "quality": 100,
            "source_system": "sim",
            "source_ref": None,
            "ingest_run_id": "r",
        }
    )
    return inputs, readings


def plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return value.item() if isinstance(value, np.generic) else value


def brute_force(context: ProductionContext, readings: pd.DataFrame) -> tuple[dict[str, list], int, int]:
    machine_line = dict(
        zip(context.machine_lines["machine_id"], context.machine_lines["line_id"], strict=True)
    )
    per_machine = {
        (m, p): t
        for m, p, t in context.machine_cycle_times[
            ["machine_id", "product_id", "ideal_cycle_time_s"]
        ].itertuples(index=False)
    }
    per_product = dict(
        zip(
            context.product_cycle_times["product_id"],
            context.product_cycle_times["ideal_cycle_time_s"],
            strict=True,
        )
    )
    columns: dict[str, list] = {field: [] for field in CONTEXT_FIELDS}
    in_schedule = with_context = 0
    for row in readings.itertuples(index=False):
        line = row.line_id if row.line_id is not None else machine_line.get(row.machine_id)
        instant = row.ts - pd.Timedelta(microseconds=1) if row.signal.startswith("pieces_") else row.ts
        found = {}
        for name, segments, fields in (
            ("schedule", context.schedules, enrichment.SCHEDULE_CONTEXT),
            ("shift", context.shifts, enrichment.SHIFT_CONTEXT),
            ("operator", context.operators, enrichment.OPERATOR_CONTEXT),
        ):
            hits = segments[
                (segments["line_id"] == line) & (segments["start"] <= instant) & (instant < segments["end"])
            ]
            assert len(hits) <= 1, "segments of one line never overlap"
            found[name] = hits.iloc[0] if len(hits) else None
            for field in fields:
                columns[field].append(None if found[name] is None else plain(found[name][field]))
        if found["schedule"] is not None:
            in_schedule += 1
            product = found["schedule"]["product_id"]
            chosen = per_machine.get((row.machine_id, product), per_product.get(product))
            if chosen is not None:
                columns["ideal_cycle_time_s"][-1] = float(chosen)
            complete = found["shift"] is not None and found["operator"] is not None
            with_context += int(complete and plain(found["schedule"]["ideal_cycle_time_s"]) is not None)
    return columns, in_schedule, with_context


@pytest.mark.parametrize("seed", range(16))
def test_every_reading_gets_what_a_one_by_one_search_finds(cutting: str, seed: int) -> None:
    inputs, readings = random_plant(seed)
    context = build_context(**inputs)
    result = enrich_telemetry(readings, context)
    expected, in_schedule, with_context = brute_force(context, readings)
    assert {
        field: [plain(v) for v in result.table[field].to_pylist()] for field in CONTEXT_FIELDS
    } == expected
    assert (result.readings_in_schedule, result.readings_in_schedule_with_context) == (
        in_schedule,
        with_context,
    )
    result.table.validate(full=True)
