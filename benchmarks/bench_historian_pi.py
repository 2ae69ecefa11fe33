"""Historian ingest, PI Web API -> tag mapping -> lake (Parquet), decomposed stage by stage.

A deterministic synthetic PI server (100 tags x 100,000 points at 1 s, 10M points; 20 x 10,000 with
`--quick`) runs in its own process, as a real PI server runs on its own machine. The client reads it
as `historian_points` does: per UTC day, streamsets of 5 tags, 4 requests in flight, 10,000 values per
stream per page, each page mapped with `TagMapper.map_compact` and streamed into the day's folder
(`StreamedDay` through `Lake.replace_folder`). Rows, each against reading the same points from a local
Parquet file (measured in the same run):

- end to end: every point of the server through the client into the lake (points/s and seconds), and
  the peak RSS of that client process (the bound, whatever the range: the pages in flight and one
  Parquet row group, as each part streams into its file; responses are decoded one at a time);
- the stages, on the pages of 20 tags x 100,000 points fetched once and then replayed from memory:
  server JSON generation alone (the simulator's streamset route building each recorded response
  again, checked to be byte-identical), transport (fetching every page, no parse), client parse
  (paging and JSON -> Arrow), tag mapping, lake write, and the client side in one (parse + map +
  write, as the asset runs it), also as points per CPU second of the process (all threads), a
  figure that a busy machine disturbs far less than the wall clock.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from starlette.datastructures import QueryParams

from benchmarks.common import median_seconds, peak_rss_mb
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import (
    RAW_POINT_SCHEMA,
    HistorianCredentials,
    points_table,
    read_ahead,
)
from oee_pipelines.connectors.http import RetryPolicy
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.tag_mapping import TagMapper
from oee_pipelines.services.historian.backfill import READ_AHEAD_PAGES
from oee_pipelines.services.historian.day_parts import StreamedDay, telemetry_folder
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.storage.lake import Lake

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
CREDENTIALS = HistorianCredentials(username="historian-user", password="historian-password")
MAX_COUNT, TAGS_PER_REQUEST, CONCURRENCY = 10_000, 5, 4
BASELINE = "read same points from local Parquet"
Request = tuple[str, tuple[tuple[str, str], ...]]


def run(quick: bool) -> list[dict]:
    tag_count, points_per_tag = (20, 10_000) if quick else (100, 100_000)
    stage_tags, stage_points = (20, 10_000) if quick else (20, 100_000)
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(tag_count, points_per_tag, urls, stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=60)
        end_to_end = in_own_process(ingest_to_lake, url, tag_count, points_per_tag)
        stages = in_own_process(client_stages, url, stage_tags, stage_points)
    finally:
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()
    baseline = in_own_process(parquet_read, tag_count, points_per_tag)
    stage_baseline = in_own_process(parquet_read, stage_tags, stage_points)
    points, stage_count = tag_count * points_per_tag, stage_tags * stage_points
    if end_to_end["points"] != points or end_to_end["rows_in_lake"] != points:
        raise RuntimeError(f"expected {points} points in the lake, got {end_to_end}")
    if stages["points"] != stage_count or stages["rows_in_lake"] != stage_count:
        raise RuntimeError(f"expected {stage_count} points in the lake, got {stages}")
    rate = points / end_to_end["seconds"]
    baseline_rate = points / baseline["seconds"]
    rows = [
        {
            "name": "historian: PI Web API -> tag mapping -> lake",
            "value": rate,
            "unit": "points/s",
            "baseline_name": BASELINE,
            "baseline_value": baseline_rate,
            "ratio": rate / baseline_rate,
            "seconds": end_to_end["seconds"],
            "points": points,
            "peak_rss_mb": end_to_end["peak_rss_mb"],
            "arrow_memory_pool": end_to_end["memory_pool"],
        },
        {
            "name": f"historian: end to end, {points:,} points (target < 20 s)",
            "value": end_to_end["seconds"],
            "unit": "s",
            "baseline_name": BASELINE,
            "baseline_value": baseline["seconds"],
            "ratio": end_to_end["seconds"] / baseline["seconds"],
            "seconds": end_to_end["seconds"],
            "points": points,
        },
        {
            "name": "historian: end to end, peak RSS of the client (target < 600 MB)",
            "value": end_to_end["peak_rss_mb"],
            "unit": "MB",
            "baseline_name": "peak RSS of " + BASELINE,
            "baseline_value": baseline["peak_rss_mb"],
            "ratio": end_to_end["peak_rss_mb"] / baseline["peak_rss_mb"],
            "seconds": end_to_end["seconds"],
            "points": points,
        },
    ]
    stage_rate = stage_count / stage_baseline["seconds"]
    for key, name in [
        ("server_seconds", "server: JSON generation alone"),
        ("transport_seconds", "transport: fetch every page, no parse"),
        ("parse_seconds", "client parse: paging, JSON -> Arrow (replayed pages)"),
        ("map_seconds", "tag mapping (map_compact)"),
        ("write_seconds", "lake write (StreamedDay -> Parquet parts)"),
        ("client_seconds", "client side: parse + map + write, replayed pages (target >= 2M points/s)"),
        (
            "client_cpu_seconds",
            "client side, per CPU second of the process (parse + map + write, replayed pages)",
        ),
    ]:
        value = stage_count / stages[key]
        rows.append(
            {
                "name": f"historian stage: {name}",
                "value": value,
                "unit": "points/s",
                "baseline_name": BASELINE,
                "baseline_value": stage_rate,
                "ratio": value / stage_rate,
                "seconds": stages[key],
                "points": stage_count,
            }
        )
    return rows


def in_own_process(function: Callable[..., dict], *args: object) -> dict:
    """Run `function` in a fresh process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as worker:
        return worker.submit(function, *args).result()


