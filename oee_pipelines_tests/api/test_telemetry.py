"""Telemetry from the lake: raw CSV / Parquet downloads and DuckDB bucket aggregates."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from oee_pipelines.api.lake_queries import aggregate_batches
from oee_pipelines.api.params import resolve_time_range
from oee_pipelines.exports.columns import TELEMETRY

DAY_ONE = {"machine_id": "MACHINE-A01", "start_date": "2025-01-01", "end_date": "2025-01-01"}


def test_csv_streams_one_machine_and_day_from_the_lake(client: TestClient, acme: dict) -> None:
    response = client.get("/api/export/telemetry/csv/", params=DAY_ONE, headers=acme)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith('attachment; filename="OEE_Telemetry_')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 * 1440
    assert list(rows[0]) == TELEMETRY.column_names
    assert rows[0]["ts"] == "2025-01-01T00:00:00.000Z" and rows[-1]["ts"] == "2025-01-01T23:59:00.000Z"
    assert {row["machine_id"] for row in rows} == {"MACHINE-A01"}


def test_metrics_and_instants_narrow_the_rows(client: TestClient, acme: dict) -> None:
    params = {
        **DAY_ONE,
        "start_date": "2025-01-01T10:00:00Z",
        "end_date": "2025-01-01T11:00:00Z",
        "metrics": "pressure",
    }
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/export/telemetry/csv/", params=params, headers=acme).text)
        )
    )
    assert len(rows) == 60
    assert {row["signal"] for row in rows} == {"pressure"}
    assert rows[0]["value"] == "0.5"


def test_parquet_is_typed(client: TestClient, acme: dict) -> None:
    response = client.get(
        "/api/export/telemetry/parquet/", params={**DAY_ONE, "end_date": "2025-01-02"}, headers=acme
    )
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.schema == TELEMETRY.arrow_schema
    assert table.num_rows == 2 * 2 * 1440
    assert table.column("ts")[0].as_py() == datetime(2025, 1, 1, tzinfo=UTC)


def test_batch_aggregates_per_hour(client: TestClient, acme: dict) -> None:
    body = {
        "machine_ids": ["MACHINE-A01"],
        "start_date": "2025-01-01T00:00:00Z",
        "end_date": "2025-01-02T00:00:00Z",
        "aggregation": "1h",
        "metrics": ["temperature"],
    }
    response = client.post("/api/batch/telemetry/", json=body, headers=acme)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert len(rows) == 24
    assert rows[0] == {
        "bucket": "2025-01-01T00:00:00Z", "machine_id": "MACHINE-A01", "event_type": "temperature",
        "avg_value": 4.5, "min_value": 0.0, "max_value": 9.0, "count": 60,
    }  # fmt: skip


def test_batch_aggregates_per_five_minutes_and_per_day(client: TestClient, acme: dict) -> None:
    body = {"machine_ids": ["MACHINE-A01"], "start_date": "2025-01-01", "end_date": "2025-01-02"}
    five = client.post(
        "/api/batch/telemetry/",
        json={**body, "aggregation": "5min", "metrics": ["temperature"]},
        headers=acme,
    )
    assert [row["avg_value"] for row in five.json()[:2]] == [2.0, 7.0]
    assert len(five.json()) == 2 * 288
    daily = client.post("/api/batch/telemetry/", json={**body, "aggregation": "1d"}, headers=acme).json()
    assert [(row["bucket"], row["event_type"], row["count"]) for row in daily] == [
        ("2025-01-01T00:00:00Z", "pressure", 1440), ("2025-01-01T00:00:00Z", "temperature", 1440),
        ("2025-01-02T00:00:00Z", "pressure", 1440), ("2025-01-02T00:00:00Z", "temperature", 1440),
    ]  # fmt: skip


def test_batch_rejects_bad_bodies_naming_the_field(client: TestClient, acme: dict) -> None:
    body = {
        "machine_ids": ["MACHINE-A01"],
        "start_date": "2025-01-01",
        "end_date": "2025-01-02",
        "aggregation": "1h",
    }
    cases = [
        ({**body, "aggregation": "2h"}, "aggregation"),
        ({**body, "machine_ids": []}, "machine_ids"),
        ({**body, "machine_ids": ["MACHINE-A01", "bad id;"]}, "machine_ids[1]"),
        ({**body, "start_date": "yesterday"}, "start_date"),
        ({**body, "end_date": "2026-06-01"}, "end_date"),
        ({**body, "colour": "red"}, "colour"),
    ]
    for payload, parameter in cases:
        response = client.post("/api/batch/telemetry/", json=payload, headers=acme)
        assert response.status_code == 422, payload
        assert response.json()["parameter"] == parameter, response.json()


def test_an_empty_lake_gives_no_rows(tmp_path: Path) -> None:
    time_range = resolve_time_range("2025-01-01", "2025-01-02", 366)
    assert list(aggregate_batches(str(tmp_path), "acme", ["MACHINE-A01"], time_range, "1h", None)) == []
