"""Tenancy: a key of one organization never reads a row of another, whatever the parameters."""

from __future__ import annotations

import io
import itertools

import openpyxl
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oee_pipelines_tests.support.tenant_warehouse import FOREIGN_MARKERS

RANGES = [
    ("2024-12-31", "2025-01-31"),
    ("2025-01-02", "2025-01-02"),
    ("2025-01-01T10:00:00Z", "2025-01-02T11:00:00Z"),
]
EXPORTS = {
    "/api/oee/export/snapshots": {
        "machine_id": [None, "MACHINE-A01", "MACHINE-B01"],
        "line_id": [None, "LINE-A1", "LINE-B01"],
        "shift_id": [None, "SHIFT-A2", "SHIFT-B01"],
    },
    "/api/oee/export/downtime": {"include_resolved": [None, "true", "false"]},
    "/api/oee/export/shift-reports": {"status": [None, "draft", "final"]},
    "/api/oee/export/data-mart": {"limit": [None, "1", "100000"]},
}


def text_of(response_content: bytes, export_format: str) -> str:
    if export_format == "parquet":
        return str(pq.read_table(io.BytesIO(response_content)).to_pylist())
    if export_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response_content)).active
        return str(list(sheet.values))
    return response_content.decode()


def assert_no_foreign_rows(text: str) -> None:
    for marker in FOREIGN_MARKERS:
        assert marker not in text


@st.composite
def export_requests(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    path = draw(st.sampled_from(sorted(EXPORTS)))
    date_from, date_to = draw(st.sampled_from(RANGES))
    params = {"date_from": date_from, "date_to": date_to, "format": draw(st.sampled_from(["csv", "json"]))}
    for name, values in EXPORTS[path].items():
        value = draw(st.sampled_from(values))
        if value is not None:
            params[name] = value
    return path, params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=export_requests(), key_method=st.sampled_from(["header", "bearer", "query"]))
def test_acme_never_sees_a_globex_row(
    client: TestClient, api_keys: dict, request: tuple, key_method: str
) -> None:
    path, params = request
    # Decided before the key joins the parameters: a random key may itself contain "B0".
    foreign_id = any("B0" in value for name, value in params.items() if name.endswith("_id"))
    key = api_keys["acme"]
    headers = {"header": {"X-API-Key": key}, "bearer": {"Authorization": f"Bearer {key}"}, "query": {}}[
        key_method
    ]
    if key_method == "query":
        params = {**params, "api_key": key}
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == (404 if foreign_id else 200), response.text
    if response.status_code == 200:
        assert_no_foreign_rows(response.text)


def test_every_export_and_format_stays_in_its_organization(client: TestClient, api_keys: dict) -> None:
    for (path, _), export_format in itertools.product(EXPORTS.items(), ["csv", "json", "parquet", "xlsx"]):
        params = {"date_from": "2024-12-01", "date_to": "2025-02-28", "format": export_format}
        acme = client.get(path, params=params, headers={"X-API-Key": api_keys["acme"]})
        globex = client.get(path, params=params, headers={"X-API-Key": api_keys["globex"]})
        assert acme.status_code == globex.status_code == 200
        assert_no_foreign_rows(text_of(acme.content, export_format))
        assert "MACHINE-A0" not in text_of(globex.content, export_format) and "LINE-A" not in text_of(
            globex.content, export_format
        )


def test_a_foreign_id_is_not_found_rather_than_empty(client: TestClient, api_keys: dict) -> None:
    params = {"date_from": "2025-01-01", "date_to": "2025-01-02", "machine_id": "MACHINE-B01"}
    response = client.get("/api/oee/export/snapshots", params=params, headers={"X-API-Key": api_keys["acme"]})
    assert response.status_code == 404
    assert response.json()["parameter"] == "machine_id"
    own = client.get("/api/oee/export/snapshots", params=params, headers={"X-API-Key": api_keys["globex"]})
    assert own.status_code == 200 and "MACHINE-B01" in own.text


def test_telemetry_stays_in_its_organization(client: TestClient, api_keys: dict) -> None:
    acme = {"X-API-Key": api_keys["acme"]}
    range_params = {"start_date": "2025-01-01", "end_date": "2025-01-02"}
    for path in ("/api/export/telemetry/csv/", "/api/export/telemetry/parquet/"):
        foreign = client.get(path, params={**range_params, "machine_id": "MACHINE-B01"}, headers=acme)
        assert foreign.status_code == 404
        own = client.get(path, params={**range_params, "machine_id": "MACHINE-A01"}, headers=acme)
        assert own.status_code == 200
        assert_no_foreign_rows(text_of(own.content, "parquet" if "parquet" in path else "csv"))
    body = {**range_params, "aggregation": "1h"}
    mixed = client.post(
        "/api/batch/telemetry/", json={**body, "machine_ids": ["MACHINE-A01", "MACHINE-B01"]}, headers=acme
    )
    assert mixed.status_code == 404 and mixed.json()["parameter"] == "machine_ids"
