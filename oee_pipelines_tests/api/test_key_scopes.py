"""Read-scoped keys (BI tools) read; every action (a sync, a recipe download, a backfill, an import,
the plant model) needs an admin key: a read key is refused with 403 before anything is done."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from oee_pipelines.api.auth import create_api_key

READ_ONLY_METHODS = {"get", "head", "options"}
# A query sent as POST (its filter is a body): reading, so a read key may send it.
READ_ONLY_POSTS = {"/api/batch/telemetry/"}


def read_key(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return create_api_key(conn, "acme", "read-only BI", "read")[1]


def action_operations(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(
        (method, path)
        for path, operations in paths.items()
        for method in operations
        if method not in READ_ONLY_METHODS and path not in READ_ONLY_POSTS
    )


def test_every_action_refuses_a_read_key_with_403_naming_the_scope(
    client: TestClient, database_url: str
) -> None:
    key = read_key(database_url)
    operations = action_operations(client)
    assert ("post", "/api/mes/schedules/sync/") in operations
    assert ("post", "/api/import/csv/") in operations
    assert ("put", "/api/plant/model") in operations

    answers = {}
    for method, path in operations:
        url = path.replace("{", "").replace("}", "")  # path parameters: any value, the key is checked first
        answers[(method, path)] = client.request(method.upper(), url, headers={"X-API-Key": key})

    refused = {operation: response.status_code for operation, response in answers.items()}
    assert set(refused.values()) == {403}, refused
    for response in answers.values():
        assert "admin" in response.json()["detail"]


def test_a_read_key_reads(client: TestClient, database_url: str) -> None:
    response = client.get(
        "/api/oee/export/snapshots",
        params={"date_from": "2025-01-01", "date_to": "2025-01-01", "format": "json"},
        headers={"X-API-Key": read_key(database_url)},
    )
    assert response.status_code == 200, response.text
    batch = client.post("/api/batch/telemetry/", json={}, headers={"X-API-Key": read_key(database_url)})
    assert batch.status_code != 403, batch.text
