"""Responses stream through a real uvicorn server: chunked, with memory bounded by a batch, not the rows."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator

import httpx
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.tenant_warehouse import seed_warehouse

MACHINES = 10
WINDOWS_PER_MACHINE = 30_000  # 312 days of 15-minute windows
# the large machines, then the small seed's MACHINE-A01 (30 days and the 2025-01-31 edge) and MACHINE-A02
TOTAL_ROWS = MACHINES * WINDOWS_PER_MACHINE + 2880 + 1 + 96
EXPORT = {"date_from": "2025-01-01", "date_to": "2025-12-31"}

LARGE_MACHINES_SQL = """
INSERT INTO machines (id, org_id, line_id, name, code)
SELECT 'MACHINE-L' || lpad(n::text, 2, '0'), 'acme', 'LINE-A1', 'Large ' || n, 'L' || n
FROM generate_series(1, %(machines)s) AS n
"""
LARGE_SNAPSHOTS_SQL = """
INSERT INTO oee_snapshots (org_id, machine_id, line_id, shift_id, snapshot_time, window_start,
                           oee_pct, availability_pct, performance_pct, quality_pct)
SELECT 'acme', 'MACHINE-L' || lpad(m::text, 2, '0'), 'LINE-A1', 'SHIFT-A1',
       timestamptz '2025-01-01' + w * interval '15 minutes',
       timestamptz '2025-01-01' + (w - 1) * interval '15 minutes',
       (w %% 100)::numeric, 90.5, 95.25, 99.125
FROM generate_series(1, %(machines)s) AS m, generate_series(0, %(windows)s - 1) AS w
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str]]:
    seed_warehouse(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(LARGE_MACHINES_SQL, {"machines": MACHINES})
        conn.execute(LARGE_SNAPSHOTS_SQL, {"machines": MACHINES, "windows": WINDOWS_PER_MACHINE})
        key = create_api_key(conn, "acme", "streaming")[1]
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": str(data_dir / "lake")})
    app = create_app(settings, database_url=database_url, api_settings=ApiSettings(pool_max_size=2))
    try:
        with ServerThread(app) as thread:
            yield thread, key
    finally:
        app.state.services.close()


SMALL_EXPORT = {"date_from": "2025-01-01", "date_to": "2025-01-01", "machine_id": "MACHINE-A02"}


def stream(server: tuple[ServerThread, str], params: dict) -> tuple[bytes, int, int, int]:
    """The body, the number of chunks received, the Python heap peak, and the Arrow memory peak."""
    thread, key = server
    chunks: list[bytes] = []
    arrow_peak = 0
    tracemalloc.start()
    try:
        with httpx.stream(
            "GET", f"{thread.base_url}/api/oee/export/snapshots", params=params, headers={"X-API-Key": key},
            timeout=120,
        ) as response:  # fmt: skip
            assert response.status_code == 200
            assert "content-length" not in response.headers
            assert response.headers["transfer-encoding"] == "chunked"
            for chunk in response.iter_raw():
                chunks.append(chunk)
                arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return b"".join(chunks), len(chunks), python_peak, arrow_peak


def memory_growth(server: tuple[ServerThread, str], export_format: str) -> tuple[bytes, int, int, int]:
    """Like `stream` for the 300k-row export, with peaks relative to those of a 96-row export."""
    stream(server, {**SMALL_EXPORT, "format": export_format})  # lazy imports are not the export's memory
    _, _, small_python, small_arrow = stream(server, {**SMALL_EXPORT, "format": export_format})
    body, chunk_count, python_peak, arrow_peak = stream(server, {**EXPORT, "format": export_format})
    return body, chunk_count, python_peak - small_python, arrow_peak - small_arrow


def test_csv_streams_in_chunks_with_flat_memory(server: tuple[ServerThread, str]) -> None:
    body, chunk_count, python_growth, arrow_growth = memory_growth(server, "csv")
    assert body.count(b"\n") == 1 + TOTAL_ROWS
    assert chunk_count > 10
    # The client keeps every chunk it received (the body); the server holds about one batch beyond it.
    assert python_growth - len(body) < 16 * 2**20
    assert arrow_growth < 64 * 2**20


def test_parquet_streams_row_group_by_row_group(server: tuple[ServerThread, str]) -> None:
    body, chunk_count, python_growth, arrow_growth = memory_growth(server, "parquet")
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.num_rows == TOTAL_ROWS
    assert parquet.metadata.num_row_groups >= 2
    assert chunk_count >= parquet.metadata.num_row_groups
    # 300k rows arrive as ~22 MB of CSV from PostgreSQL; the server holds about one row group of them.
    assert python_growth < 16 * 2**20, python_growth
    assert arrow_growth < 128 * 2**20


def test_clients_that_hang_up_mid_stream_free_their_connections(server: tuple[ServerThread, str]) -> None:
    thread, key = server
    url = f"{thread.base_url}/api/oee/export/snapshots"
    for _ in range(2):  # as many hang-ups as the pool has connections
        with httpx.stream("GET", url, params=EXPORT, headers={"X-API-Key": key}, timeout=60) as response:
            assert next(response.iter_raw()).startswith(b'"snapshot_time"')
    # A leaked connection would leave the next requests waiting for the pool until they fail with 503.
    small = {"date_from": "2025-01-01", "date_to": "2025-01-01", "machine_id": "MACHINE-A02"}
    for _ in range(3):
        again = httpx.get(url, params=small, headers={"X-API-Key": key}, timeout=60)
        assert again.status_code == 200 and again.text.count("\n") == 97
