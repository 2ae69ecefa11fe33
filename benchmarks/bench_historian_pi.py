"""Historian ingest: PI Web API simulator -> connector -> Arrow, against reading the same points from Parquet.

The simulator serves a deterministic synthetic source (100 tags x 100,000 points, or 20 x 10,000
quick) in the same process, so the figure includes building the JSON as well as parsing it.
The connector fetches streamsets of 5 tags, 4 requests in flight, 20,000 values per stream per
page; pages are counted and dropped as they arrive (bounded memory). The baseline reads the same
points from a local Parquet file in the same raw point schema.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from benchmarks.common import median_seconds, peak_rss_mb
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import RAW_POINT_SCHEMA, HistorianCredentials, points_table
from oee_pipelines.connectors.http import RetryPolicy
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
CREDENTIALS = HistorianCredentials(username="historian-user", password="historian-password")


def run(quick: bool) -> list[dict]:
    tag_count, points_per_tag = (20, 10_000) if quick else (100, 100_000)
    source = SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN)
    end = ORIGIN + timedelta(seconds=points_per_tag)
    simulator = PiWebApiSimulator(source)
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder, ServerThread(simulator.app) as server:
        parquet_path = Path(folder) / "points.parquet"
        client = PiWebApiClient(
            server.base_url + "/piwebapi",
            "PISRV01",
            CREDENTIALS,
            max_count=20_000,
            tags_per_request=5,
            concurrency=4,
            policy=RetryPolicy(timeout_seconds=120),
        )
        with client:
            started = time.perf_counter()
            points = sum(page.num_rows for page in client.read_recorded(source.tags(), ORIGIN, end))
            seconds = time.perf_counter() - started
        _write_parquet(source, end, parquet_path)
        baseline_seconds = median_seconds(lambda: pq.read_table(parquet_path), repeats=3)
    if points != tag_count * points_per_tag:
        raise RuntimeError(f"expected {tag_count * points_per_tag} points, got {points}")
    value, baseline = points / seconds, points / baseline_seconds
    return [
        {
            "name": "historian: PI Web API -> Arrow",
            "value": value,
            "unit": "points/s",
            "baseline_name": "read same points from local Parquet",
            "baseline_value": baseline,
            "ratio": value / baseline,
            "seconds": seconds,
            "points": points,
            "peak_rss_mb": peak_rss_mb(),
        }
    ]


def _write_parquet(source: SyntheticPointSource, end: datetime, path: Path) -> None:
    """The same points as the server serves, written tag by tag (the baseline's input)."""
    with pq.ParquetWriter(path, RAW_POINT_SCHEMA) as writer:
        for tag in source.tags():
            arrays = source.points(tag, ORIGIN, end)
            codes = np.zeros(len(arrays), np.int32)
            writer.write_table(
                points_table([tag], codes, arrays.ts_us, arrays.value, arrays.text_value, arrays.quality)
            )
