"""The API over a real dagster-webserver and real MES/ERP simulators: fixtures shared by the MES and
ERP API tests (import them into the test module).

The API queues runs (`api_run_requests`); no daemon runs here, so `start_requested_runs` does the
daemon's part: it evaluates the real `api_run_requests_sensor` on the webserver's instance and
launches each run it asks for on the webserver.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.defs.api_requests.sensors import api_run_requests_sensor
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials
from oee_pipelines.simulator.servers.sap_odata import SapCredentials
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_sources import RunningSources, running_sources, seed_reference
from oee_pipelines_tests.support.webserver import dagster_webserver, wait_for_run, write_connector_config


def connector_sections(sources: RunningSources) -> dict:
    mes, sap = MesRestCredentials(), SapCredentials()
    return {
        "mes": {
            "system_type": "custom_rest",
            "base_url": sources.mes_rest_url,
            "auth_type": "oauth2",
            "credentials": {"client_id": mes.client_id, "client_secret": mes.client_secret},
            "field_mappings": SEED_FIELD_NAMES,
        },
        "erp": {
            "system_type": "sap_odata",
            "base_url": f"{sources.sap_url}/sap/opu/odata/sap",
            "credentials": {"username": sap.username, "password": sap.password},
        },
    }


@pytest.fixture(scope="module")
def module_sources() -> Iterator[RunningSources]:
    with running_sources(sample_source_data()) as running:
        yield running


@pytest.fixture(scope="module")
def configured(
    module_sources: RunningSources, tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[dict[str, str]]:
    """The environment of the API and of the webserver: connector YAML, warehouse, Dagster."""
    folder = tmp_path_factory.mktemp("mes-api")
    config_file = write_connector_config(folder / "connectors.yml", connector_sections(module_sources))
    env = {
        "OEE_CONFIG_FILE": str(config_file),
        "OEE_DATABASE_URL": database_url,
        "OEE_DATA_DIR": str(folder / "data"),
    }
    home = folder / "dagster_home"
    with dagster_webserver(home, env) as graphql_url:
        yield {**env, "OEE_DAGSTER_GRAPHQL_URL": graphql_url, "DAGSTER_HOME": str(home)}


@pytest.fixture
def client(
    configured: dict[str, str], clean_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    seed_reference(clean_database)
    app = create_app(Settings.from_env(), database_url=clean_database, api_settings=ApiSettings())
    with TestClient(app) as test_client:
        yield test_client


def api_key(url: str, org_id: str = "demo") -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organizations (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (org_id, org_id)
        )
        _, key = create_api_key(conn, org_id, "tester")
    return {"X-API-Key": key}


def sensor_tick(instance: dg.DagsterInstance, database_url: str) -> dg.SensorResult:
    """One evaluation of `api_run_requests_sensor` over the warehouse at `database_url`."""
    context = dg.build_sensor_context(
        instance=instance, resources={"warehouse": WarehouseResource(database_url=database_url)}
    )
    result = api_run_requests_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def start_requested_runs(database_url: str) -> list[dg.RunRequest]:
    """The daemon's part, on the test's webserver (env `DAGSTER_HOME`, `OEE_DAGSTER_GRAPHQL_URL`): tick
    the sensor and launch the runs it requests; returns them."""
    runs = DagsterRuns(os.environ["OEE_DAGSTER_GRAPHQL_URL"])
    with dg.DagsterInstance.get() as instance:
        requested = list(sensor_tick(instance, database_url).run_requests or [])
    for request in requested:
        assert request.job_name is not None
        runs.launch_job(request.job_name, request.run_config, request.tags)
    return requested


def finished_status(client: TestClient, status_url: str, headers: dict[str, str]) -> str:
    """Start the queued runs (if the launch was queued), then wait for the run to finish."""
    if client.get(status_url, headers=headers).json()["status"] == "REQUESTED":
        start_requested_runs(client.app.state.services.database_url)  # type: ignore[attr-defined]
    return wait_for_run(lambda: client.get(status_url, headers=headers).json()["status"])
