"""Historian ingest: PI Web API simulator -> connector -> tag mapping -> lake (Parquet), as `historian_points`
writes it, against reading the same points from a local Parquet file.

The simulator serves a deterministic synthetic source (100 tags x 100,000 points at 1 s, or 20 x 10,000
quick) in the same process, so the figure includes building the JSON as well as parsing it. Each UTC day
is fetched (streamsets of 5 tags, 4 requests in flight, 10,000 values per stream per page), mapped page
by page with `TagMapper`, collected as `historian_points` collects it (`DayParts`), and written with
`Lake.replace_folder`. Each variant runs in its own process so its peak RSS is its own:

- `compact` (what the asset does): pages held with their repeating text columns dictionary encoded,
  each Parquet part expanded to the telemetry schema only while it is written;
- `plain` (before): the mapped pages held as they come, concatenated and written as one table.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import median_seconds, peak_rss_mb
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import RAW_POINT_SCHEMA, HistorianCredentials, points_table
from oee_pipelines.connectors.http import RetryPolicy
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.tag_mapping import TagMapper
from oee_pipelines.services.historian.day_parts import DayParts, LazyParts, telemetry_folder
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.storage.lake import Lake

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
CREDENTIALS = HistorianCredentials(username="historian-user", password="historian-password")


def run(quick: bool) -> list[dict]:
    tag_count, points_per_tag = (20, 10_000) if quick else (100, 100_000)
    context = multiprocessing.get_context("spawn")
    figures = {}
    for variant in ("plain", "compact"):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as worker:
            figures[variant] = worker.submit(ingest_to_lake, tag_count, points_per_tag, variant).result()
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as worker:
        baseline_seconds = worker.submit(parquet_read_seconds, tag_count, points_per_tag).result()
    expected = tag_count * points_per_tag
    compact, plain = figures["compact"], figures["plain"]
    for variant, figure in figures.items():
        if figure["points"] != expected or figure["rows_in_lake"] != expected:
            raise RuntimeError(f"{variant}: expected {expected} points in the lake, got {figure}")
    value, baseline = expected / compact["seconds"], expected / baseline_seconds
    return [
        {
            "name": "historian: PI Web API -> tag mapping -> lake",
            "value": value,
            "unit": "points/s",
            "baseline_name": "read same points from local Parquet",
            "baseline_value": baseline,
            "ratio": value / baseline,
            "seconds": compact["seconds"],
            "points": expected,
            "peak_rss_mb": compact["peak_rss_mb"],
            "before_seconds": plain["seconds"],
            "before_peak_rss_mb": plain["peak_rss_mb"],
        }
    ]


def ingest_to_lake(tag_count: int, points_per_tag: int, variant: str) -> dict:
    """Fetch, map and write every day of the synthetic source: seconds, points, peak RSS of this process."""
    source = SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN)
    end = ORIGIN + timedelta(seconds=points_per_tag)
    mappings = synthetic_mappings(source.tags())
    simulator = PiWebApiSimulator(source)
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder, ServerThread(simulator.app) as server:
        lake = Lake(folder)
        client = PiWebApiClient(
            server.base_url + "/piwebapi",
            "PISRV01",
            CREDENTIALS,
            max_count=10_000,
            tags_per_request=5,
            concurrency=4,
            policy=RetryPolicy(timeout_seconds=120),
        )
        points = 0
        started = time.perf_counter()
        with client:
            day = ORIGIN.date()
            while day_bounds(day)[0] < end:
                points += _write_day(client, source.tags(), mappings, lake, day, variant)
                day += timedelta(days=1)
        seconds = time.perf_counter() - started
        rows_in_lake = sum(pq.ParquetFile(path).metadata.num_rows for path in Path(folder).rglob("*.parquet"))
    return {"seconds": seconds, "points": points, "rows_in_lake": rows_in_lake, "peak_rss_mb": peak_rss_mb()}


def _write_day(
    client: PiWebApiClient, tags: list[str], mappings: pd.DataFrame, lake: Lake, day: date, variant: str
) -> int:
    start, stop = day_bounds(day)
    mapper = TagMapper(mappings, "pi", ingest_run_id="bench", emit_from=start)
    parts, plain_pages, points = DayParts(), [], 0
    for page in client.read_recorded(tags, start, stop):
        points += page.num_rows
        telemetry = mapper.map(page).telemetry
        if variant == "compact":
            parts.add(telemetry)
        else:
            plain_pages.append(telemetry)
    if variant == "compact":
        lake.replace_folder(telemetry_folder("pi", day), LazyParts(parts.table()))
    else:
        lake.replace_folder(
            telemetry_folder("pi", day), {"part-00000.parquet": pa.concat_tables(plain_pages)}
        )
    return points


def synthetic_mappings(tags: list[str]) -> pd.DataFrame:
    """Each synthetic tag a temperature of one of 10 machines, scaled from tenths of a degree."""
    count = len(tags)
    return pd.DataFrame(
        {
            "historian_system": "pi",
            "historian_tag": tags,
            "org_id": "demo",
            "site_id": "SITE-01",
            "line_id": "LINE-001",
            "machine_id": [f"MACHINE-{index % 10 + 1:03d}" for index in range(count)],
            "signal_type": "temperature",
            "unit": "C",
            "scale_factor": np.full(count, 0.1),
            "offset_value": np.zeros(count),
            "counter_mode": "none",
            "counter_rollover": np.full(count, np.nan),
        }
    )


def parquet_read_seconds(tag_count: int, points_per_tag: int) -> float:
    """The baseline: reading the same points, in the raw point schema, from one local Parquet file."""
    source = SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN)
    end = ORIGIN + timedelta(seconds=points_per_tag)
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder:
        path = Path(folder) / "points.parquet"
        with pq.ParquetWriter(path, RAW_POINT_SCHEMA) as writer:
            for tag in source.tags():
                arrays = source.points(tag, ORIGIN, end)
                codes = np.zeros(len(arrays), np.int32)
                writer.write_table(
                    points_table([tag], codes, arrays.ts_us, arrays.value, arrays.text_value, arrays.quality)
                )
        return median_seconds(lambda: pq.read_table(path), repeats=3)
