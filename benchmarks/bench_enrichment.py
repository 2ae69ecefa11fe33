"""Enrichment of telemetry with production context: read a Parquet day and enrich it, vs a plain DuckDB read.

Synthetic plant: 500 machines on 50 lines, one day, three 8-hour shifts, eight schedules per
line (with gaps between them), two operators per line and shift. The day is one file in the lake's
layout (`telemetry/source=simulator/date=D/`). The first figure is what the `enriched_telemetry` asset
does with it: `raw_telemetry_day` (the production reader: DuckDB, conformed to TELEMETRY_SCHEMA), then
the enrichment; the baseline reads the same file into Arrow with DuckDB (issue 19's floor: at most
2x). The second row is the enrichment alone, on the table already in memory; the third is a plain
pyarrow read (the reader before issue 19's second round was a pyarrow dataset scan); the fourth reads
the file with a bare DuckDB query, then enriches; the fifth is `raw_telemetry_day` alone (the first
row's read); the sixth is the previous production path (pyarrow dataset scan, then the enrichment).
All are run in turns, five rounds, so each ratio is taken under the same load as its baseline.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from benchmarks.common import peak_rss_mb
from oee_pipelines.domain.enrichment import EnrichmentResult, build_context, enrich_telemetry
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.oee.inputs import raw_telemetry_day
from oee_pipelines.storage.lake import Lake

LINES, MACHINES_PER_LINE = 50, 10
DAY = pd.Timestamp("2025-01-06", tz="UTC")
SIGNALS = ["machine_state", "pieces_good", "pieces_rejected", "temperature", "pressure", "vibration", "speed"]


def synthetic_readings(rows: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    machine_index = rng.integers(0, LINES * MACHINES_PER_LINE, rows)
    day_start_us = DAY.value // 1_000
    ts = np.sort(day_start_us + rng.integers(0, 86_400 * 1_000_000, rows))
    machines = pa.array([f"MACHINE-{i:04d}" for i in range(LINES * MACHINES_PER_LINE)])
    lines = pa.array([f"LINE-{i // MACHINES_PER_LINE:03d}" for i in range(LINES * MACHINES_PER_LINE)])

    def column(values: pa.Array, index: np.ndarray) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), values).cast(pa.string())

    constant = pa.array(np.zeros(rows, dtype=np.int32))
    return pa.table(
        {
            "org_id": column(pa.array(["demo"]), constant.to_numpy()),
            "site_id": column(pa.array(["SITE-01"]), constant.to_numpy()),
            "line_id": column(lines, machine_index),
            "machine_id": column(machines, machine_index),
            "signal": column(pa.array(SIGNALS), rng.integers(0, len(SIGNALS), rows)),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "value": rng.normal(50, 5, rows),
            "text_value": pa.nulls(rows, pa.string()),
            "unit": pa.nulls(rows, pa.string()),
            "quality": pa.array(np.full(rows, 100, dtype=np.int16)),
            "source_system": column(pa.array(["simulator"]), constant.to_numpy()),
            "source_ref": pa.nulls(rows, pa.string()),
            "ingest_run_id": pa.nulls(rows, pa.string()),
        },
        schema=TELEMETRY_SCHEMA,
    )


def synthetic_context():
    line_ids = [f"LINE-{i:03d}" for i in range(LINES)]
    starts = [DAY + pd.Timedelta(hours=3 * k) for k in range(8)]
    schedules = pd.DataFrame(
        [
            {
                "external_id": f"S-{line}-{k}",
                "line_id": line,
                "work_order_id": f"WO-{line}-{k}",
                "product_id": None,
                "recipe_id": None,
                "planned_start": start,
                "planned_end": start + pd.Timedelta(hours=2, minutes=50),
                "planned_quantity": 1000,
                "status": "scheduled",
            }
            for line in line_ids
            for k, start in enumerate(starts)
        ]
    )
    work_orders = pd.DataFrame(
        {
            "id": schedules["work_order_id"],
            "wo_number": schedules["work_order_id"],
            "product_id": "PROD-001",
            "recipe_id": "RCP-001",
        }
    )
    recipes = pd.DataFrame(
        {
            "id": ["RCP-001"],
            "product_id": ["PROD-001"],
            "version": ["1"],
            "ideal_cycle_time_s": [30.0],
            "target_cycle_time_s": [33.0],
        }
    )
    shift_starts = [DAY + pd.Timedelta(hours=8 * k) for k in range(3)]
    line_shifts = pd.DataFrame(
        [
            {
                "line_id": line,
                "shift_id": f"SHIFT-{k + 1}",
                "shift_number": k + 1,
                "shift_date": DAY.date(),
                "start": start,
                "end": start + pd.Timedelta(hours=8),
            }
            for line in line_ids
            for k, start in enumerate(shift_starts)
        ]
    )
    operators = pd.DataFrame(
        [
            {
                "line_id": r.line_id,
                "shift_id": r.shift_id,
                "operator_id": f"OP-{r.line_id}-{r.shift_id}-{n}",
                "role": "operator",
                "start_time": r.start,
                "end_time": r.end,
            }
            for r in line_shifts.itertuples()
            for n in range(2)
        ]
    )
    machines = pd.DataFrame(
        {
            "id": [f"MACHINE-{i:04d}" for i in range(LINES * MACHINES_PER_LINE)],
            "line_id": [f"LINE-{i // MACHINES_PER_LINE:03d}" for i in range(LINES * MACHINES_PER_LINE)],
        }
    )
    return build_context(
        schedules=schedules,
        work_orders=work_orders,
        recipes=recipes,
        line_shifts=line_shifts,
        operator_shifts=operators,
        machines=machines,
    )


def interleaved_medians(actions: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each action, run in turns (one of each per round), nothing kept between.

    Turns, not one action's repeats then the next's: on a shared machine the load drifts over the
    run, and each figure's ratio to the baseline should be taken under the same load.
    """
    timings: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.perf_counter()
            result = action()
            timings[name].append(time.perf_counter() - started)
            del result  # no real run holds two days at once
    return {name: statistics.median(values) for name, values in timings.items()}


