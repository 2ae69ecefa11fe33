"""Rejecting large all-duplicates uploads through the API (issue 17 item 3), each posted to a fresh
`oee api` running as its own process on a loopback port, over a scratch embedded PostgreSQL:

- a ~99 MB UTF-8 sensor-log CSV (under the 100 MiB upload limit) whose rows all repeat the first;
- a ~99 MB downtime CSV whose stops all repeat the first (each row a duplicate and an overlap: the
  kind checked across rows);
- a ~99 MB Windows-1250 sensor-log CSV (Polish sensor names; the encoding detected, the file
  transcoded to UTF-8 a chunk at a time);
- an XLSX sensor log as large as openpyxl's write-only mode writes in about 45 s.

Figures per file: the seconds until the API answers 400 (nothing imported; the report lists the first
1,000 bad rows and counts every one by kind), and the API process's peak RSS above its resting size
while it validates (sampled every 20 ms with psutil; the budget is 300 MB). Baselines: pyarrow's CSV
reader on the same file (for the workbook: the seconds openpyxl took to write it), and the file's size.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import httpx
import openpyxl
import psutil
import psycopg
import pyarrow.csv as pa_csv

from benchmarks.bench_import_csv import _load_plant
from benchmarks.common import scratch_warehouse
from oee_pipelines.api.auth import create_api_key
from reliability.api_process import running_api

MB = 1_000_000
HEADER = b"timestamp,machine_id,sensor_type,value,unit,quality\n"
ROW = b"2025-10-01T00:00:00Z,MACHINE-001,temperature,75.5,degC,100\n"
RSS_BUDGET_MB = 300
DOWNTIME_HEADER = b"start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id\n"
DOWNTIME_ROW = b"2025-10-01T08:00:00Z,2025-10-01T08:30:00Z,MACHINE-001,,BRK-MECH,Conveyor belt torn,OP-1\n"
POLISH_ROW = "2025-10-01T00:00:00Z,MACHINE-001,temperatura łożyska,75.5,°C,100\n".encode("cp1250")
XLSX_ROW = ["2025-10-01T00:00:00Z", "MACHINE-001", "temperature", 75.5, "degC", 100]
XLSX_WRITE_SECONDS = 45
# Under the reader's 512 MiB limit on a workbook's unpacked size (about 200 bytes of XML a row), and a
# reject within a few minutes (openpyxl reads some 30,000 cells a second).
XLSX_MAX_ROWS = 1_000_000


def write_duplicates(path: Path, size_bytes: int, header: bytes = HEADER, row: bytes = ROW) -> int:
    """A file of about `size_bytes` whose every row repeats the first; returns the row count."""
    rows = (size_bytes - len(header)) // len(row)
    block = row * 10_000
    with path.open("wb") as handle:
        handle.write(header)
        for _ in range(rows // 10_000):
            handle.write(block)
        handle.write(row * (rows % 10_000))
    return rows


def write_workbook(path: Path, seconds: float, max_rows: int) -> int:
    """A sensor-log workbook of identical rows, written for about `seconds`; returns the row count."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("readings")
    sheet.append([name.decode() for name in HEADER.strip().split(b",")])
    started, rows = time.perf_counter(), 0
    while rows < max_rows and time.perf_counter() - started < seconds:
        for _ in range(10_000):
            sheet.append(XLSX_ROW)
        rows += 10_000
    workbook.save(path)
    return rows


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


def reject(
    url: str, path: Path, endpoint: str, kind: str
) -> tuple[httpx.Response, float, tuple[int, int, int]]:
    """Post `path` to a fresh API: the answer, its seconds, and the RSS resting, at peak and after."""
    with psycopg.connect(url, autocommit=True) as conn:
        _, key = create_api_key(conn, "demo", f"bench-{kind}-{path.suffix}", scope="admin")
    with running_api(url) as api:
        base_url, process = api.base_url, psutil.Process(api.process.pid)
        resting = process.memory_info().rss
        with PeakRss(process) as rss, path.open("rb") as upload:
            started = time.perf_counter()
            answer = httpx.post(
                f"{base_url}/api/import/{endpoint}/",
                params={"type": kind},
                headers={"X-API-Key": key},
                files={"file": (path.name, upload, "application/octet-stream")},
                timeout=900,
            )
            seconds = time.perf_counter() - started
        after = process.memory_info().rss
    return answer, seconds, (resting, rss.peak, after)


