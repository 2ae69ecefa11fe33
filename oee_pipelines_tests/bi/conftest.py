"""The two-organization warehouse of the API tests, and the API app to download Parquet exports from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.tenant_warehouse import seed_warehouse


@pytest.fixture(scope="module")
def acme_key(database_url: str) -> str:
    return seed_warehouse(database_url)["acme"]


@pytest.fixture(scope="module")
def export_client(
    database_url: str, acme_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": str(data_dir / "lake")})
    app = create_app(settings, database_url=database_url, api_settings=ApiSettings(pool_max_size=2))
    with TestClient(app) as client:
        client.headers["X-API-Key"] = acme_key
        yield client


@pytest.fixture
def warehouse_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `oee` command pointed at the test warehouse."""
    monkeypatch.setenv("OEE_DATABASE_URL", database_url)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    return database_url
