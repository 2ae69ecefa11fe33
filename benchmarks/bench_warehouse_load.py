"""Bulk load into the warehouse: the project's loader (Arrow -> binary COPY) vs raw COPY.

The baseline is the physical limit: the same rows, already encoded, streamed to COPY ... FORMAT
BINARY. The loader's figure includes encoding the Arrow columns.
"""

from __future__ import annotations

import numpy as np
import psycopg
import pyarrow as pa

from benchmarks.common import median_seconds, peak_rss_mb, scratch_warehouse
from oee_pipelines.storage.binary_copy import copy_column_order, iter_copy_chunks
from oee_pipelines.storage.bulk_load import copy_arrow

TABLE_DDL = """CREATE TABLE IF NOT EXISTS bench_telemetry (
    ts timestamptz NOT NULL, machine_id text NOT NULL, signal text NOT NULL,
    value double precision, quality smallint)"""
PG_TYPES = ["timestamp with time zone", "text", "text", "double precision", "smallint"]


def telemetry_rows(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "us").astype(np.int64)
    machines = np.array([f"MACHINE-{i:03d}" for i in range(500)])
    signals = np.array(["temperature", "pressure", "vibration", "speed"])
    return pa.table(
        {
            "ts": pa.array(start + np.arange(n, dtype=np.int64) * 1_000, pa.timestamp("us", tz="UTC")),
            "machine_id": pa.array(machines[rng.integers(0, len(machines), n)]),
            "signal": pa.array(signals[rng.integers(0, len(signals), n)]),
            "value": rng.normal(50, 5, n),
            "quality": pa.array(np.full(n, 100, dtype=np.int16)),
        }
    )


def run(quick: bool) -> list[dict]:
    rows = 200_000 if quick else 10_000_000
    repeats = 1 if quick else 3
    data = telemetry_rows(rows)
    order = copy_column_order(PG_TYPES)
    ordered = data.select(order)
    encoded = b"".join(iter_copy_chunks(ordered, [PG_TYPES[i] for i in order]))
    columns = ", ".join(ordered.column_names)
    with scratch_warehouse() as url, psycopg.connect(url) as conn:
        conn.execute(TABLE_DDL)
        conn.commit()

        def truncate() -> None:
            conn.execute("TRUNCATE bench_telemetry")
            conn.commit()

        def raw_copy() -> None:
            view = memoryview(encoded)
            with conn.cursor().copy(f"COPY bench_telemetry ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset : offset + (1 << 20)])
            conn.commit()

        def loader() -> None:
            copy_arrow(conn, "bench_telemetry", data)
            conn.commit()

        raw_seconds = median_seconds(raw_copy, repeats, before=truncate)
        loader_seconds = median_seconds(loader, repeats, before=truncate)
        loaded = conn.execute("SELECT count(*) FROM bench_telemetry").fetchone()[0]
    if loaded != rows:
        raise AssertionError(f"loader wrote {loaded} rows, expected {rows}")
    raw_rate, loader_rate = rows / raw_seconds, rows / loader_seconds
    return [
        {
            "name": f"warehouse load {rows:,} rows (Arrow -> binary COPY)",
            "value": loader_rate,
            "unit": "rows/s",
            "seconds": loader_seconds,
            "baseline_name": "raw COPY FORMAT BINARY, pre-encoded",
            "baseline_value": raw_rate,
            "ratio": loader_rate / raw_rate,
            "target": ">= 0.70",
            "peak_rss_mb": peak_rss_mb(),
        }
    ]