def run(quick: bool) -> list[dict]:
    rows = 200_000 if quick else 10_000_000
    rounds = 1 if quick else 5
    context = synthetic_context()
    day = DAY.date()
    with tempfile.TemporaryDirectory(prefix="oee-bench-enrich-") as folder:
        lake = Lake(folder)
        day_folder = Path(lake.path("telemetry", "source=simulator", Lake.date_folder(day)))
        day_folder.mkdir(parents=True)
        path = day_folder / "telemetry.parquet"
        pq.write_table(synthetic_readings(rows), path)
        in_memory = pq.read_table(path)
        if not raw_telemetry_day(lake, day).equals(in_memory):
            raise AssertionError("raw_telemetry_day read other readings than pyarrow")

        def duckdb_read() -> pa.Table:
            with duckdb.connect() as conn:
                return conn.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()

        def pyarrow_scan() -> pa.Table:
            return pads.dataset([str(path)], schema=TELEMETRY_SCHEMA, format="parquet").to_table()

        results: dict[str, EnrichmentResult] = {}

        def enriched(name: str, read: Callable[[], pa.Table]) -> Callable[[], None]:
            def action() -> None:
                # Only the counts are kept: the table goes before the next action runs.
                results[name] = dataclasses.replace(enrich_telemetry(read(), context), table=pa.table({}))

            return action

        seconds = interleaved_medians(
            {
                "baseline": duckdb_read,
                # What the `enriched_telemetry` asset does: the production reader, then the enrichment.
                "production": enriched("production", lambda: raw_telemetry_day(lake, day)),
                "in_memory": lambda: enrich_telemetry(in_memory, context),
                "pyarrow_read": lambda: pq.read_table(path),
                "duckdb_enrich": enriched("duckdb_enrich", duckdb_read),
                "reader": lambda: raw_telemetry_day(lake, day),
                "scan_enrich": enriched("scan_enrich", pyarrow_scan),
            },
            rounds,
        )
        baseline_rows = duckdb_read().num_rows
    result = results["production"]
    same = all(other.readings_in_schedule == result.readings_in_schedule for other in results.values())
    if result.readings != rows or baseline_rows != rows or not same:
        raise AssertionError("enrichment or baseline lost rows")
    # About 2 h 50 min of every 3 h is scheduled: the share must be complete for those readings.
    if result.context_share != 1.0:
        raise AssertionError(f"context share {result.context_share}, expected 1.0")
    baseline = seconds["baseline"]
    baseline_name = "DuckDB read of the same Parquet file to Arrow"

    def row(name: str, key: str) -> dict:
        value = seconds[key]
        return {
            "name": name,
            "value": value,
            "unit": "s",
            "seconds": value,
            "baseline_name": baseline_name,
            "baseline_value": baseline,
            "ratio": value / baseline,
        }

    return [
        {
            **row(f"enrich {rows:,} readings (Parquet read + context as-of lookups)", "production"),
            "peak_rss_mb": peak_rss_mb(),
        },
        row(f"enrich {rows:,} readings in memory (context as-of lookups only)", "in_memory"),
        row(f"pyarrow read of {rows:,} readings (a plain read of the file, for comparison)", "pyarrow_read"),
        row(f"enrich {rows:,} readings (DuckDB Parquet read + context as-of lookups)", "duckdb_enrich"),
        row(f"raw_telemetry_day read of {rows:,} readings (the first row's read alone)", "reader"),
        row(f"enrich {rows:,} readings (pyarrow dataset scan + context as-of lookups)", "scan_enrich"),
    ]
