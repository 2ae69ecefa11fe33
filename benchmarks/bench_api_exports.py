"""Exports through the API sidecar (real uvicorn on loopback, in its own process).

- 1,000,000 data-mart rows as CSV, Parquet and JSON, twice: from the mart's lake copy (what the API
  reads when the copy is current: the `oee_data_mart` asset writes it beside `oee_data_mart_table`
  through `services/mart/lake_copy.py`, which the seed calls too), and from the warehouse (the copy
  removed: `oee_data_mart_table` through PostgreSQL's COPY). Seconds against DuckDB `COPY` of the same
  rows to a file (the floor: no database, no HTTP; JSON against DuckDB's JSON writer), best of two
  each, the warehouse's also against PostgreSQL's own COPY; and beside each, the server's peak RSS above
  its resting RSS (flat memory: the rows are never all held).
- 100,000 data-mart rows as XLSX, against xlsxwriter in constant-memory mode writing the same rows.
- A bounded load test: 20 concurrent clients pulling 30-day snapshot exports (p50 / p95, errors).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from benchmarks.common import peak_rss_mb, scratch_warehouse
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.services.mart.lake_copy import MART_LAKE_FOLDER, ROW_BYTES, mart_day, write_mart_days
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines.storage.lake import Lake

MACHINES = 40
REFERENCE_SQL = """
INSERT INTO organizations (id, name) VALUES ('bench', 'Bench');
INSERT INTO sites (id, org_id, name) VALUES ('SITE-01', 'bench', 'Site');
INSERT INTO production_lines (id, org_id, site_id, name, code)
  VALUES ('LINE-001', 'bench', 'SITE-01', 'Line 1', 'L1');
INSERT INTO shifts (id, org_id, site_id, name, shift_number, start_time, end_time)
  VALUES ('SHIFT-1', 'bench', 'SITE-01', 'Day', 1, '06:00', '18:00');
INSERT INTO products (id, org_id, code, name) VALUES ('PROD-001', 'bench', 'P1', 'Product one');
INSERT INTO work_orders (id, org_id, wo_number, product_id, line_id, planned_quantity, status,
                         planned_start, planned_end)
  VALUES ('WO-000001', 'bench', 'WO-000001', 'PROD-001', 'LINE-001', 1000, 'released',
          '2025-01-01', '2026-01-01');
"""
MACHINES_SQL = """
INSERT INTO machines (id, org_id, line_id, name, code)
SELECT 'MACHINE-' || lpad(n::text, 3, '0'), 'bench', 'LINE-001', 'Machine ' || n, 'M' || n
FROM generate_series(1, %(machines)s) AS n
"""
SNAPSHOTS_SQL = """
INSERT INTO oee_snapshots (org_id, machine_id, line_id, shift_id, work_order_id, snapshot_time,
    window_start, planned_production_time, actual_production_time, total_pieces, good_pieces, rejected_pieces,
    availability_pct, performance_pct, quality_pct, oee_pct)
SELECT 'bench', 'MACHINE-' || lpad(m::text, 3, '0'), 'LINE-001', 'SHIFT-1', 'WO-000001',
       timestamptz '2025-01-01' + w * interval '15 minutes',
       timestamptz '2025-01-01' + (w - 1) * interval '15 minutes',
       15, 12.5 + (w %% 5) * 0.25, 100 + w %% 7, 98 + w %% 7, 2,
       83.333, 90.125, 98.0, round((83.333 * 90.125 * 98.0 / 10000)::numeric, 3)
FROM generate_series(1, %(machines)s) AS m, generate_series(0, %(windows)s - 1) AS w
"""
DOWNTIME_SQL = """
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
    is_planned, reason_code, source_system)
SELECT 'bench', 'MACHINE-' || lpad(m::text, 3, '0'), 'LINE-001',
       timestamptz '2025-01-01' + w * interval '1 hour' + interval '3 minutes',
       timestamptz '2025-01-01' + w * interval '1 hour' + interval '8 minutes', 5, w %% 2 = 0, 'STOP', 'bench'