def serve(tag_count: int, points_per_tag: int, urls: Any, stop: Event) -> None:
    """The synthetic PI server, until `stop` is set; its URL goes to `urls`."""
    simulator = PiWebApiSimulator(SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN))
    with ServerThread(simulator.app) as server:
        urls.put(server.base_url)
        stop.wait()


def new_client(url: str, concurrency: int = CONCURRENCY) -> PiWebApiClient:
    return PiWebApiClient(
        url + "/piwebapi",
        "PISRV01",
        CREDENTIALS,
        max_count=MAX_COUNT,
        tags_per_request=TAGS_PER_REQUEST,
        concurrency=concurrency,
        policy=RetryPolicy(timeout_seconds=120),
    )


def days_of(points_per_tag: int) -> list[date]:
    end = ORIGIN + timedelta(seconds=points_per_tag)
    days, day = [], ORIGIN.date()
    while day_bounds(day)[0] < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def ingest_to_lake(url: str, tag_count: int, points_per_tag: int) -> dict:
    """Every day of the server into a lake: seconds, points, rows in the lake, peak RSS of this process."""
    tags = SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN).tags()
    mappings = synthetic_mappings(tags)
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder, new_client(url) as client:
        lake = Lake(folder)
        started = time.perf_counter()
        points = sum(
            write_day(lake, day, mappings, client.read_recorded(tags, *day_bounds(day)))
            for day in days_of(points_per_tag)
        )
        seconds = time.perf_counter() - started
        rows_in_lake = rows_in(folder)
    return {
        "seconds": seconds,
        "points": points,
        "rows_in_lake": rows_in_lake,
        "peak_rss_mb": peak_rss_mb(),
        "memory_pool": pa.default_memory_pool().backend_name,
    }


def write_day(lake: Lake, day: date, mappings: pd.DataFrame, pages: Iterator[pa.Table]) -> int:
    """Map and stream one day's pages into its folder, as `HistorianBackfill` does; the points read."""
    mapper = TagMapper(mappings, "pi", ingest_run_id="bench", emit_from=day_bounds(day)[0])
    fetched = 0

    def mapped() -> Iterator[pa.Table]:
        nonlocal fetched
        for page in read_ahead(pages, READ_AHEAD_PAGES):
            fetched += page.num_rows
            yield mapper.map_compact(page).telemetry

    lake.replace_folder(telemetry_folder("pi", day), StreamedDay(mapped()))
    return fetched


class RecordingHttp:
    """Wraps a client's HTTP client: remembers each request and its body, for replaying them."""

    def __init__(self, http: Any) -> None:
        self.http = http
        self.bodies: dict[Request, bytes] = {}

    def get(self, path: str, params: Any = None, call: str = "") -> Any:
        response = self.http.get(path, params=params, call=call)
        self.bodies[request_key(path, params)] = response.content
        return response

    def close(self) -> None:
        self.http.close()


