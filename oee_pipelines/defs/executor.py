"""Where the steps of every asset job and backfill run execute, chosen by OEE_EXECUTOR.

- unset / `multiprocess`: Dagster's default, one process per step beside the run (a laptop, one VM).
- `celery`: each step is a task on the Celery broker at OEE_CELERY_BROKER_URL (results on
  OEE_CELERY_BACKEND_URL, default the broker), run by `dagster-celery worker start` processes on any
  machine that shares the Dagster instance (PostgreSQL) and the lake. Needs the `celery` extra.
- `k8s`: each step is a Kubernetes Job of its own (`dagster_k8s.k8s_job_executor`), with the image, the
  namespace and the env of the instance's `K8sRunLauncher` (deploy/values.yaml). Needs the `k8s`
  extra (docs/deploy.md "Distributed execution").

The URLs are bound as `{"env": NAME}`, so the run config and the UI show the variable, never a password.

That choice applies to the heavy jobs, whose steps are long and can run side by side (the OEE chain,
alone or with the published files in `publish_day_job`) and to backfills launched from the asset
graph. A light job (one step, a few steps of seconds each that depend on one another, or short steps
such as `published_files_job`'s) passes `executor_def=LIGHT_JOB_EXECUTOR`: its steps
run in the run's own process (itself a process of its own, or a pod on Kubernetes). A step process
re-imports the project and rebuilds the definitions before its step starts (2.9 s of CPU, 12.8 s of
wall on the shared 2-core test machine), more than a light job's steps' own code
(benchmarks/bench_dagster_overhead.py).
"""

import os

import dagster as dg

EXECUTOR_ENV = "OEE_EXECUTOR"
CELERY = "celery"
K8S = "k8s"
MULTIPROCESS = "multiprocess"
BROKER_URL_ENV = "OEE_CELERY_BROKER_URL"
BACKEND_URL_ENV = "OEE_CELERY_BACKEND_URL"

# A light job's steps run one after another in the run's process, whatever OEE_EXECUTOR says: Dagster's
# default executor with `in_process` as its default, so a run config naming `execution: config:
# in_process` or `multiprocess` (docs/onboarding.md, the tests' one-process runs) still applies.
LIGHT_JOB_EXECUTOR = dg.multi_or_in_process_executor.configured(
    lambda config: config,
    name="in_process_or_multiprocess",
    config_schema=dg.Field(
        dg.multi_or_in_process_executor.config_schema.config_type, default_value={"in_process": {}}
    ),
)


def celery_executor_config() -> dict[str, object]:
    """The `celery_executor` config: broker and result backend from the environment by name."""
    if not os.environ.get(BROKER_URL_ENV):
        raise ValueError(f"{EXECUTOR_ENV}=celery needs {BROKER_URL_ENV} (e.g. redis://broker:6379/0)")
    backend_env = BACKEND_URL_ENV if os.environ.get(BACKEND_URL_ENV) else BROKER_URL_ENV
    return {"broker": {"env": BROKER_URL_ENV}, "backend": {"env": backend_env}}


@dg.definitions
def executor() -> dg.Definitions:
    choice = os.environ.get(EXECUTOR_ENV, "").strip().lower() or MULTIPROCESS
    if choice == MULTIPROCESS:
        return dg.Definitions()
    if choice not in (CELERY, K8S):
        raise ValueError(f"{EXECUTOR_ENV}: must be {MULTIPROCESS!r}, {CELERY!r} or {K8S!r}, got {choice!r}")
    try:
        if choice == CELERY:
            from dagster_celery import celery_executor

            return dg.Definitions(executor=celery_executor.configured(celery_executor_config()))
        from dagster_k8s import k8s_job_executor

        return dg.Definitions(executor=k8s_job_executor)
    except ImportError:
        raise ValueError(
            f"{EXECUTOR_ENV}={choice} needs the {choice} extra: pip install 'oee_pipelines[{choice}]'"
        ) from None
