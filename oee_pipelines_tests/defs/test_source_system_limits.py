"""The run limits per source system match the runs that call a source system (issue 16, item 4).

- Every job whose assets call a source system tags its runs `oee/source_system=<system>`, and so do
  the schedules and sensors that launch it; every asset that calls one runs in that system's pool.
- `dagster.yaml`, `deploy/dagster.production.yaml` and `deploy/values.yaml` set the same limits, one
  per value `services/source_systems.py` names.
- A real `dagster-daemon` with the project's `dagster.yaml` limits, and five runs of the real jobs
  submitted at once through the webserver (as the API submits them) against the simulated MES and
  historians: the three MES runs ran one after another, the two historian runs side by side.
- Runs launched from the asset graph (the UI's "Materialize selected": Dagster's implicit asset job,
  which carries no job tags) are held by the `mes` pool instead: three of them submitted at once,
  with the daemon, never had two MES steps in progress together.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from oee_pipelines.cli.dagster_home import apply_pool_limits, load_definitions
from oee_pipelines.cli.up import stop_processes
from oee_pipelines.config.connectors import load_connector_config
from oee_pipelines.defs.historian.jobs import HISTORIAN_BACKFILL_JOB
from oee_pipelines.defs.mes.schedules import build_sync_schedule
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.services.mes_erp.run_requests import MES_SCHEDULE_SYNC_JOB, mes_sync_run_config
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.services.source_systems import (
    ERP,
    HISTORIAN,
    MES,
    PI,
    RUN_LIMITS,
    SOURCE_SYSTEM_TAG,
    run_source_system,
)
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import HistorianLogin, PointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import demo_plant, map_tags
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_sources import WINDOW, seed_reference
from oee_pipelines_tests.support.processes import log_tails, start_logged, venv_command, wait_until
from oee_pipelines_tests.support.webserver import PROJECT_ROOT, dagster_webserver, write_connector_config

# The resource key through which an asset reaches each source system, and the pool it must run in.
POOL_BY_RESOURCE = {"mes": MES, "erp": ERP, "historian": HISTORIAN}
# Jobs known to call a source system, so the checks below cannot pass on an empty set.
EXPECTED_TAGS = {
    "mes_erp_sync_job": MES,
    "mes_schedule_sync_job": MES,
    "mes_recipe_download_job": MES,
    "mes_order_status_job": MES,
    "erp_materials_sync_job": ERP,
    "historian_backfill_job": HISTORIAN,
    "oee_daily_job": MES,  # operator_shifts reads the MES
    "publish_day_job": MES,
}
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}  # one process per run: half the start-up
HISTORIAN_DAYS = ["2025-01-13", "2025-01-14"]
MES_GATE_SECONDS = 10.0
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
DEPLOY_FILES = {
    "dagster.yaml": ("concurrency", "runs", "tag_concurrency_limits"),
    "deploy/dagster.production.yaml": ("concurrency", "runs", "tag_concurrency_limits"),
    "deploy/values.yaml": (
        "dagsterDaemon",
        "runCoordinator",
        "config",
        "queuedRunCoordinator",
        "tagConcurrencyLimits",
    ),
}


@functools.cache
def repository() -> dg.RepositoryDefinition:
    return load_definitions().get_repository_def()


def job_pools(job: dg.JobDefinition) -> set[str | None]:
    return {op.pool for op in job.graph.iterate_op_defs()}


def tag_of(job: dg.JobDefinition) -> str | None:
    return job.tags.get(SOURCE_SYSTEM_TAG)


# --- definitions -----------------------------------------------------------------------------------


def test_every_asset_that_calls_a_source_system_runs_in_its_pool() -> None:
    checked = []
    for assets_def in repository().assets_defs_by_key.values():
        if not assets_def.is_executable:
            continue
        for resource_key in assets_def.required_resource_keys & POOL_BY_RESOURCE.keys():
            checked.append(assets_def.node_def.name)
            assert assets_def.node_def.pool == POOL_BY_RESOURCE[resource_key], assets_def.node_def.name
    expected = {"mes_sync", "mes_order_status_pushback", "operator_shifts", "erp_materials", "labor_costs"}
    assert expected | {"historian_points"} <= set(checked)


def test_every_job_that_calls_a_source_system_tags_its_runs() -> None:
    jobs = [job for job in repository().get_all_jobs() if not job.name.startswith("__ASSET_JOB")]
    tags = {job.name: tag_of(job) for job in jobs}
    # The tag follows the job's pools: a job with no source-system pool carries none.
    assert tags == {job.name: run_source_system(job_pools(job)) for job in jobs}
    assert EXPECTED_TAGS.items() <= tags.items()
    assert tags["import_file_job"] is None and tags["iot_landing_job"] is None  # inbox and local buffer


def test_schedules_and_sensors_launch_tagged_jobs() -> None:
    repo = repository()
    launched = {schedule.name: schedule.job_name for schedule in repo.schedule_defs}
    for sensor in repo.sensor_defs:
        launched.update({f"{sensor.name}->{target.job_name}": target.job_name for target in sensor.targets})
    tags = {name: tag_of(repo.get_job(job_name)) for name, job_name in launched.items()}
    assert tags == {name: run_source_system(job_pools(repo.get_job(job))) for name, job in launched.items()}
    assert (
        tags["mes_erp_sync_schedule"]
        == tags["publish_yesterday_daily"]
        == tags["refresh_today_hourly"]
        == MES
    )
    assert tags["import_inbox_sensor->import_file_job"] is None
    # A run requested by a schedule inherits the job's tags when the daemon creates it.
    schedule = repo.get_schedule_def("mes_erp_sync_schedule")
    with dg.build_schedule_context(repository_def=repo) as context:
        (request,) = schedule.evaluate_tick(context).run_requests or []
    assert SOURCE_SYSTEM_TAG not in request.tags  # nothing overrides the job's tag


@pytest.mark.parametrize(("sections", "expected"), [(("mes",), MES), (("erp",), ERP)])
def test_the_scheduled_sync_of_one_system_is_tagged_with_it(
    tmp_path: Path, sections: tuple[str, ...], expected: str
) -> None:
    configured = {
        "mes": {"system_type": "custom_rest", "base_url": "http://127.0.0.1:9", "auth_type": "none"},
        "erp": {"system_type": "sap_odata", "base_url": "http://127.0.0.1:9", "auth_type": "none"},
    }
    config_file = write_connector_config(tmp_path / "c.yml", {name: configured[name] for name in sections})
    _, sources = load_connector_config(config_file, None, {})
    schedule = build_sync_schedule(sources)
    assert schedule.job.tags[SOURCE_SYSTEM_TAG] == expected
    assert schedule.job.name == "mes_erp_scheduled_sync_job"


def test_a_historian_backfill_narrowed_by_the_api_queues_under_its_historian() -> None:
    assert BackfillRequest(system=PI).run_tags()[SOURCE_SYSTEM_TAG] == PI
    assert SOURCE_SYSTEM_TAG not in BackfillRequest().run_tags()  # the job's tag (historian) applies


@pytest.mark.parametrize("relative_path", sorted(DEPLOY_FILES))
def test_each_deployment_file_limits_every_source_system(relative_path: str) -> None:
    node: Any = yaml.safe_load((PROJECT_ROOT / relative_path).read_text(encoding="utf-8"))
    for key in DEPLOY_FILES[relative_path]:
        node = node[key]
    limits = {entry["value"]: entry["limit"] for entry in node if entry["key"] == SOURCE_SYSTEM_TAG}
    assert limits == RUN_LIMITS


# --- the daemon queues real runs under the limits ----------------------------------------------------


class OverlapGate:
    """ASGI middleware: holds requests until `parties` are in flight at once, then lets all through.

    With one request in flight per run (historian `concurrency: 1`), the gate opens only when two
    runs call the server at the same time, so runs the queue lets overlap do overlap however the
    machine schedules them. Runs that never meet wait `timeout_seconds` once, then go on.
    """

    def __init__(self, app: ASGIApp, timeout_seconds: float = 30.0, parties: int = 2) -> None:
        self.app, self.timeout_seconds, self.parties = app, timeout_seconds, parties
        self.in_flight = 0
        self.met = False
        self.opened: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.opened is None or not self.opened.is_set()):
            self.opened = self.opened or asyncio.Event()
            self.in_flight += 1
            if self.in_flight >= self.parties:
                self.met = True
                self.opened.set()
            try:
                await asyncio.wait_for(self.opened.wait(), self.timeout_seconds)
            except TimeoutError:
                self.opened.set()
            finally:
                self.in_flight -= 1
        await self.app(scope, receive, send)


@dataclass
class GatedSources:
    """The simulated MES REST and PI servers behind overlap gates, and AVEVA, on loopback."""

    mes_url: str
    pi_url: str
    aveva_url: str
    mes_gate: OverlapGate
    pi_gate: OverlapGate

    def connector_sections(self) -> dict[str, Any]:
        """One request in flight per run (`parallel_requests`, `concurrency`), so a gate opens only
        when two runs call the same server at once."""
        mes, login = MesRestCredentials(), HistorianLogin()
        historian_login = {"username": login.username, "password": login.password}
        return {
            "mes": {
                "system_type": "custom_rest",
                "base_url": self.mes_url,
                "auth_type": "oauth2",
                "credentials": {"client_id": mes.client_id, "client_secret": mes.client_secret},
                "field_mappings": SEED_FIELD_NAMES,
                "parallel_requests": 1,
            },
            "historian": {
                "pi": {
                    "base_url": self.pi_url + "/piwebapi",
                    "data_server": "PISRV01",
                    "credentials": historian_login,
                    "concurrency": 1,
                },
                "aveva": {"base_url": self.aveva_url, "credentials": historian_login, "concurrency": 1},
                "retry_attempts": 2,
            },
        }


@contextmanager
def gated_sources() -> Iterator[GatedSources]:
    plant = demo_plant()
    # MES runs the queue wrongly let overlap meet at this gate and overlap for sure; a lone MES run
    # waits once, MES_GATE_SECONDS, then the gate stays open.
    mes_gate = OverlapGate(MesRestSimulator(sample_source_data(), max_page_size=2).app, MES_GATE_SECONDS)
    pi_gate = OverlapGate(PiWebApiSimulator(PointSource.from_plant(plant, "pi")).app)
    aveva = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"))
    with (
        ServerThread(mes_gate) as mes_server,
        ServerThread(pi_gate) as pi_server,
        ServerThread(aveva.app) as aveva_server,
    ):
        yield GatedSources(mes_server.base_url, pi_server.base_url, aveva_server.base_url, mes_gate, pi_gate)


def project_limits_instance_yaml() -> str:
    """The project's own `dagster.yaml` run queue and pools, on the temp home's default storage."""
    project = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    return yaml.safe_dump({"concurrency": project["concurrency"], "telemetry": {"enabled": False}})


def overlaps(first: dg.RunRecord, second: dg.RunRecord) -> bool:
    assert first.start_time and first.end_time and second.start_time and second.end_time
    return first.start_time < second.end_time and second.start_time < first.end_time


@pytest.mark.slow
def test_the_daemon_runs_one_mes_run_at_a_time_and_historian_runs_side_by_side(
    clean_database: str, tmp_path: Path
) -> None:
    seed_reference(clean_database)
    map_tags(clean_database, demo_plant())
    home = tmp_path / "dagster_home"
    log = tmp_path / "daemon.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with gated_sources() as sources:
        config_file = write_connector_config(tmp_path / "connectors.yml", sources.connector_sections())
        env = {
            "OEE_CONFIG_FILE": str(config_file),
            "OEE_DATABASE_URL": clean_database,
            "OEE_DATA_DIR": str(tmp_path / "data"),
            "OEE_LAKE_ROOT": str(tmp_path / "lake"),
        }
        with dagster_webserver(home, env, project_limits_instance_yaml()) as graphql_url:
            runs = DagsterRuns(graphql_url=graphql_url)
            mes_config = {**mes_sync_run_config(WINDOW["start"], WINDOW["end"]), **IN_PROCESS}
            # Submitted before the daemon starts: all five wait in the queue at once. No tags are
            # passed: the jobs' own tags are what the queue limits.
            mes_ids = [runs.launch_job(MES_SCHEDULE_SYNC_JOB, mes_config) for _ in range(3)]
            historian_ids = [
                runs.launch_job(HISTORIAN_BACKFILL_JOB, IN_PROCESS, tags={"dagster/partition": day})
                for day in HISTORIAN_DAYS
            ]
            with dg.DagsterInstance.from_config(str(home)) as instance:
                assert {run.status for run in instance.get_runs()} == {dg.DagsterRunStatus.QUEUED}
                try:
                    processes["daemon"] = start_logged(
                        [venv_command("dagster-daemon"), "run", "-m", "oee_pipelines.definitions"],
                        {**os.environ, **env, "DAGSTER_HOME": str(home), "PWD": str(PROJECT_ROOT)},
                        log,
                    )
                    wait_until(
                        lambda: {run.status for run in instance.get_runs()} <= FINISHED,
                        240,
                        "the five runs finishing",
                        [log],
                    )
                finally:
                    stop_processes(processes)
                records = {
                    record.dagster_run.run_id: record
                    for record in instance.get_run_records(dg.RunsFilter(run_ids=mes_ids + historian_ids))
                }

    statuses = {run_id: record.dagster_run.status for run_id, record in records.items()}
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}, (statuses, log_tails([log]))
    assert {records[run_id].dagster_run.tags[SOURCE_SYSTEM_TAG] for run_id in mes_ids} == {MES}
    assert {records[run_id].dagster_run.tags[SOURCE_SYSTEM_TAG] for run_id in historian_ids} == {HISTORIAN}
    mes_runs = sorted((records[run_id] for run_id in mes_ids), key=lambda record: record.start_time or 0)
    # At most one MES run in progress at any time: each started after the one before it ended.
    for before, after in itertools.pairwise(mes_runs):
        assert not overlaps(before, after), [(r.start_time, r.end_time) for r in mes_runs]
    assert not sources.mes_gate.met  # no two MES requests were ever in flight at once
    first, second = (records[run_id] for run_id in historian_ids)
    assert overlaps(first, second), [(r.start_time, r.end_time) for r in (first, second)]
    assert sources.pi_gate.met  # both historian runs were reading PI at the same moment


# --- the pools hold runs launched from the asset graph ---------------------------------------------

ASSET_JOB = "__ASSET_JOB"  # Dagster's implicit job: what "Materialize selected" launches
MES_ASSETS = ["mes_production_schedules", "work_orders", "recipes"]  # the `mes_sync` multi-asset
LOCATION_QUERY = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
)
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""


def launch_from_asset_graph(graphql_url: str, assets: list[str], run_config: dict[str, Any]) -> str:
    """What the UI's "Materialize selected" sends: a `launchRun` of the implicit asset job."""

    def graphql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(graphql_url, json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        return response.json()["data"]

    [repo] = graphql(LOCATION_QUERY)["repositoriesOrError"]["nodes"]
    selector = {
        "repositoryLocationName": repo["location"]["name"],
        "repositoryName": repo["name"],
        "jobName": ASSET_JOB,
        "assetSelection": [{"path": [asset]} for asset in assets],
    }
    launched = graphql(LAUNCH_RUN, {"params": {"selector": selector, "runConfigData": run_config}})[
        "launchRun"
    ]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return str(launched["run"]["runId"])


def step_windows(instance: dg.DagsterInstance, run_id: str, step_key: str) -> list[tuple[float, float]]:
    """(start, end) timestamps of each execution of `step_key` in the run, from its event log."""
    starts: list[float] = []
    ends: list[float] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key != step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts.append(entry.timestamp)
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ends.append(entry.timestamp)
    return list(zip(starts, ends, strict=True))


@pytest.mark.slow
def test_the_mes_pool_holds_runs_launched_from_the_asset_graph(clean_database: str, tmp_path: Path) -> None:
    seed_reference(clean_database)
    home = tmp_path / "dagster_home"
    log = tmp_path / "daemon.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with gated_sources() as sources:
        config_file = write_connector_config(tmp_path / "connectors.yml", sources.connector_sections())
        env = {
            "OEE_CONFIG_FILE": str(config_file),
            "OEE_DATABASE_URL": clean_database,
            "OEE_DATA_DIR": str(tmp_path / "data"),
            "OEE_LAKE_ROOT": str(tmp_path / "lake"),
        }
        with (
            dagster_webserver(home, env, project_limits_instance_yaml()) as graphql_url,
            dg.DagsterInstance.from_config(str(home)) as instance,
        ):
            # What `oee up` does on a new instance: each source-system pool gets its run limit.
            assert apply_pool_limits(instance)[MES] == RUN_LIMITS[MES] == 1
            mes_config = {**mes_sync_run_config(WINDOW["start"], WINDOW["end"]), **IN_PROCESS}
            run_ids = [launch_from_asset_graph(graphql_url, MES_ASSETS, mes_config) for _ in range(3)]
            try:
                processes["daemon"] = start_logged(
                    [venv_command("dagster-daemon"), "run", "-m", "oee_pipelines.definitions"],
                    {**os.environ, **env, "DAGSTER_HOME": str(home), "PWD": str(PROJECT_ROOT)},
                    log,
                )
                wait_until(
                    lambda: {run.status for run in instance.get_runs()} <= FINISHED,
                    240,
                    "the three asset-graph runs finishing",
                    [log],
                )
            finally:
                stop_processes(processes)
            runs = {run_id: instance.get_run_by_id(run_id) for run_id in run_ids}
            windows = [window for run_id in run_ids for window in step_windows(instance, run_id, "mes_sync")]

    assert {run.job_name for run in runs.values() if run} == {ASSET_JOB}
    assert {run.status for run in runs.values() if run} == {dg.DagsterRunStatus.SUCCESS}, log_tails([log])
    # No run tag holds them: the asset job carries none, so only the pool can.
    assert not any(SOURCE_SYSTEM_TAG in run.tags for run in runs.values() if run)
    assert len(windows) == 3
    # At most one MES step in progress at a time: each started after the one before it ended.
    for before, after in itertools.pairwise(sorted(windows)):
        assert before[1] <= after[0], sorted(windows)
    assert not sources.mes_gate.met  # no two MES requests were ever in flight at once
