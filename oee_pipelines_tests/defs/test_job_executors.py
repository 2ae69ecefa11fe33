"""Each job runs its steps where it was chosen to (issue 19 item 7, benchmarks/bench_dagster_overhead.py):
light jobs in the run's own process, the heavy jobs whose steps run side by side on the code
location's executor (OEE_EXECUTOR: multiprocess by default, Celery in a deployment)."""

from __future__ import annotations

import dagster as dg
import pytest

from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.defs import executor as executor_defs

# One step, or a few short steps that depend on one another: a step process would cost more than the
# step (re-importing the project and rebuilding the definitions).
LIGHT_JOBS = {
    "erp_materials_sync_job",
    "historian_backfill_job",
    "import_file_job",
    "iot_landing_job",
    "mes_erp_sync_job",
    "mes_order_status_job",
    "mes_recipe_download_job",
    "mes_schedule_sync_job",
    # 16 independent steps, but each writes one table's files in a quarter second (3 demo days).
    "published_files_job",
    "reference_data_job",
}
# Long steps of which some can run side by side.
HEAVY_JOBS = {"oee_daily_job", "publish_day_job"}
LIGHT = executor_defs.LIGHT_JOB_EXECUTOR.name


def executors_by_job() -> dict[str, str]:
    return {job.name: job.executor_def.name for job in load_definitions().resolve_all_job_defs()}


def test_light_jobs_run_in_process_and_heavy_jobs_on_the_default_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(executor_defs.EXECUTOR_ENV, raising=False)
    executors = executors_by_job()
    assert {job: executors[job] for job in LIGHT_JOBS} == dict.fromkeys(LIGHT_JOBS, LIGHT)
    default = dg.multi_or_in_process_executor.name
    assert {job: executors[job] for job in HEAVY_JOBS} == dict.fromkeys(HEAVY_JOBS, default)


def test_with_celery_the_heavy_jobs_go_to_the_workers_and_light_jobs_stay_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(executor_defs.EXECUTOR_ENV, "celery")
    monkeypatch.setenv(executor_defs.BROKER_URL_ENV, "redis://broker.invalid:6379/0")
    executors = executors_by_job()
    assert {job: executors[job] for job in HEAVY_JOBS} == dict.fromkeys(HEAVY_JOBS, "celery")
    assert {job: executors[job] for job in LIGHT_JOBS} == dict.fromkeys(LIGHT_JOBS, LIGHT)


def test_with_k8s_each_heavy_step_and_each_asset_graph_step_is_a_kubernetes_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(executor_defs.EXECUTOR_ENV, "k8s")
    definitions = load_definitions()
    executors = {job.name: job.executor_def.name for job in definitions.resolve_all_job_defs()}
    assert {job: executors[job] for job in HEAVY_JOBS} == dict.fromkeys(HEAVY_JOBS, "k8s")
    assert {job: executors[job] for job in LIGHT_JOBS} == dict.fromkeys(LIGHT_JOBS, LIGHT)
    # The implicit asset job (the asset graph's "Materialize" and its backfills) takes it too.
    assert definitions.resolve_implicit_global_asset_job_def().executor_def.name == "k8s"


@dg.asset
def reading() -> None:
    return None


@dg.asset(deps=[reading])
def report() -> None:
    return None


def light_job() -> dg.JobDefinition:
    """A two-step job on the light jobs' executor, as a launched run loads it (by reference)."""
    job = dg.define_asset_job("light_job", executor_def=executor_defs.LIGHT_JOB_EXECUTOR)
    return dg.Definitions(assets=[reading, report], jobs=[job]).resolve_job_def("light_job")


def engine_messages(run_config: dict) -> list[str]:
    job = dg.reconstructable(light_job)
    with dg.instance_for_test() as instance, dg.execute_job(job, instance, run_config=run_config) as result:
        assert result.success
        return [event.message or "" for event in result.all_events if event.is_engine_event]


def test_a_light_jobs_launched_run_executes_its_steps_in_the_run_process_unless_told_otherwise() -> None:
    assert any(message.startswith("Executing steps in process") for message in engine_messages({}))
    # The usual switch still applies, both ways (docs/onboarding.md's one-process runs name it).
    one_process = {"execution": {"config": {"in_process": {}}}}
    assert any(message.startswith("Executing steps in process") for message in engine_messages(one_process))
    processes = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    assert any("multiprocess executor" in message for message in engine_messages(processes))
