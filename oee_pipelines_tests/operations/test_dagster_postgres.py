"""deploy/dagster.production.yaml on a real PostgreSQL: a partitioned backfill submitted through the
webserver's GraphQL API, run by `dagster-daemon`, with runs and events stored in PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest

from oee_pipelines.cli.up import stop_processes
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines_tests.operations.backfill_location import MARKER_DIR_VARIABLE
from oee_pipelines_tests.support.processes import start_logged, venv_command, wait_until

PRODUCTION_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.production.yaml"
LOCATION_FILE = Path(__file__).with_name("backfill_location.py")
BACKFILL_DAYS = ["2025-01-13", "2025-01-14", "2025-01-15"]
DAGSTER_DATABASE = "dagster"

LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def dagster_postgres(tmp_path: Path) -> Iterator[str]:
    """An embedded PostgreSQL with an empty `dagster` database; yields its unix socket directory."""
    server = EmbeddedPostgres(tmp_path / "pgdata")
    warehouse_url = server.start()
    try:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DAGSTER_DATABASE}")
        yield warehouse_url.split("host=", 1)[1]
    finally:
        server.stop()


@pytest.fixture
def production_home(tmp_path: Path, dagster_postgres: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding the production dagster.yaml, its DAGSTER_PG_* variables set."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PRODUCTION_YAML, home / "dagster.yaml")
    (home / "workspace.yaml").write_text(
        f"load_from:\n  - python_file:\n      relative_path: {LOCATION_FILE}\n"
        "      location_name: backfill_test\n",
        encoding="utf-8",
    )
    (tmp_path / "markers").mkdir()
    environment = {
        "DAGSTER_HOME": str(home),
        # An empty host makes libpq use PGHOST: the embedded server listens on a unix socket only.
        "DAGSTER_PG_HOST": "",
        "PGHOST": dagster_postgres,
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": DAGSTER_DATABASE,
        MARKER_DIR_VARIABLE: str(tmp_path / "markers"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return home


def _launch_backfill(graphql_url: str) -> str:
    params = {
        "assetSelection": [{"path": ["daily_marker"]}],
        "partitionNames": BACKFILL_DAYS,
        "tags": [{"key": "oee/source_system", "value": "pi"}],
        "title": "instance test",
    }
    response = httpx.post(
        graphql_url, json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}, timeout=30
    )
    assert response.status_code == 200, response.text[:1000]
    result = response.json()["data"]["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def _webserver_answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


def test_the_production_instance_queues_runs_under_source_system_limits(production_home: Path) -> None:
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        run_queue = instance.get_concurrency_config().run_queue_config
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert run_queue is not None
        assert {"key": "oee/source_system", "value": "pi", "limit": 2} in run_queue.tag_concurrency_limits
        assert {"key": "oee/source_system", "value": "mes", "limit": 1} in run_queue.tag_concurrency_limits
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)
        assert instance.run_monitoring_enabled


@pytest.mark.slow
def test_the_daemon_runs_a_partitioned_backfill_on_postgres(production_home: Path, tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workspace = str(production_home / "workspace.yaml")
    logs = [tmp_path / "webserver.log", tmp_path / "daemon.log"]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        try:
            processes["webserver"] = start_logged(
                [venv_command("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
                os.environ,
                logs[0],
            )
            wait_until(lambda: _webserver_answers(base_url), 60, "the webserver answering", logs)
            backfill_id = _launch_backfill(f"{base_url}/graphql")

            processes["daemon"] = start_logged(
                [venv_command("dagster-daemon"), "run", "-w", workspace], os.environ, logs[1]
            )
            wait_until(
                lambda: any(
                    run.status == dg.DagsterRunStatus.SUCCESS for run in _backfill_runs(instance, backfill_id)
                ),
                90,
                "the backfill's run succeeding",
                logs,
            )
        finally:
            stop_processes(processes)

        runs = _backfill_runs(instance, backfill_id)
        assert len(runs) == 1  # BackfillPolicy.single_run(): three days, one run
        run = runs[0]
        assert run.tags["oee/source_system"] == "pi"
        assert run.tags["dagster/asset_partition_range_start"] == BACKFILL_DAYS[0]
        assert run.tags["dagster/asset_partition_range_end"] == BACKFILL_DAYS[-1]
        assert instance.get_materialized_partitions(dg.AssetKey("daily_marker")) == set(BACKFILL_DAYS)
        markers = {path.stem: path.read_text() for path in (tmp_path / "markers").iterdir()}
        assert markers == dict.fromkeys(BACKFILL_DAYS, run.run_id)

    with psycopg.connect(
        dbname=DAGSTER_DATABASE, user="postgres", host=os.environ["PGHOST"], autocommit=True
    ) as conn:
        stored_run = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run.run_id,)).fetchone()
        event_types = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = %s", (run.run_id,)
            )
        }
        materializations = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION.value),
        ).fetchone()
        backfill = conn.execute("SELECT status FROM bulk_actions WHERE key = %s", (backfill_id,)).fetchone()
        daemon_heartbeats = conn.execute("SELECT count(*) FROM daemon_heartbeats").fetchone()
    assert stored_run == ("SUCCESS",)
    # The run was queued, and only the daemon takes runs off the queue.
    assert {dg.DagsterEventType.RUN_ENQUEUED.value, dg.DagsterEventType.RUN_STARTING.value} <= event_types
    assert materializations == (len(BACKFILL_DAYS),)
    assert backfill is not None
    assert daemon_heartbeats[0] > 0
