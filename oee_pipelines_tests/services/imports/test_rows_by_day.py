"""A telemetry import's rows are split into its UTC days with one sort, not one filter per day: each
day's rows, and the Parquet file written from them, are what filtering by that day gave."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.imports.landings import _rows_by_day
from oee_pipelines.storage.lake import PARQUET_OPTIONS


def _readings(micros: np.ndarray, chunks: int) -> pa.Table:
    size = len(micros)
    table = pa.table(
        {
            "org_id": pa.array(["acme"] * size),
            "site_id": pa.nulls(size, pa.string()),
            "line_id": pa.nulls(size, pa.string()),
            "machine_id": pa.array([f"M-{index % 3}" for index in range(size)]),
            "signal": pa.array(["temperature"] * size),
            "ts": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "value": pa.array(np.arange(size, dtype=np.float64)),
            "text_value": pa.nulls(size, pa.string()),
            "unit": pa.array(["degC"] * size),
            "quality": pa.array(np.full(size, 100, dtype=np.int16)),
            "source_system": pa.array(["import"] * size),
            "source_ref": pa.array(["f.csv"] * size),
            "ingest_run_id": pa.array(["import-1"] * size),
        },
        schema=TELEMETRY_SCHEMA,
    )
    # Landed slices are concatenated: the rows come in several chunks.
    return pa.concat_tables(
        [table.slice(int(part[0]), len(part)) for part in np.array_split(np.arange(size), chunks)]
    )


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue()


@pytest.mark.parametrize("in_order", [True, False])
def test_each_day_holds_what_filtering_by_that_day_gave(in_order: bool) -> None:
    rng = np.random.default_rng(4)
    start = np.datetime64("1969-12-30T00:00:00", "us").astype(np.int64)
    offsets = rng.integers(0, 5 * 86_400_000_000, 2_000)
    micros = start + (np.sort(offsets) if in_order else offsets)
    rows = _readings(micros, chunks=4)
    days = pc.cast(rows.column("ts"), pa.date32())

    by_day = _rows_by_day(rows)

    assert list(by_day) == sorted(by_day)
    assert list(by_day) == sorted(set(days.to_pylist()))
    assert date(1969, 12, 31) in by_day  # before 1970 too
    for day, day_rows in by_day.items():
        filtered = rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        assert day_rows.equals(filtered)
        assert _parquet(day_rows) == _parquet(filtered)
    assert sum(day_rows.num_rows for day_rows in by_day.values()) == rows.num_rows


def test_no_rows_no_days() -> None:
    assert _rows_by_day(TELEMETRY_SCHEMA.empty_table()) == {}
