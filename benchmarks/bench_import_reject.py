"""Rejecting a large all-duplicates upload through the API (issue 17 item 3): a ~99 MB sensor-log CSV
(under the 100 MiB upload limit) whose rows all repeat the first, posted to `POST /api/import/csv/` of
`oee api` running as its own process on a loopback port, over a scratch embedded PostgreSQL.

Figures: the seconds until the API answers 400 (nothing imported; the report lists the first 1,000 bad
rows and counts every one by kind), and the API process's peak RSS above its resting size while it
validates (sampled every 20 ms with psutil; the budget is 300 MB). Baselines: pyarrow's CSV reader on
the same file, and the file's own size.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import psycopg
import pyarrow.csv as pa_csv

from benchmarks.bench_import_csv import _load_plant
from benchmarks.common import scratch_warehouse
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.simulator.servers.runtime import free_port

MB = 1_000_000
HEADER = b"timestamp,machine_id,sensor_type,value,unit,quality\n"
ROW = b"2025-10-01T00:00:00Z,MACHINE-001,temperature,75.5,degC,100\n"
RSS_BUDGET_MB = 300


def write_duplicates(path: Path, size_bytes: int) -> int:
    """A sensor log of about `size_bytes` whose every row repeats the first; returns the row count."""
    rows = (size_bytes - len(HEADER)) // len(ROW)
    block = ROW * 10_000
    with path.open("wb") as handle:
        handle.write(HEADER)
        for _ in range(rows // 10_000):
            handle.write(block)
        handle.write(ROW * (rows % 10_000))
    return rows


@contextmanager
def api_process(database_url: str, data_dir: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`oee api` on a free loopback port, stopped by its PID afterwards."""
    port = free_port()
    env = {**os.environ, "OEE_DATABASE_URL": database_url, "OEE_DATA_DIR": str(data_dir)}
    command = [str(Path(sys.executable).parent / "oee"), "api", "--host", "127.0.0.1", "--port", str(port)]
    with (data_dir / "api.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {(data_dir / 'api.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base_url, psutil.Process(process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


class PeakRss:
    """Samples a process's RSS in a thread until stopped; `peak` is the largest seen."""

    def __init__(self, process: psutil.Process, interval: float = 0.02) -> None:
        self.process, self.interval = process, interval
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(quick: bool) -> list[dict]:
    size = 10 * MB if quick else 99 * MB
    with tempfile.TemporaryDirectory(prefix="oee-bench-reject-") as folder, scratch_warehouse() as url:
        path = Path(folder) / "sensor_log_duplicates.csv"
        rows = write_duplicates(path, size)
        baseline_started = time.perf_counter()
        pa_csv.read_csv(path)
        baseline_seconds = time.perf_counter() - baseline_started
        _load_plant(url)
        with psycopg.connect(url, autocommit=True) as conn:
            _, key = create_api_key(conn, "demo", "bench", scope="admin")
        with api_process(url, Path(folder)) as (base_url, process):
            resting = process.memory_info().rss
            with PeakRss(process) as rss, path.open("rb") as upload:
                started = time.perf_counter()
                answer = httpx.post(
                    f"{base_url}/api/import/csv/",
                    params={"type": "sensor_log"},
                    headers={"X-API-Key": key},
                    files={"file": (path.name, upload, "text/csv")},
                    timeout=600,
                )
                seconds = time.perf_counter() - started
            after = process.memory_info().rss
    body = answer.json()
    if answer.status_code != 400 or body.get("total_bad_rows") != rows - 1 or len(body["errors"]) > 1_000:
        raise AssertionError(f"expected a 400 naming {rows - 1:,} bad rows, got {answer.status_code}")
    increase_mb = (rss.peak - resting) / MB
    label = f"reject a {size / MB:.0f} MB all-duplicates sensor-log upload ({rows:,} rows) via the API"
    print(
        f"  API RSS {resting / MB:.0f} MB resting, {rss.peak / MB:.0f} MB peak, {after / MB:.0f} MB after; "
        f"answer {len(answer.content) / 1000:.0f} kB; budget {RSS_BUDGET_MB} MB above resting",
        flush=True,
    )
    return [
        {
            "name": f"{label}: seconds to reject",
            "value": seconds,
            "unit": "s",
            "seconds": seconds,
            "baseline_name": "pyarrow.csv.read_csv of the same file",
            "baseline_value": baseline_seconds,
            "ratio": seconds / baseline_seconds,
        },
        {
            "name": f"{label}: API peak RSS above resting (budget {RSS_BUDGET_MB} MB)",
            "value": increase_mb,
            "unit": "MB",
            "baseline_name": "the file's size",
            "baseline_value": size / MB,
            "ratio": increase_mb / (size / MB),
        },
    ]
