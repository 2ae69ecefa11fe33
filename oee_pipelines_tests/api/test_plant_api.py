"""`GET|PUT /api/plant/model`: the model as YAML/JSON, applied with an admin key, refused for a
read-scoped key (403 naming the scope), invalid models answered with every error and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.domain.plant_model import parse_plant_model
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.plant_model import example_text, fingerprint


@pytest.fixture
def plant_api(clean_database: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    PlantModelService(clean_database).apply(parse_plant_model(example_text()))
    with psycopg.connect(clean_database) as conn:
        keys = {scope: create_api_key(conn, "acme", f"{scope} key", scope)[1] for scope in ("read", "admin")}
    settings = Settings.from_env({"OEE_DATA_DIR": str(tmp_path / "data"), "OEE_LAKE_ROOT": str(tmp_path)})
    app = create_app(settings, database_url=clean_database, api_settings=ApiSettings(pool_max_size=2))
    yield TestClient(app), keys
    app.state.services.close()


def test_get_returns_the_model_as_yaml_or_json(plant_api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = plant_api
    response = client.get("/api/plant/model", headers={"X-API-Key": keys["read"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert parse_plant_model(response.text).organization.id == "acme"
    as_json = client.get(
        "/api/plant/model", headers={"X-API-Key": keys["read"], "Accept": "application/json"}
    ).json()
    assert as_json["sites"][0]["id"] == "PLANT-WAW"


def test_put_needs_an_admin_key_and_round_trips(
    plant_api: tuple[TestClient, dict[str, str]], clean_database: str
) -> None:
    client, keys = plant_api
    before = fingerprint(clean_database)
    refused = client.put("/api/plant/model", content=example_text(), headers={"X-API-Key": keys["read"]})
    assert refused.status_code == 403
    assert "scope 'read'" in refused.json()["detail"] and "'admin'" in refused.json()["detail"]

    current = client.get("/api/plant/model", headers={"X-API-Key": keys["admin"]}).text
    applied = client.put(
        "/api/plant/model",
        content=current,
        headers={"X-API-Key": keys["admin"], "Content-Type": "application/yaml"},
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["changed"] == 0
    as_json = client.put(
        "/api/plant/model", json=yaml.safe_load(current), headers={"X-API-Key": keys["admin"]}
    )
    assert as_json.status_code == 200 and as_json.json()["changed"] == 0
    assert fingerprint(clean_database) == before


def test_put_of_an_invalid_model_lists_every_error_and_changes_nothing(
    plant_api: tuple[TestClient, dict[str, str]], clean_database: str
) -> None:
    client, keys = plant_api
    before = fingerprint(clean_database)
    bad = (
        example_text()
        .replace("timezone: Europe/Warsaw", "timezone: Mars/Olympus")
        .replace("machine_id: M2, signal: pieces_good", "machine_id: M9, signal: pieces_good")
    )
    response = client.put("/api/plant/model", content=bad, headers={"X-API-Key": keys["admin"]})
    assert response.status_code == 422
    errors = {(e["parameter"], e["message"].split(" (")[0]) for e in response.json()["errors"]}
    assert ("sites[0].timezone", "'Mars/Olympus' is not an IANA time zone") in errors
    assert ("historian_tags[1].machine_id", "unknown machine 'M9'") in errors
    other_org = example_text().replace("{id: acme, name: Acme Foods}", "{id: globex, name: Globex}")
    assert (
        client.put("/api/plant/model", content=other_org, headers={"X-API-Key": keys["admin"]}).status_code
        == 403
    )
    assert fingerprint(clean_database) == before


def test_reference_templates_download_and_upload(
    plant_api: tuple[TestClient, dict[str, str]], clean_database: str
) -> None:
    client, keys = plant_api
    csv_template = client.get("/api/plant/templates/machines", headers={"X-API-Key": keys["read"]})
    assert csv_template.status_code == 200 and csv_template.text.startswith("machine_id,line_id,name,type")
    xlsx = client.get("/api/plant/templates/shifts?format=xlsx", headers={"X-API-Key": keys["read"]})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get("/api/plant/templates/nope", headers={"X-API-Key": keys["read"]}).status_code == 404

    before = fingerprint(clean_database)
    bad = b"machine_id,line_id,name\nM7,L9,Ghost\n"
    files = {"file": ("machines.csv", bad, "text/csv")}
    assert (
        client.post(
            "/api/plant/templates/machines", files=files, headers={"X-API-Key": keys["read"]}
        ).status_code
        == 403
    )
    refused = client.post("/api/plant/templates/machines", files=files, headers={"X-API-Key": keys["admin"]})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"row": 2, "column": "line_id", "value": "L9", "reason": "unknown line 'L9'"}
    ]
    assert fingerprint(clean_database) == before
    good = {"file": ("machines.csv", b"machine_id,line_id,name\nM7,L2,Packer\n", "text/csv")}
    applied = client.post("/api/plant/templates/machines", files=good, headers={"X-API-Key": keys["admin"]})
    assert applied.status_code == 200, applied.text
    assert applied.json()["apply_report"]["tables"]["machines"]["created"] == 1
