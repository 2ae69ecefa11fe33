"""What the Schemathesis run found, pinned: control characters refused with 422 naming the parameter
(a NUL once reached PostgreSQL and answered 500), empty dates refused as the schema says, 405 with
`Allow`, and an OpenAPI document that bounds every string parameter and declares the upload bodies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

GOOD = {"date_from": "2025-01-01", "date_to": "2025-01-30"}


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/erp/labor/", {"line_id": "a\x00b", "date": "2025-01-14"}, "line_id"),
        ("/api/oee/export/snapshots", {**GOOD, "machine_id": "MACHINE-A01\x00"}, "machine_id"),
        ("/api/oee/export/downtime", {**GOOD, "date_to": "2025-01-30\t"}, "date_to"),
        ("/api/export/telemetry/csv/", {"machine_id": "M", "start_date": "2025-01-01",
                                        "end_date": "2025-01-02", "metrics": "temperature\n"}, "metrics"),
        ("/api/mes/runs/abc%00def01", {}, "run_id"),
    ],
)  # fmt: skip
def test_a_control_character_is_refused_with_422_naming_the_parameter(
    client: TestClient, acme: dict[str, str], path: str, params: dict[str, str], parameter: str
) -> None:
    response = client.get(path, params=params, headers=acme)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert "control character U+00" in body["detail"]


def test_a_nul_inside_an_odata_filter_is_an_odata_422_naming_filter(
    client: TestClient, acme: dict[str, str]
) -> None:
    response = client.get("/odata/Snapshots", params={"$filter": "machine_id eq 'a\x00b'"}, headers=acme)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["target"] == "$filter"
    assert "U+0000" in error["message"]
    assert "None" not in error["message"]


def test_an_empty_date_is_refused_as_the_schema_declares(
    client: TestClient, acme: dict[str, str], api_app: FastAPI
) -> None:
    response = client.get("/api/oee/export/snapshots", params={**GOOD, "date_from": ""}, headers=acme)

    assert (response.status_code, response.json()["parameter"]) == (422, "date_from")
    parameters = api_app.openapi()["paths"]["/api/oee/export/snapshots"]["get"]["parameters"]
    date_from = next(p for p in parameters if p["name"] == "date_from")
    assert date_from["schema"]["minLength"] == 1


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/oee/export/snapshots", "GET"),
        ("PATCH", "/api/plant/model", "GET, PUT"),
        ("PUT", "/odata/$metadata", "GET"),
    ],
)
def test_405_names_the_allowed_methods(
    client: TestClient, acme: dict[str, str], method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, headers=acme)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed


def _string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string alternatives of a parameter schema (`anyOf` with null included)."""
    options = schema.get("anyOf", [schema])
    return [option for option in options if option.get("type") == "string"]


def test_every_string_parameter_is_bounded_and_uploads_declare_their_body(api_app: FastAPI) -> None:
    document = api_app.openapi()
    unbounded = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
        for option in _string_schemas(parameter.get("schema", {}))
        if not ({"pattern", "maxLength", "enum", "format"} & option.keys())
    ]
    assert unbounded == []
    for path in ("/api/import/csv/", "/api/import/excel/", "/api/plant/templates/{kind}"):
        schema = document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        assert schema["required"] == ["file"], path
    template = document["paths"]["/api/import/template/"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(template)
    metadata = document["paths"]["/odata/$metadata"]["get"]["responses"]["200"]["content"]
    assert set(metadata) == {"application/xml"}
