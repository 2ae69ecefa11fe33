"""The data-mart export from the mart's lake copy: byte for byte the export from the table.

The `oee_data_mart` asset writes the copy beside the table (`services/mart/lake_copy.py`); the API
reads it when it is current for every day of the request. The bodies below are taken once from the
copy and once from PostgreSQL (the copy removed), for several formats, ranges, limits and both orgs.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
from fastapi.testclient import TestClient

from oee_pipelines.services.mart.lake_copy import MART_LAKE_FOLDER, write_mart_days
from oee_pipelines.storage.lake import Lake

REQUESTS = [
    ("acme", {"format": "csv", "date_from": "2025-01-01", "date_to": "2025-01-30"}),
    ("acme", {"format": "csv", "date_from": "2025-01-01", "date_to": "2025-01-30",
              "include_headers": "false"}),
    ("acme", {"format": "json", "date_from": "2024-12-31", "date_to": "2025-01-31"}),
    ("acme", {"format": "parquet", "date_from": "2024-12-31", "date_to": "2025-01-31"}),
    # Across days, with datetime bounds (half-open) and a limit.
    ("acme", {"format": "csv", "date_from": "2025-01-03T07:30:00Z", "date_to": "2025-01-09T13:15:00Z"}),
    ("acme", {"format": "parquet", "date_from": "2025-01-03T07:30:00Z", "date_to": "2025-01-09T13:15:00Z",
              "limit": 333}),
    ("acme", {"format": "json", "date_from": "2025-01-02", "date_to": "2025-01-20", "limit": 1000}),
    ("globex", {"format": "csv", "date_from": "2025-01-01", "date_to": "2025-01-30"}),
    ("globex", {"format": "parquet", "date_from": "2025-01-01", "date_to": "2025-01-30", "limit": 7}),
    ("acme", {"format": "csv", "date_from": "2025-03-01", "date_to": "2025-03-02"}),  # no rows
]  # fmt: skip
MART_DAYS = [date(2024, 12, 30) + timedelta(days=offset) for offset in range(35)]


def bodies(client: TestClient, api_keys: dict[str, str]) -> list[bytes]:
    served = []
    for org, params in REQUESTS:
        response = client.get(
            "/api/oee/export/data-mart", params=params, headers={"X-API-Key": api_keys[org]}
        )
        assert response.status_code == 200, response.text
        served.append(response.content)
    return served


def test_the_lake_copy_serves_the_same_bytes_as_the_table(
    client: TestClient, api_keys: dict[str, str], database_url: str, lake_root: str
) -> None:
    lake = Lake(lake_root)
    with psycopg.connect(database_url) as conn:
        written = write_mart_days(conn, lake, MART_DAYS)
    with psycopg.connect(database_url) as conn:
        (in_table,) = conn.execute("SELECT count(*) FROM oee_data_mart_table").fetchone() or (0,)
    assert written == in_table > 5000
    from_lake = bodies(client, api_keys)
    assert from_lake[1].count(b"\n") == 2880 + 96 and b"Globex" not in from_lake[0]  # A01: 30 days, A02: one

    # The copy is what was served: a change the table's writer did not make is not seen through it.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE oee_data_mart_table SET machine_name = 'Changed' WHERE org_id = 'acme'")
        try:
            assert bodies(client, api_keys)[0] == from_lake[0]
        finally:
            conn.execute(
                "UPDATE oee_data_mart_table t SET machine_name = m.name "
                "FROM machines m WHERE m.id = t.machine_id"
            )

    lake.remove_folder(MART_LAKE_FOLDER)
    from_table = bodies(client, api_keys)
    for request, lake_body, table_body in zip(REQUESTS, from_lake, from_table, strict=True):
        assert lake_body == table_body, request