def rows_for(
    label: str,
    answer: httpx.Response,
    seconds: float,
    memory: tuple[int, int, int],
    expected_bad_rows: int,
    size: int,
    baseline: tuple[str, float],
) -> list[dict]:
    body = answer.json()
    if (
        answer.status_code != 400
        or body.get("total_bad_rows") != expected_bad_rows
        or len(body["errors"]) > 1_000
    ):
        raise AssertionError(
            f"{label}: expected a 400 naming {expected_bad_rows:,} bad rows, got {answer.status_code} "
            f"{str(body)[:300]}"
        )
    resting, peak, after = memory
    increase_mb = (peak - resting) / MB
    print(
        f"  {label}: API RSS {resting / MB:.0f} MB resting, {peak / MB:.0f} MB peak, {after / MB:.0f} MB "
        f"after; answer {len(answer.content) / 1000:.0f} kB; budget {RSS_BUDGET_MB} MB above resting",
        flush=True,
    )
    baseline_name, baseline_seconds = baseline
    return [
        {
            "name": f"{label}: seconds to reject",
            "value": seconds,
            "unit": "s",
            "seconds": seconds,
            "baseline_name": baseline_name,
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


def _timed_read_csv(path: Path, encoding: str = "utf8") -> float:
    started = time.perf_counter()
    pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(encoding=encoding))
    return time.perf_counter() - started


def run(quick: bool) -> list[dict]:
    size = 10 * MB if quick else 99 * MB
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="oee-bench-reject-") as folder, scratch_warehouse() as url:
        _load_plant(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """INSERT INTO reason_codes (org_id, code, category, name, is_planned, loss_category)
                   VALUES ('demo', 'BRK-MECH', 'breakdown', 'Mechanical breakdown', false, 'breakdowns')"""
            )
        files = Path(folder)
        cases = [
            ("sensor_log_duplicates.csv", "sensor_log", HEADER, ROW, "all-duplicates sensor-log", None),
            (
                "downtime_duplicates.csv",
                "downtime",
                DOWNTIME_HEADER,
                DOWNTIME_ROW,
                "all-duplicates downtime",
                None,
            ),
            (
                "sensor_log_cp1250.csv",
                "sensor_log",
                HEADER,
                POLISH_ROW,
                "all-duplicates Windows-1250 sensor-log",
                "cp1250",
            ),
        ]
        for name, kind, header, row, what, encoding in cases:
            path = files / name
            rows = write_duplicates(path, size, header, row)
            baseline = ("pyarrow.csv.read_csv of the same file", _timed_read_csv(path, encoding or "utf8"))
            answer, seconds, memory = reject(url, path, "csv", kind)
            label = f"reject a {size / MB:.0f} MB {what} CSV upload ({rows:,} rows) via the API"
            results += rows_for(label, answer, seconds, memory, rows - 1, size, baseline)
            path.unlink()
        path = files / "sensor_log_duplicates.xlsx"
        started = time.perf_counter()
        rows = write_workbook(path, 5 if quick else XLSX_WRITE_SECONDS, 50_000 if quick else XLSX_MAX_ROWS)
        written = time.perf_counter() - started
        workbook_size = path.stat().st_size
        answer, seconds, memory = reject(url, path, "excel", "sensor_log")
        label = (
            f"reject a {workbook_size / MB:.0f} MB all-duplicates sensor-log XLSX upload ({rows:,} rows, "
            f"what openpyxl writes in {written:.0f} s) via the API"
        )
        baseline = ("openpyxl write-only: seconds to write it", written)
        results += rows_for(label, answer, seconds, memory, rows - 1, workbook_size, baseline)
    return results
