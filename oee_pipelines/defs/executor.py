"""Where the steps of every asset job and backfill run execute, chosen by OEE_EXECUTOR.

- unset / `multiprocess`: Dagster's default, one process per step beside the run (a laptop, one VM).
- `celery`: each step is a task on the Celery broker at OEE_CELERY_BROKER_URL (results on
  OEE_CELERY_BACKEND_URL, default the broker), run by `dagster-celery worker start` processes on any
  machine that shares the Dagster instance (PostgreSQL) and the lake. Needs the `celery` extra.

Kubernetes uses the same seam with `dagster_k8s.k8s_job_executor` (docs/deploy.md "Distributed execution").
The URLs are bound as `{"env": NAME}`, so the run config and the UI show the variable, never a password.
"""

import os

import dagster as dg

EXECUTOR_ENV = "OEE_EXECUTOR"
CELERY = "celery"
MULTIPROCESS = "multiprocess"
BROKER_URL_ENV = "OEE_CELERY_BROKER_URL"
BACKEND_URL_ENV = "OEE_CELERY_BACKEND_URL"


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
    if choice != CELERY:
        raise ValueError(f"{EXECUTOR_ENV}: must be {MULTIPROCESS!r} or {CELERY!r}, got {choice!r}")
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ValueError(
            f"{EXECUTOR_ENV}=celery needs the celery extra: pip install 'oee_pipelines[celery]'"
        ) from None
    return dg.Definitions(executor=celery_executor.configured(celery_executor_config()))