class ReplayHttp:
    """Answers a client's requests with the recorded bodies: no server, no network."""

    def __init__(self, bodies: dict[Request, bytes]) -> None:
        self.bodies = bodies

    def get(self, path: str, params: Any = None, call: str = "") -> Any:
        return SimpleNamespace(content=self.bodies[request_key(path, params)])

    def close(self) -> None:
        pass


def request_key(path: str, params: Any) -> Request:
    items = params.items() if isinstance(params, dict) else params or []
    return path, tuple((str(name), str(value)) for name, value in items)


def client_stages(url: str, tag_count: int, points_per_tag: int) -> dict:
    """Fetch every page once, then time each stage on the recorded pages (see the module docstring)."""
    source = SyntheticPointSource(tag_count, points_per_tag, origin=ORIGIN)
    tags, days = source.tags(), days_of(points_per_tag)
    mappings = synthetic_mappings(tags)
    with new_client(url) as client:
        recording = RecordingHttp(client._http)
        client._http = recording  # type: ignore[assignment]
        for day in days:
            for _ in client.read_recorded(tags, *day_bounds(day)):
                pass
    bodies = recording.bodies
    pages = [(path, params) for path, params in bodies if path == "streamsets/recorded"]
    figures = {
        "server_seconds": server_generation_seconds(source, pages, bodies),
        "transport_seconds": transport_seconds(url, pages),
    }

    def replayed(day: date) -> Iterator[pa.Table]:
        client = new_client(url)
        client._http = ReplayHttp(bodies)  # type: ignore[assignment]
        return client.read_recorded(tags, *day_bounds(day))

    started = time.perf_counter()
    parsed = {day: list(replayed(day)) for day in days}
    figures["parse_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    mapped = {}
    for day, day_pages in parsed.items():
        mapper = TagMapper(mappings, "pi", ingest_run_id="bench", emit_from=day_bounds(day)[0])
        mapped[day] = [mapper.map_compact(page).telemetry for page in day_pages]
    figures["map_seconds"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder:
        lake = Lake(folder)
        started = time.perf_counter()
        for day, day_pages in mapped.items():
            lake.replace_folder(telemetry_folder("pi", day), StreamedDay(iter(day_pages)))
        figures["write_seconds"] = time.perf_counter() - started
    del parsed, mapped
    with tempfile.TemporaryDirectory(prefix="oee-bench-pi-") as folder:
        lake = Lake(folder)
        started, cpu_started = time.perf_counter(), time.process_time()
        points = sum(write_day(lake, day, mappings, replayed(day)) for day in days)
        figures["client_seconds"] = time.perf_counter() - started
        # CPU seconds of every thread: what the client side costs, whatever else the machine runs.
        figures["client_cpu_seconds"] = time.process_time() - cpu_started
        figures |= {"points": points, "rows_in_lake": rows_in(folder)}
    return figures


def server_generation_seconds(
    source: SyntheticPointSource, pages: list[Request], bodies: dict[Request, bytes]
) -> float:
    """The simulator building every recorded streamset response again, without HTTP (and the same bytes)."""
    simulator = PiWebApiSimulator(source)

    def body(params: tuple[tuple[str, str], ...]) -> bytes:
        return simulator._streamset_body(SimpleNamespace(query_params=QueryParams(params)))  # type: ignore[arg-type]

    started = time.perf_counter()
    built = [body(params) for _, params in pages]
    seconds = time.perf_counter() - started
    if built != [bodies[page] for page in pages]:
        raise RuntimeError("the simulator answered a recorded request with other bytes")
    return seconds


def transport_seconds(url: str, pages: list[Request]) -> float:
    """Every recorded page fetched again over HTTP with 4 in flight, bodies read but not parsed."""
    auth = CREDENTIALS.httpx_auth()
    with httpx.Client(base_url=url + "/piwebapi/", auth=auth, timeout=120) as http:

        def fetch(page: Request) -> int:
            response = http.get(page[0], params=list(page[1]))
            response.raise_for_status()
            return len(response.content)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            sum(pool.map(fetch, pages))
        return time.perf_counter() - started


def rows_in(folder: str) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in Path(folder).rglob("*.parquet"))


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


def parquet_read(tag_count: int, points_per_tag: int) -> dict:
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
        seconds = median_seconds(lambda: pq.read_table(path), repeats=3)
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb()}
