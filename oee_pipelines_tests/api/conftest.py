"""Fixtures of the API tests: the two-organization warehouse and lake of `support/tenant_warehouse.py`
and the API app over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.tenant_warehouse import build_lake, seed_warehouse


@pytest.fixture(scope="module")
def api_keys(database_url: str) -> dict[str, str]:
    return seed_warehouse(database_url)


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def api_app(
    database_url: str, api_keys: dict[str, str], lake_root: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": lake_root})
    app = create_app(
        settings, database_url=database_url, api_settings=ApiSettings(max_range_days=366, pool_max_size=4)
    )
    yield app
    app.state.services.close()


@pytest.fixture(scope="module")
def client(api_app: FastAPI) -> TestClient:
    return TestClient(api_app)


@pytest.fixture(scope="module")
def acme(api_keys: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": api_keys["acme"]}