FROM generate_series(1, %(machines)s) AS m, generate_series(0, %(hours)s - 1) AS w
"""


def seed(url: str, rows: int, lake_root: str) -> str:
    windows = rows // MACHINES
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(REFERENCE_SQL)
        conn.execute(MACHINES_SQL, {"machines": MACHINES})
        conn.execute(SNAPSHOTS_SQL, {"machines": MACHINES, "windows": windows})
        conn.execute(DOWNTIME_SQL, {"machines": MACHINES, "hours": windows // 4})
        # What the `oee_data_mart` asset does per day: the view materialized into the table exports read,
        conn.execute("INSERT INTO oee_data_mart_table SELECT * FROM oee_data_mart")
        conn.execute("ANALYZE")
        first, last = conn.execute(
            "SELECT min(snapshot_time), max(snapshot_time) FROM oee_data_mart_table"
        ).fetchone()
        key = create_api_key(conn, "bench", "benchmark")[1]
    # ... then the days' lake copy, through the same service.
    days = [mart_day(first) + timedelta(days=n) for n in range((mart_day(last) - mart_day(first)).days + 1)]
    with psycopg.connect(url) as conn:
        written = write_mart_days(conn, Lake(lake_root), days)
    if written != windows * MACHINES:
        raise AssertionError(f"the lake copy holds {written} rows, expected {windows * MACHINES}")
    return key


@contextmanager
def api_server(url: str, data_dir: str, lake_root: str) -> Iterator[tuple[str, int]]:
    """`oee api` in a child process (so its memory is its own); stopped by its pid."""
    port = free_port()
    env = {
        **os.environ,
        "OEE_DATABASE_URL": url,
        "OEE_DATA_DIR": data_dir,
        "OEE_LAKE_ROOT": lake_root,
        "OEE_API_POOL_SIZE": "24",
    }
    launcher = "import sys; from oee_pipelines.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", launcher, "api", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("oee api did not start")
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux), so each export's peak is its own.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_of(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def rss_of(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


def download(base_url: str, key: str, path: str, params: dict, target: Path) -> float:
    started = time.perf_counter()
    with httpx.stream(
        "GET", f"{base_url}{path}", params=params, headers={"X-API-Key": key}, timeout=600
    ) as response:
        response.raise_for_status()
        with target.open("wb") as file:
            for chunk in response.iter_raw(1 << 20):
                file.write(chunk)
    return time.perf_counter() - started


def duckdb_copy_seconds(rows: pa.Table, target: Path, options: str) -> float:
    connection = duckdb.connect()
    connection.register("mart", rows)
    started = time.perf_counter()
    connection.execute(f"COPY (SELECT * FROM mart) TO '{target}' ({options})")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def postgres_copy_seconds(url: str) -> float:
    """PostgreSQL's own `COPY ... TO STDOUT (FORMAT csv)` of the mart rows, read and dropped by the client:
    the floor of any export that starts in PostgreSQL, whatever the writer after it."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor().copy("COPY (SELECT * FROM oee_data_mart_table) TO STDOUT (FORMAT csv)") as copy:
            for _block in copy:
                pass
        return time.perf_counter() - started


def xlsxwriter_seconds(rows: pa.Table, target: Path) -> float:
    columns = [
        [value.replace(tzinfo=None) if isinstance(value, datetime) else value for value in column.to_pylist()]
        for column in rows.columns
    ]
    python_rows = list(zip(*columns, strict=True))
    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, rows.column_names)
    for index, row in enumerate(python_rows, start=1):
        sheet.write_row(index, 0, row)
    workbook.close()
    return time.perf_counter() - started


def load_test(
    base_url: str, key: str, clients: int, requests_per_client: int, expected_rows: int
) -> tuple[list[float], int]:
    def client(index: int) -> tuple[list[float], int]:
        latencies, errors = [], 0
        params = {
            "date_from": "2025-01-01",
            "date_to": "2025-01-30",
            "machine_id": f"MACHINE-{index % MACHINES + 1:03d}",
        }
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=120) as http:
            for _ in range(requests_per_client):
                started = time.perf_counter()
                try:
                    response = http.get("/api/oee/export/snapshots", params=params)
                    errors += response.status_code != 200 or response.text.count("\n") != expected_rows + 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)
        return latencies, errors

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, range(clients)))
    return [latency for latencies, _ in results for latency in latencies], sum(
        errors for _, errors in results
    )


