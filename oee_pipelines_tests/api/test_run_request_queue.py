"""A queued launch is durable: a real `oee api` process answers 202 without any Dagster webserver,
is killed (SIGKILL) right after, and the committed request is still there for the sensor to launch."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest

from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.services.mes_erp.run_requests import mes_sync_run_config
from oee_pipelines.services.runs import ORG_TAG, REQUESTED_BY_TAG
from oee_pipelines.settings import ConfigError
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.mes_api import api_key, sensor_tick
from oee_pipelines_tests.support.mes_sources import rows, seed_reference
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


def test_the_line_check_and_the_request_are_one_statement(
    api_process: tuple[str, int, Path], clean_database: str
) -> None:
    """A sync for one line records its request only when the line is the caller's organization's
    (the check is part of the INSERT): another organization's line and an unknown line are 404 and
    leave no row behind."""
    url, _, log = api_process
    seed_reference(clean_database)  # demo's LINE-001 and LINE-002
    headers = api_key(clean_database)
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('other', 'Other')")
        conn.execute("INSERT INTO sites (id, org_id, name) VALUES ('SITE-09', 'other', 'Other plant')")
        conn.execute(
            "INSERT INTO production_lines (id, org_id, site_id, name, code) "
            "VALUES ('LINE-009', 'other', 'SITE-09', 'Other line', 'L009')"
        )

    def sync(line_id: str) -> httpx.Response:
        return httpx.post(f"{url}/api/mes/schedules/sync/", json={"line_id": line_id}, headers=headers)

    others, unknown, own = sync("LINE-009"), sync("LINE-999"), sync("LINE-002")

    assert (others.status_code, others.json()["parameter"]) == (404, "line_id"), log_tails([log])
    assert (unknown.status_code, unknown.json()["parameter"]) == (404, "line_id")
    assert own.status_code == 202, own.text
    assert rows(clean_database, "SELECT id::text, job_name, org_id, run_config FROM api_run_requests") == [
        (
            own.json()["run_id"],
            "mes_schedule_sync_job",
            "demo",
            mes_sync_run_config(line_id="LINE-002", downloaded_by="api:tester"),
        )
    ]


def test_an_unknown_launch_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="OEE_API_RUN_LAUNCH"):
        ApiSettings.from_env({"OEE_API_RUN_LAUNCH": "celery"})
