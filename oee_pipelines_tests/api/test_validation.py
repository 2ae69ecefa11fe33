"""Bad input gets a 4xx whose message names the parameter; generated requests never get a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SNAPSHOTS = "/api/oee/export/snapshots"
GOOD = {"date_from": "2025-01-01", "date_to": "2025-01-30"}
TELEMETRY_CSV = "/api/export/telemetry/csv/"
DAY = {"start_date": "2025-01-01", "end_date": "2025-01-01"}


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter", "fragment"),
    [
        (SNAPSHOTS, {**GOOD, "format": "pdf"}, 422, "format", "'csv'"),
        (SNAPSHOTS, {"date_to": "2025-01-30"}, 422, "date_from", "Field required"),
        (SNAPSHOTS, {**GOOD, "date_from": "2025-02-30"}, 422, "date_from", "not a date"),
        (SNAPSHOTS, {**GOOD, "date_from": "01/02/2025"}, 422, "date_from", "not a date"),
        (SNAPSHOTS, {**GOOD, "date_to": "2024-12-01"}, 422, "date_to", "must be after date_from"),
        (SNAPSHOTS, {**GOOD, "date_to": "2026-06-01"}, 422, "date_to", "the maximum is 366 days"),
        (SNAPSHOTS, {**GOOD, "date_to": "9999-12-31"}, 422, "date_to", "outside"),
        (SNAPSHOTS, {**GOOD, "machine_id": "MACHINE-999"}, 404, "machine_id", "no machine 'MACHINE-999'"),
        (SNAPSHOTS, {**GOOD, "line_id": "LINE-999"}, 404, "line_id", "no line"),
        (SNAPSHOTS, {**GOOD, "shift_id": "SHIFT-9"}, 404, "shift_id", "no shift"),
        (SNAPSHOTS, {**GOOD, "machine_id": "x' OR '1'='1"}, 422, "machine_id", "pattern"),
        (SNAPSHOTS, {**GOOD, "include_headers": "maybe"}, 422, "include_headers", "boolean"),
        ("/api/oee/export/data-mart", {**GOOD, "limit": "100001"}, 422, "limit", "100000"),
        ("/api/oee/export/data-mart", {**GOOD, "limit": "0"}, 422, "limit", "greater than or equal to 1"),
        ("/api/oee/export/data-mart", {**GOOD, "limit": "ten"}, 422, "limit", "integer"),
        ("/api/oee/export/shift-reports", {**GOOD, "status": "closed"}, 422, "status", "'draft'"),
        ("/api/oee/export/downtime", {**GOOD, "include_resolved": "2"}, 422, "include_resolved", "boolean"),
        (TELEMETRY_CSV, DAY, 422, "machine_id", "required"),
        (TELEMETRY_CSV, {**DAY, "machine_id": "MACHINE-A01", "metrics": "a;b"}, 422, "metrics", "valid id"),
    ],
)  # fmt: skip
def test_bad_parameters_are_named(
    client: TestClient, acme: dict, path: str, params: dict, status: int, parameter: str, fragment: str
) -> None:
    response = client.get(path, params=params, headers=acme)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert body["detail"].startswith(f"{parameter}: ")
    assert fragment in body["detail"]


PARAMETER_NAMES = [
    "format", "date_from", "date_to", "machine_id", "line_id", "shift_id", "include_headers",
    "include_resolved", "status", "limit", "start_date", "end_date", "metrics",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["csv", "json", "xlsx", "parquet", "2025-01-01", "2025-01-02T00:00:00Z", "MACHINE-A01",
                     "LINE-A1", "SHIFT-A1", "true", "false", "final", "-1", "100000", "1e9", "0001-01-01"]),
    st.dates().map(str),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.integers().map(str),
)  # fmt: skip
PATHS = [
    "/api/oee/export/snapshots", "/api/oee/export/downtime", "/api/oee/export/shift-reports",
    "/api/oee/export/data-mart", "/api/export/telemetry/csv/", "/api/export/telemetry/parquet/",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS), params=st.dictionaries(st.sampled_from(PARAMETER_NAMES), VALUES, max_size=8)
)
def test_generated_requests_never_get_a_server_error(
    client: TestClient, acme: dict, path: str, params: dict
) -> None:
    response = client.get(path, params=params, headers=acme)
    assert response.status_code < 500, (params, response.text)
    if response.status_code >= 400:
        assert response.json()["detail"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "machine_ids": st.lists(st.one_of(st.just("MACHINE-A01"), st.text(max_size=10)), max_size=3),
            "start_date": VALUES,
            "end_date": VALUES,
            "aggregation": st.one_of(st.sampled_from(["1min", "5min", "1h", "1d"]), st.text(max_size=4)),
            "metrics": st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=3)),
        },
    )
)
def test_generated_batch_bodies_never_get_a_server_error(client: TestClient, acme: dict, body: dict) -> None:
    response = client.post("/api/batch/telemetry/", json=body, headers=acme)
    assert response.status_code < 500, (body, response.text)