DUCKDB_OPTIONS = {
    "csv": "FORMAT CSV, HEADER",
    "parquet": "FORMAT PARQUET, COMPRESSION ZSTD",
    "json": "FORMAT JSON, ARRAY true",
}
DUCKDB_NAMES = {
    "csv": "DuckDB COPY",
    "parquet": "DuckDB COPY",
    "json": "DuckDB's JSON writer (COPY ... FORMAT JSON)",
}
REPEATS = 2  # best of two, for the export and its floor alike: the machine is shared


def export_once(base_url: str, key: str, pid: int, params: dict, target: Path) -> dict:
    """One download; the server's resting RSS before it and its peak during it."""
    resting = rss_of(pid)
    reset_peak_rss(pid)
    seconds = download(base_url, key, "/api/oee/export/data-mart", params, target)
    return {"seconds": seconds, "resting": resting, "peak": peak_rss_of(pid)}


POSTGRES_FLOOR = "PostgreSQL COPY of the mart rows TO STDOUT (FORMAT csv), client discarding"


def export_formats(
    base_url: str, key: str, pid: int, params: dict, scratch: Path, source: str, mart: pa.Table
) -> list[dict]:
    """Each format's export, best of two, with its DuckDB floor taken between them (the machine is shared:
    the floor and the export see the same load)."""
    results = []
    for export_format, options in DUCKDB_OPTIONS.items():
        # A small export first: lazy imports and first allocations are not the big export's memory.
        warm = {**params, "format": export_format, "limit": 1000}
        download(base_url, key, "/api/oee/export/data-mart", warm, scratch / "warm")
        target = scratch / f"mart-{source.replace(' ', '-')}.{export_format}"
        runs, floors = [], []
        for _ in range(REPEATS):
            runs.append(export_once(base_url, key, pid, {**params, "format": export_format}, target))
            floors.append(duckdb_copy_seconds(mart, scratch / f"duckdb.{export_format}", options))
        best = min(runs, key=lambda run: run["seconds"])
        peak_above = max(run["peak"] - run["resting"] for run in runs)
        results.append(
            {
                "format": export_format,
                "source": source,
                **best,
                "peak_above": peak_above,
                "baseline": min(floors),
            }
        )
    return results


def lake_copy_rows(lake_root: str) -> pa.Table:
    """The mart's rows from the seeded lake copy (the DuckDB floors' input), in the export's order."""
    files = sorted(Path(lake_root, MART_LAKE_FOLDER).glob("day=*/*.parquet"))
    return pa.concat_tables(pq.read_table(path).drop_columns([ROW_BYTES]) for path in files)


