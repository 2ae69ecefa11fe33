"""`TagMapper.map_compact` on a page whose every point is kept hands the page's own columns on (no copy):
the same telemetry, in one chunk per column, as when the rows are taken one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.historian.points import points_table
from oee_pipelines.domain.tag_mapping import COMPACT_TELEMETRY_SCHEMA, TagMapper

T0_US = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * 1_000_000


def mappings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "historian_system": "pi",
            "historian_tag": ["T1", "S1"],
            "org_id": "demo",
            "line_id": "LINE-001",
            "machine_id": ["MACHINE-001", "MACHINE-002"],
            "signal_type": ["temperature", "machine_state"],
            "unit": ["C", None],
            "scale_factor": [0.5, 1.0],
            "offset_value": [1.0, 0.0],
            "counter_mode": "none",
            "counter_rollover": np.nan,
        }
    )


def page(count: int) -> pa.Table:
    codes = (np.arange(count) % 2).astype(np.int32)
    texts = [
        None if code == 0 else ("RUNNING" if index % 3 else "I/O Timeout") for index, code in enumerate(codes)
    ]
    quality = np.where(np.arange(count) % 5 == 0, 0, 100).astype(np.int16)
    values = np.where(np.arange(count) % 3 == 0, np.nan, np.arange(count, dtype=np.float64))
    ts_us = T0_US + np.arange(count, dtype=np.int64) * 1_000_000
    return points_table(["T1", "S1"], codes, ts_us, values, texts, quality)


def test_a_page_kept_whole_maps_to_the_rows_a_taken_page_gives() -> None:
    points = page(40)
    whole = TagMapper(mappings(), "pi", ingest_run_id="run-1").map_compact(points).telemetry
    # The same points in two chunks: the mapper takes the rows one by one (`pc.take`).
    chunked = pa.concat_tables([points.slice(0, 15), points.slice(15)])
    taken = TagMapper(mappings(), "pi", ingest_run_id="run-1").map_compact(chunked).telemetry
    assert whole.num_rows == 40
    assert whole.schema.equals(COMPACT_TELEMETRY_SCHEMA)
    assert whole.equals(taken)
    assert [column.num_chunks for column in whole.columns] == [1] * len(COMPACT_TELEMETRY_SCHEMA)
    assert whole["quality"].to_pylist() == points["quality"].to_pylist()
    assert whole["text_value"].to_pylist()[:4] == [None, "RUNNING", None, "I/O Timeout"]


def test_a_page_with_points_dropped_takes_only_the_kept_rows() -> None:
    points = page(40)
    emit_from = datetime.fromtimestamp((T0_US + 10_000_000) / 1_000_000, UTC)
    mapper = TagMapper(mappings(), "pi", ingest_run_id="run-1", emit_from=emit_from)
    telemetry = mapper.map_compact(points).telemetry
    assert telemetry.num_rows == 30
    assert telemetry["quality"].to_pylist() == points["quality"].to_pylist()[10:]
    assert telemetry["source_ref"].to_pylist() == points["tag"].to_pylist()[10:]
