"""The seed's Power BI URL, `/oee/export/snapshots` and its siblings without the `/api` prefix
(seed 000: "API endpoint: https://api.monopilot.com/oee/export/snapshots"), answers exactly as the
project's `/api/oee/export/...` does: same status, headers that matter, body and auth."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

DAYS = {"date_from": "2025-01-01", "date_to": "2025-01-03"}
EXPORTS = ["snapshots", "downtime", "shift-reports", "data-mart"]


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_the_seed_url_answers_as_the_api_url(
    client: TestClient, acme: dict, export: str, file_format: str
) -> None:
    params = {**DAYS, "format": file_format}
    project = client.get(f"/api/oee/export/{export}", params=params, headers=acme)
    seed = client.get(f"/oee/export/{export}", params=params, headers=acme)

    assert project.status_code == 200, project.text
    assert seed.status_code == project.status_code
    for header in ("content-type", "content-disposition"):
        assert seed.headers.get(header) == project.headers.get(header)
    assert seed.content == project.content
    assert len(project.content) > 200  # the days hold rows: equal bodies are not two empty answers


def test_the_seed_url_needs_a_key_and_refuses_bad_input_the_same_way(client: TestClient, acme: dict) -> None:
    assert client.get("/oee/export/snapshots", params=DAYS).status_code == 401
    bad = {**DAYS, "date_from": "not-a-date"}
    project = client.get("/api/oee/export/snapshots", params=bad, headers=acme)
    seed = client.get("/oee/export/snapshots", params=bad, headers=acme)
    assert seed.status_code == project.status_code == 422
    assert seed.json() == project.json()


def test_the_openapi_document_lists_the_seed_urls(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"/oee/export/{export}" for export in EXPORTS} <= set(paths)
