"""Observability fixtures: the API sidecar served on loopback over the API tests' two-tenant warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from oee_pipelines.api.app import create_app
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.tenant_warehouse import build_lake, seed_warehouse


@pytest.fixture(scope="module")
def api_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, an `acme` API key) of the API app served by uvicorn on 127.0.0.1."""
    keys = seed_warehouse(database_url)
    lake_root = build_lake(tmp_path_factory.mktemp("lake"))
    data_dir: Path = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": lake_root})
    app = create_app(settings, database_url=database_url, api_settings=ApiSettings(pool_max_size=4))
    try:
        with ServerThread(app) as server:
            yield server.base_url, keys["acme"]
    finally:
        app.state.services.close()


@pytest.fixture
def scrape() -> Callable[[str], str]:
    """GET a /metrics URL and return its text."""

    def get(url: str) -> str:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        return response.text

    return get
