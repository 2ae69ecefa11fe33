"""API keys: the three ways to send one, 401 for missing / unknown / revoked keys, and `oee api-key`."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from oee_pipelines.api.auth import hash_key
from oee_pipelines.cli import main

PATH = "/api/oee/export/snapshots"
PARAMS = {"date_from": "2025-01-01", "date_to": "2025-01-01", "machine_id": "MACHINE-A02", "format": "json"}


def test_the_key_is_accepted_as_header_bearer_and_query_parameter(client: TestClient, api_keys: dict) -> None:
    key = api_keys["acme"]
    as_header = client.get(PATH, params=PARAMS, headers={"X-API-Key": key})
    as_bearer = client.get(PATH, params=PARAMS, headers={"Authorization": f"Bearer {key}"})
    as_query = client.get(PATH, params={**PARAMS, "api_key": key})
    assert as_header.status_code == as_bearer.status_code == as_query.status_code == 200
    assert len(as_header.json()) == 96
    assert as_header.json() == as_bearer.json() == as_query.json()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "oee_not-a-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "unknown", "empty-bearer", "basic-auth"],
)
def test_missing_or_unknown_keys_get_401_with_a_message(client: TestClient, headers: dict) -> None:
    for path in ("/api/oee/export/snapshots", "/api/oee/export/data-mart", "/api/export/telemetry/csv/"):
        response = client.get(
            path, params={**PARAMS, "start_date": "2025-01-01", "end_date": "2025-01-01"}, headers=headers
        )
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]


def test_a_revoked_key_gets_401(client: TestClient, api_keys: dict) -> None:
    response = client.get(PATH, params=PARAMS, headers={"X-API-Key": api_keys["revoked"]})
    assert response.status_code == 401
    assert response.json()["detail"] == "X-API-Key: unknown or revoked API key"


def test_keys_are_stored_hashed(database_url: str, api_keys: dict) -> None:
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT key_hash, key_prefix FROM api_keys WHERE org_id = 'globex'").fetchone()
    assert stored == (hash_key(api_keys["globex"]), api_keys["globex"][:12])
    assert api_keys["globex"] not in stored[0]


def test_cli_creates_a_key_alone_on_stdout_lists_and_revokes_it(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", database_url)
    assert main(["api-key", "create", "--org", "acme", "--name", "cli test"]) == 0
    key = capsys.readouterr().out
    assert key.count("\n") == 1 and key.startswith("oee_")
    key = key.strip()
    assert client.get(PATH, params=PARAMS, headers={"X-API-Key": key}).status_code == 200

    assert main(["api-key", "list", "--org", "acme"]) == 0
    listing = capsys.readouterr().out
    assert key[:12] in listing and "cli test" in listing and key not in listing

    assert main(["api-key", "revoke", key[:12]]) == 0
    assert client.get(PATH, params=PARAMS, headers={"X-API-Key": key}).status_code == 401


def test_cli_refuses_an_unknown_organization(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", database_url)
    assert main(["api-key", "create", "--org", "nobody", "--name", "x"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no organization 'nobody'" in captured.err
    assert main(["api-key", "revoke", "oee_missing1"]) == 1
