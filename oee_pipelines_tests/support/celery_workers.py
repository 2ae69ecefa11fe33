"""A Celery deployment on one machine, for the distributed-execution test and benchmark.

A throwaway `redis-server` broker on a free loopback port, `dagster-celery worker` processes (one
task at a time each, distinct names), the webserver (backfills are launched through GraphQL, as the
UI and the API launch them) and `dagster-daemon` with the queued run coordinator, all on the project's
definitions with `OEE_EXECUTOR=celery`. Every process is stopped by its PID.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import yaml

from oee_pipelines.cli.up import stop_processes
from oee_pipelines.defs.executor import BROKER_URL_ENV, EXECUTOR_ENV
from oee_pipelines.defs.partitions import BACKFILL_DAYS_PER_RUN_ENV
from oee_pipelines.defs.reference.assets import reference_assets
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.simulator.servers.point_source import HistorianLogin
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.historian import Historians, map_tags
from oee_pipelines_tests.support.plant_days import (
    PLAN_MARGIN,
    demo_plant,
    load_operator_context,
    resources_for,
)
from oee_pipelines_tests.support.processes import log_tails, start_logged, venv_command, wait_until
from oee_pipelines_tests.support.webserver import PROJECT_ROOT, dagster_webserver

# The engine event dagster-celery writes when a worker picks a step up names the worker under this key.
CELERY_WORKER_KEY = "Celery worker"
STARTED = "REQUESTED"


def seed_plant(database_url: str, lake_root: str, first: date, last: date) -> None:
    """Reference data, the plan and the operator context around first..last; historian tags mapped."""
    resources = resources_for(database_url, lake_root)
    assert dg.materialize(reference_assets, resources=resources).success
    plant = demo_plant()
    warehouse = WarehouseResource(database_url=database_url)
    start, end = first - PLAN_MARGIN, last + PLAN_MARGIN
    warehouse.upsert("recipes", pa.Table.from_pandas(plant.recipes()), ["id"])
    warehouse.upsert("work_orders", pa.Table.from_pandas(plant.work_orders(start, end)), ["id"])
    schedules = pa.Table.from_pandas(plant.schedules(start, end))
    warehouse.upsert("production_schedules", schedules, ["org_id", "external_id"])
    load_operator_context(warehouse, plant, start, end)
    map_tags(database_url, plant)


def historian_sections(historians: Historians) -> dict[str, Any]:
    """The connector YAML's `historian` section for the simulated PI and AVEVA servers."""
    login = HistorianLogin()
    credentials = {"username": login.username, "password": login.password}
    return {
        "historian": {
            "pi": {
                "base_url": historians.pi_url + "/piwebapi",
                "data_server": "PISRV01",
                "credentials": credentials,
            },
            "aveva": {"base_url": historians.aveva_url, "credentials": credentials},
            "retry_attempts": 2,
        }
    }


@contextmanager
def redis_broker(log: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, without persistence; yields its URL."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = start_logged(command, dict(os.environ), log)
    try:
        wait_until(lambda: _answers(port), 20, "redis-server accepting connections", [log])
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_processes({"redis": process})


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@dataclass
class CeleryDeployment:
    runs: DagsterRuns
    home: Path
    logs: list[Path]

    def backfill(self, assets: Sequence[str], first: date, last: date, timeout_seconds: float) -> str:
        """Backfill `assets` over first..last; wait (bounded) until it completed successfully."""
        backfill_id = self.runs.launch_partition_backfill(
            list(assets), partition_range=(first.isoformat(), last.isoformat())
        )
        wait_until(
            lambda: self.runs.backfill_status(backfill_id) != STARTED,
            timeout_seconds,
            "a backfill",
            self.logs,
        )
        status = self.runs.backfill_status(backfill_id)
        assert status == "COMPLETED_SUCCESS", (list(assets), status, log_tails(self.logs))
        return backfill_id


@contextmanager
def celery_deployment(
    folder: Path,
    env: Mapping[str, str],
    workers: Sequence[str],
    days_per_run: int,
    max_concurrent_runs: int = 2,
) -> Iterator[CeleryDeployment]:
    """Broker, `workers`, webserver and daemon on the project's definitions with `env`."""
    home = folder / "dagster_home"
    logs = [folder / name for name in ("redis.log", "daemon.log", *(f"{worker}.log" for worker in workers))]
    instance_yaml = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": max_concurrent_runs},
        },
        "telemetry": {"enabled": False},
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with redis_broker(logs[0]) as broker_url:
        celery_env = {
            **env,
            EXECUTOR_ENV: "celery",
            BROKER_URL_ENV: broker_url,
            BACKFILL_DAYS_PER_RUN_ENV: str(days_per_run),
        }
        worker_config = folder / "celery.yaml"
        config = {"broker": broker_url, "backend": broker_url, "config_source": {"worker_concurrency": 1}}
        worker_config.write_text(yaml.safe_dump({"execution": {"config": config}}))
        # `dagster-celery worker start` runs the `celery` command beside it: the venv's bin on PATH.
        path = f"{Path(venv_command('celery')).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        process_env = {**os.environ, **celery_env, "DAGSTER_HOME": str(home), "PWD": str(PROJECT_ROOT)}
        process_env["PATH"] = path
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
        # The instance's SQLite storage created once here: processes starting together would race to.
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.get_runs(limit=1)
        try:
            # Workers and daemon load the definitions while the webserver does.
            for worker, log in zip(workers, logs[2:], strict=True):
                command = [venv_command("dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
                command += ["-y", str(worker_config), "-n", worker, "-l", "WARNING"]
                processes[worker] = start_logged(command, process_env, log)
            processes["daemon"] = start_logged(
                [venv_command("dagster-daemon"), "run", "-m", "oee_pipelines.definitions"],
                process_env,
                logs[1],
            )
            with dagster_webserver(home, celery_env, yaml.safe_dump(instance_yaml)) as graphql_url:
                yield CeleryDeployment(DagsterRuns(graphql_url=graphql_url), home, logs)
        finally:
            stop_processes(processes)


def backfill_run_ids(
    instance: dg.DagsterInstance, backfill_ids: Sequence[str]
) -> dict[str, dg.DagsterRunStatus]:
    """Each run the backfills launched, with its status."""
    return {
        run.run_id: run.status
        for backfill_id in backfill_ids
        for run in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    }


def steps_per_worker(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> tuple[Counter[str], set[str]]:
    """Steps each Celery worker ran (by name, from the engine events), and every step that started."""
    per_worker: Counter[str] = Counter()
    started: set[str] = set()
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started.add(f"{run_id}:{event.step_key}")
            elif event.event_type == dg.DagsterEventType.ENGINE_EVENT and event.engine_event_data:
                worker = event.engine_event_data.metadata.get(CELERY_WORKER_KEY)
                if worker is not None:
                    per_worker[str(worker.value).split("@")[0]] += 1
    return per_worker, started
