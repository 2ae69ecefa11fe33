"""Historian backfill endpoints against a real dagster-webserver + dagster-daemon pair (tmp DAGSTER_HOME),
running `historian_points` from the simulated PI server into a tmp lake."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.cli.up import stop_processes
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.point_source import HistorianLogin
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.historian import PI_MACHINE, Historians
from oee_pipelines_tests.support.historian_fixtures import historians, mapped_warehouse, plant
from oee_pipelines_tests.support.processes import log_tails, start_logged, venv_command, wait_until

__all__ = ["historians", "mapped_warehouse", "plant"]

LOCATION_FILE = Path(__file__).resolve().parents[1] / "defs" / "historian" / "backfill_location.py"
DAGSTER_YAML = """
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


@pytest.fixture
def dagster_env(
    tmp_path: Path, historians: Historians, mapped_warehouse: WarehouseResource, clean_database: str
) -> dict[str, str]:
    """A DAGSTER_HOME and the OEE_* variables that point the code location at the test's systems."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    (home / "workspace.yaml").write_text(
        f"load_from:\n  - python_file:\n      relative_path: {LOCATION_FILE}\n"
        "      location_name: historian\n",
        encoding="utf-8",
    )
    login = HistorianLogin()
    credentials = {"username": login.username, "password": "${TEST_PI_PASSWORD}"}
    config = {
        "historian": {
            "pi": {
                "base_url": historians.pi_url + "/piwebapi",
                "data_server": "PISRV01",
                "credentials": credentials,
            },
            "retry_attempts": 2,
        }
    }
    config_file = tmp_path / "connectors.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OEE_CONFIG_FILE": str(config_file),
        "TEST_PI_PASSWORD": login.password,
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_LAKE_ROOT": str(tmp_path / "lake"),
    }


@pytest.fixture
def dagster(
    dagster_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    """A running dagster-webserver; the test starts the daemon itself. Both are stopped by PID."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workspace = str(Path(dagster_env["DAGSTER_HOME"]) / "workspace.yaml")
    processes = {
        "webserver": start_logged(
            [venv_command("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
            dagster_env,
            tmp_path / "webserver.log",
        )
    }
    try:
        wait_until(lambda: _answers(base_url), 60, "the webserver answering", [tmp_path / "webserver.log"])
        yield base_url, processes
    finally:
        stop_processes(processes)


@pytest.fixture
def api(dagster: tuple[str, dict], clean_database: str, tmp_path: Path) -> TestClient:
    settings = Settings.from_env(
        {"OEE_DATA_DIR": str(tmp_path / "data"), "OEE_LAKE_ROOT": str(tmp_path / "lake")}
    )
    app = create_app(settings, database_url=clean_database, api_settings=ApiSettings(pool_max_size=2))
    app.state.dagster_runs = DagsterRuns(graphql_url=f"{dagster[0]}/graphql")
    return TestClient(app)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def api_key(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {"X-API-Key": create_api_key(conn, "demo", "tester")[1]}


def test_a_backfill_started_through_the_api_runs_in_dagster_and_reports_its_points(
    api: TestClient,
    dagster: tuple[str, dict[str, subprocess.Popen[bytes]]],
    dagster_env: dict[str, str],
    clean_database: str,
    tmp_path: Path,
) -> None:
    headers = api_key(clean_database)
    request = {
        "historian_system": "PI",
        "machine_id": PI_MACHINE,
        "start_date": "2025-01-13",
        "end_date": "2025-01-14",
    }
    wrong_system = api.post(
        "/api/historian/backfill/start/", json={**request, "historian_system": "IP21"}, headers=headers
    )
    assert wrong_system.status_code == 422 and wrong_system.json()["parameter"] == "historian_system"
    foreign_machine = api.post(
        "/api/historian/backfill/start/", json={**request, "machine_id": "M-X"}, headers=headers
    )
    assert foreign_machine.status_code == 404

    started = api.post("/api/historian/backfill/start/", json=request, headers=headers)
    assert started.status_code == 202, started.text + log_tails([tmp_path / "webserver.log"])
    job = started.json()
    assert job["partition_range"] == ["2025-01-13", "2025-01-14"]
    pending = api.get(job["status_url"], headers=headers).json()
    # No daemon yet: the backfill is requested and nothing has run.
    assert (pending["status"], pending["dagster_status"]) == ("PENDING", "REQUESTED")

    processes = dagster[1]
    workspace = str(Path(dagster_env["DAGSTER_HOME"]) / "workspace.yaml")
    logs = [tmp_path / "webserver.log", tmp_path / "daemon.log"]
    processes["daemon"] = start_logged(
        [venv_command("dagster-daemon"), "run", "-w", workspace], dagster_env, logs[1]
    )
    final = _final_status(api, job["status_url"], headers, logs)

    assert final["status"] == "COMPLETED", (final, log_tails(logs))
    assert final["dagster_status"] in {"COMPLETED", "COMPLETED_SUCCESS"}
    assert final["dagster_backfill_id"] == job["dagster_backfill_id"]
    assert final["dagster_run_id"] and final["completed_at"]
    lake = Lake(dagster_env["OEE_LAKE_ROOT"])
    written = [lake.read_folder(f"telemetry/source=pi/date={day}") for day in job["partition_range"]]
    assert final["points_imported"] == sum(table.num_rows for table in written) > 0
    assert final["points_fetched"] >= final["points_imported"]
    for table in written:
        assert set(table["machine_id"].to_pylist()) == {PI_MACHINE}
        assert set(table["ingest_run_id"].to_pylist()) == {final["dagster_run_id"]}
    # Another organization's key does not see the job.
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('other', 'Other')")
        other = {"X-API-Key": create_api_key(conn, "other", "them")[1]}
    assert api.get(job["status_url"], headers=other).status_code == 404


def _final_status(api: TestClient, url: str, headers: dict[str, str], logs: list[Path]) -> dict:
    """Poll until the job is COMPLETED or FAILED (bounded: the backfill daemon ticks every 30 s)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = api.get(url, headers=headers).json()
        if status["status"] in {"COMPLETED", "FAILED"}:
            return status
        time.sleep(1)
    raise AssertionError(f"the backfill did not finish: {status}\n{log_tails(logs)}")
