"""A queued launch is durable: a real `oee api` process answers 202 without any Dagster webserver,
is killed (SIGKILL) right after, and the committed request is still there for the sensor to launch."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.services.runs import ORG_TAG, REQUESTED_BY_TAG
from oee_pipelines.settings import ConfigError
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.mes_api import api_key, sensor_tick
from oee_pipelines_tests.support.mes_sources import rows
from oee_pipelines_tests.support.processes import log_tails, start_logged, venv_command, wait_until
from oee_pipelines_tests.support.webserver import write_connector_config

MES_SECTION = {
    "mes": {
        "system_type": "custom_rest",
        "base_url": "http://127.0.0.1:9/mes",  # never called: the API only records the request
        "auth_type": "oauth2",
        "credentials": {"client_id": "id", "client_secret": "secret"},
    }
}


@pytest.fixture
def api_process(clean_database: str, tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """`oee api` on a free loopback port, no Dagster webserver anywhere; yields (url, pid, log)."""
    port = free_port()
    env = {
        **os.environ,
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_CONFIG_FILE": str(write_connector_config(tmp_path / "connectors.yml", MES_SECTION)),
        "OEE_DAGSTER_GRAPHQL_URL": "http://127.0.0.1:9/graphql",
        "OEE_API_RUN_LAUNCH": "queue",
    }
    log = tmp_path / "api.log"
    process = start_logged([venv_command("oee"), "api", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/health"), 60, "oee api answering /health", [log])
        yield url, process.pid, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def test_a_request_answered_202_survives_the_api_being_killed(
    api_process: tuple[str, int, Path], clean_database: str
) -> None:
    url, pid, log = api_process
    headers = api_key(clean_database)

    response = httpx.post(f"{url}/api/mes/orders/update/", json={}, headers=headers, timeout=30)
    os.killpg(pid, signal.SIGKILL)

    assert response.status_code == 202, f"{response.text}\n{log_tails([log])}"
    request_id = response.json()["run_id"]
    assert rows(clean_database, "SELECT id::text, job_name, org_id, run_id FROM api_run_requests") == [
        (request_id, "mes_order_status_job", "demo", None)
    ]
    with dg.instance_for_test() as instance:
        [run_request] = sensor_tick(instance, clean_database).run_requests or []
    assert (run_request.run_key, run_request.job_name) == (request_id, "mes_order_status_job")
    assert run_request.tags[ORG_TAG] == "demo"
    assert run_request.tags[REQUESTED_BY_TAG] == "api:tester"


def test_an_unknown_launch_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="OEE_API_RUN_LAUNCH"):
        ApiSettings.from_env({"OEE_API_RUN_LAUNCH": "celery"})