def run(quick: bool) -> list[dict]:
    rows = 40_000 if quick else 1_000_000
    xlsx_rows = 4_000 if quick else 100_000
    requests_per_client = 2 if quick else 5
    full_range = {"date_from": "2025-01-01", "date_to": "2025-12-31"}
    mart_path = "/api/oee/export/data-mart"
    results: list[dict] = []
    with scratch_warehouse() as url, tempfile.TemporaryDirectory(prefix="oee-bench-api-") as folder:
        scratch = Path(folder)
        lake_root = str(scratch / "lake")
        key = seed(url, rows, lake_root)
        with api_server(url, str(scratch / "data"), lake_root) as (base_url, pid):
            mart = lake_copy_rows(lake_root)
            results += export_formats(base_url, key, pid, full_range, scratch, "lake copy", mart)
            Lake(lake_root).remove_folder(MART_LAKE_FOLDER)  # from here on the API reads the table
            results += export_formats(base_url, key, pid, full_range, scratch, "warehouse", mart)
            for export_format in DUCKDB_OPTIONS:
                lake_body = (scratch / f"mart-lake-copy.{export_format}").read_bytes()
                if lake_body != (scratch / f"mart-warehouse.{export_format}").read_bytes():
                    raise AssertionError(
                        f"{export_format}: the lake copy's export differs from the warehouse's"
                    )
            exported = pq.read_table(scratch / "mart-lake-copy.parquet")
            if mart.num_rows != rows or not exported.equals(mart):
                raise AssertionError(f"data mart export held {exported.num_rows} rows, expected {rows}")
            source_floor = min(postgres_copy_seconds(url) for _ in range(REPEATS))

            reset_peak_rss(pid)
            xlsx_params = {**full_range, "format": "xlsx", "limit": xlsx_rows}
            xlsx_seconds = download(base_url, key, mart_path, xlsx_params, scratch / "mart.xlsx")
            xlsx_peak = peak_rss_of(pid)
            xlsx_floor = xlsxwriter_seconds(mart.slice(0, xlsx_rows), scratch / "floor.xlsx")

            thirty_days = min(rows // MACHINES, 30 * 96)
            latencies, errors = load_test(base_url, key, 20, requests_per_client, thirty_days)
            load_peak = peak_rss_of(pid)

    table: list[dict] = []
    for row in results:
        label, source = row["format"].upper(), row["source"]
        if source == "warehouse":
            table.append(
                {
                    "name": f"API data mart {rows:,} rows as {label} from the warehouse, "
                    "against the source's own floor",
                    "value": rows / row["seconds"],
                    "unit": "rows/s",
                    "seconds": row["seconds"],
                    "baseline_name": POSTGRES_FLOOR,
                    "baseline_value": rows / source_floor,
                    "ratio": source_floor / row["seconds"],
                }
            )
        table.append(
            {
                "name": f"API data mart {rows:,} rows as {label} from the {source} (uvicorn, loopback)",
                "value": rows / row["seconds"],
                "unit": "rows/s",
                "seconds": row["seconds"],
                "baseline_name": f"{DUCKDB_NAMES[row['format']]} of the same rows to {label}",
                "baseline_value": rows / row["baseline"],
                "ratio": row["baseline"] / row["seconds"],
                "target": ">= 0.7 of the floor (issue 19)",
                "server_peak_rss_mb": row["peak"],
                "server_resting_rss_mb": row["resting"],
                "peak_rss_mb": row["peak"],
            }
        )
        table.append(
            {
                "name": f"API data mart {rows:,} rows as {label} from the {source}: "
                "server peak RSS above resting",
                "value": row["peak_above"],
                "unit": "MB",
                "seconds": row["seconds"],
                "baseline_name": "server RSS at rest before the export (ratio: peak / resting)",
                "baseline_value": row["resting"],
                "ratio": row["peak"] / row["resting"],
                "server_peak_rss_mb": row["peak"],
                "peak_rss_mb": row["peak"],
            }
        )
    table.append(
        {
            "name": f"API data mart {xlsx_rows:,} rows as XLSX", "value": xlsx_rows / xlsx_seconds,
            "unit": "rows/s",
            "seconds": xlsx_seconds, "baseline_name": "xlsxwriter constant_memory write_row, same rows",
            "baseline_value": xlsx_rows / xlsx_floor, "ratio": xlsx_floor / xlsx_seconds,
            "server_peak_rss_mb": xlsx_peak, "peak_rss_mb": xlsx_peak,
        }
    )  # fmt: skip
    ordered = sorted(latencies)
    table.append(
        {
            "name": f"load: 20 clients x {requests_per_client} 30-day snapshot CSV exports, p50 latency",
            "value": statistics.median(ordered), "unit": "s", "seconds": sum(ordered),
            "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)], "errors": errors,
            "requests": len(ordered), "server_peak_rss_mb": load_peak, "peak_rss_mb": load_peak,
            "baseline_name": "", "baseline_value": None, "ratio": None,
        }
    )  # fmt: skip
    table.append(
        {
            "name": "load: p95 latency", "value": table[-1]["p95"], "unit": "s", "errors": errors,
            "baseline_name": "errors", "baseline_value": errors, "ratio": None, "peak_rss_mb": peak_rss_mb(),
        }
    )  # fmt: skip
    if errors:
        raise AssertionError(f"load test: {errors} failed requests")
    return table
