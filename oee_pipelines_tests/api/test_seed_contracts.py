"""The seeds' exact contracts beside the project's richer ones (seed 002 §4.1 and §7.1-7.2), against the
real API app, PostgreSQL and a Parquet lake of two days of one-minute readings
(`support/tenant_warehouse.py`).

- `columns=seed` on the raw CSV gives exactly `timestamp, machine_id, event_type, value, quality` in
  `telemetry_<machine_id>.csv`; on Parquet exactly `timestamp_utc, machine_id, event_type, event_value,
  quality_score` in `telemetry.parquet`; the default (`columns=project`) is unchanged.
- The batch query's answer names the signal `event_type`.
- The seed's upload contract `POST /api/import/csv/upload/` (multipart part `csv_file`) imports as
  `POST /api/import/csv/` does, with the same answers (plus the seed's `success` and `records_imported`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oee_pipelines.exports.columns import TELEMETRY

HOUR = {
    "machine_id": "MACHINE-A01",
    "start_date": "2025-01-01T10:00:00Z",
    "end_date": "2025-01-01T11:00:00Z",
}
SEED_CSV_COLUMNS = ["timestamp", "machine_id", "event_type", "value", "quality"]
SEED_PARQUET_COLUMNS = ["timestamp_utc", "machine_id", "event_type", "event_value", "quality_score"]


def header(text: str) -> list[str]:
    """The CSV's first row as a reader sees it (the project's writer quotes text cells)."""
    return next(csv.reader(io.StringIO(text)))


def test_seed_csv_has_the_seeds_columns_and_file_name(client: TestClient, acme: dict) -> None:
    response = client.get(
        "/api/export/telemetry/csv/", params={**HOUR, "columns": "seed", "metrics": "pressure"}, headers=acme
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="telemetry_MACHINE-A01.csv"'
    assert header(response.text) == SEED_CSV_COLUMNS
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 60
    # The lake's readings at 10:00 and 10:59 (pressure = minute of the day % 10 + 0.5, quality 100).
    assert rows[0] == {
        "timestamp": "2025-01-01T10:00:00.000Z", "machine_id": "MACHINE-A01", "event_type": "pressure",
        "value": "0.5", "quality": "100",
    }  # fmt: skip
    assert rows[-1]["timestamp"] == "2025-01-01T10:59:00.000Z" and rows[-1]["value"] == "9.5"


def test_seed_parquet_has_the_seeds_typed_columns_and_file_name(client: TestClient, acme: dict) -> None:
    response = client.get("/api/export/telemetry/parquet/", params={**HOUR, "columns": "seed"}, headers=acme)

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="telemetry.parquet"'
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == SEED_PARQUET_COLUMNS
    assert table.schema.field("timestamp_utc").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("event_value").type == pa.float64()
    assert table.schema.field("quality_score").type == pa.int64()
    assert table.num_rows == 2 * 60
    first = table.slice(0, 2).to_pylist()
    assert first == [
        {"timestamp_utc": datetime(2025, 1, 1, 10, tzinfo=UTC), "machine_id": "MACHINE-A01",
         "event_type": "pressure", "event_value": 0.5, "quality_score": 100},
        {"timestamp_utc": datetime(2025, 1, 1, 10, tzinfo=UTC), "machine_id": "MACHINE-A01",
         "event_type": "temperature", "event_value": 0.0, "quality_score": 100},
    ]  # fmt: skip


def test_the_project_columns_stay_the_default(client: TestClient, acme: dict) -> None:
    default = client.get("/api/export/telemetry/csv/", params=HOUR, headers=acme)
    explicit = client.get("/api/export/telemetry/csv/", params={**HOUR, "columns": "project"}, headers=acme)

    assert default.text == explicit.text
    assert header(default.text) == TELEMETRY.column_names
    assert default.headers["content-disposition"].startswith('attachment; filename="OEE_Telemetry_')
    parquet = client.get("/api/export/telemetry/parquet/", params=HOUR, headers=acme)
    assert pq.read_table(io.BytesIO(parquet.content)).schema == TELEMETRY.arrow_schema


def test_seed_and_project_downloads_hold_the_same_readings(client: TestClient, acme: dict) -> None:
    project = list(
        csv.reader(io.StringIO(client.get("/api/export/telemetry/csv/", params=HOUR, headers=acme).text))
    )
    seed = list(
        csv.reader(
            io.StringIO(
                client.get(
                    "/api/export/telemetry/csv/", params={**HOUR, "columns": "seed"}, headers=acme
                ).text
            )
        )
    )
    # ts, machine_id, signal, value, quality of the project's rows are the seed's five columns.
    assert [[row[0], row[1], row[2], row[3], row[6]] for row in project[1:]] == seed[1:]
    assert len(seed) == 1 + 2 * 60


def test_an_unknown_column_set_is_refused_naming_the_parameter(client: TestClient, acme: dict) -> None:
    response = client.get("/api/export/telemetry/csv/", params={**HOUR, "columns": "mine"}, headers=acme)

    assert response.status_code == 422
    assert response.json()["parameter"] == "columns"


def test_batch_query_names_the_signal_event_type(client: TestClient, acme: dict) -> None:
    body = {
        "machine_ids": ["MACHINE-A01"],
        "start_date": "2025-01-01T00:00:00Z",
        "end_date": "2025-01-01T02:00:00Z",
        "aggregation": "1h",
        "metrics": ["temperature", "pressure"],
    }
    response = client.post("/api/batch/telemetry/", json=body, headers=acme)

    assert response.status_code == 200, response.text
    rows = response.json()
    assert [list(row) for row in rows[:1]] == [
        ["bucket", "machine_id", "event_type", "avg_value", "max_value", "min_value", "count"]
    ]
    assert [(row["bucket"], row["event_type"], row["avg_value"]) for row in rows] == [
        ("2025-01-01T00:00:00Z", "pressure", 5.0), ("2025-01-01T00:00:00Z", "temperature", 4.5),
        ("2025-01-01T01:00:00Z", "pressure", 5.0), ("2025-01-01T01:00:00Z", "temperature", 4.5),
    ]  # fmt: skip
    assert all("signal" not in row for row in rows)


def test_openapi_declares_the_seed_contracts(api_app: FastAPI) -> None:
    document = api_app.openapi()
    paths = document["paths"]
    for path in ("/api/export/telemetry/csv/", "/api/export/telemetry/parquet/"):
        (columns,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "columns"]
        schema = columns["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert schema["enum"] == ["project", "seed"]
        assert "telemetry_<machine_id>.csv" in columns["description"]
    batch = paths["/api/batch/telemetry/"]["post"]["responses"]["200"]["content"]["application/json"]
    assert list(batch["schema"]["items"]["properties"]) == [
        "bucket", "machine_id", "event_type", "avg_value", "max_value", "min_value", "count"
    ]  # fmt: skip


# Sensor logs of the seed's template shape (seed 002 §4.1), on days no other test of this module imports.
SEED_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-04-0{day}T12:00:00Z,MACHINE-A01,temperature,75.5,degC,100
2025-04-0{day}T12:00:01Z,MACHINE-A01,temperature,75.6,degC,100
2025-04-0{day}T12:00:02Z,MACHINE-A02,pressure,45.2,psi,100
"""
BAD_SEED_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-04-0{day}T12:00:00Z,MACHINE-A01,temperature,hot,degC,100
2025-04-0{day}T12:00:01Z,MACHINE-ZZZ,temperature,75.6,degC,100
"""
JOB_FIELDS = {"job_id", "checksum", "file_name", "affected_days"}


def job_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM import_jobs").fetchone()
    assert row is not None
    return int(row[0])


def test_seed_upload_imports_a_csv_file_sent_as_csv_file(
    client: TestClient, acme: dict, database_url: str, lake_root: str
) -> None:
    # No `type`: the seed's upload imports sensor logs.
    seed = client.post(
        "/api/import/csv/upload/",
        headers=acme,
        files={"csv_file": ("sensor_log.csv", SEED_LOG.format(day=1).encode(), "text/csv")},
    )

    assert seed.status_code == 200, seed.text
    body = seed.json()
    assert (body["success"], body["records_imported"], body["status"], body["rows_imported"]) == (
        True, 3, "SUCCESS", 3,
    )  # fmt: skip
    assert body["type"] == "sensor_log" and body["errors"] == []
    landed = Path(lake_root) / f"telemetry/source=import/date=2025-04-01/import-{body['job_id']}.parquet"
    assert pq.read_table(landed).num_rows == 3
    # The same answer as the project's endpoint gives for a file of the same shape.
    project = client.post(
        "/api/import/csv/?type=sensor_log",
        headers=acme,
        files={"file": ("sensor_log.csv", SEED_LOG.format(day=2).encode(), "text/csv")},
    ).json()
    assert set(body) == set(project) | {"success", "records_imported"}
    assert {k: v for k, v in body.items() if k not in JOB_FIELDS | {"success", "records_imported"}} == {
        k: v for k, v in project.items() if k not in JOB_FIELDS
    }


def test_seed_upload_refuses_a_bad_file_as_the_project_endpoint_does(
    client: TestClient, acme: dict, database_url: str
) -> None:
    before = job_count(database_url)
    seed = client.post(
        "/api/import/csv/upload/",
        headers=acme,
        files={"csv_file": ("bad.csv", BAD_SEED_LOG.format(day=3).encode(), "text/csv")},
    )
    project = client.post(
        "/api/import/csv/?type=sensor_log",
        headers=acme,
        files={"file": ("bad.csv", BAD_SEED_LOG.format(day=4).encode(), "text/csv")},
    )

    assert seed.status_code == project.status_code == 400
    body = seed.json()
    assert body["success"] is False and body["records_imported"] == 0
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [
        (2, "value", "hot"),
        (3, "machine_id", "MACHINE-ZZZ"),
    ]
    assert [(e["row"], e["column"], e["reason"]) for e in body["errors"]] == [
        (e["row"], e["column"], e["reason"]) for e in project.json()["errors"]
    ]
    assert body["detail"] == project.json()["detail"] and body["parameter"] == "csv_file"
    assert job_count(database_url) == before + 2  # both attempts recorded, as REJECTED
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute(
            "SELECT status FROM import_jobs WHERE job_id = %s", (body["job_id"],)
        ).fetchall()
    assert statuses == [("REJECTED",)]


def test_seed_upload_names_its_part_when_the_file_is_sent_under_another(
    client: TestClient, acme: dict
) -> None:
    response = client.post(
        "/api/import/csv/upload/",
        headers=acme,
        files={"file": ("sensor_log.csv", SEED_LOG.format(day=5).encode(), "text/csv")},
    )

    assert response.status_code == 400
    assert response.json()["parameter"] == "csv_file"
    assert "'csv_file'" in response.json()["detail"]


def test_openapi_declares_the_seed_upload(api_app: FastAPI) -> None:
    operation = api_app.openapi()["paths"]["/api/import/csv/upload/"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["csv_file"]
    assert body["properties"]["csv_file"] == {"type": "string", "format": "binary"}
    assert {"200", "400", "409", "413"} <= set(operation["responses"])


def test_a_malformed_multipart_body_is_refused_naming_the_part(client: TestClient, acme: dict) -> None:
    # A carriage return inside a part's header (schemathesis found it answering 500).
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="csv_file"; filename="a\rb.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nx\r\n--b0undary--\r\n"
    )
    for path, part in (("/api/import/csv/upload/", "csv_file"), ("/api/import/csv/?type=sensor_log", "file")):
        response = client.post(
            path, content=body, headers={**acme, "Content-Type": "multipart/form-data; boundary=b0undary"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["parameter"] == part
        assert "malformed" in response.json()["detail"]
