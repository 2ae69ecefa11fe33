"""The backfill layout and the executor choice behind distributed execution (issue 16, item 3).

The end-to-end proof on two Celery workers is `oee_pipelines_tests/deploy/test_celery_workers.py`.
"""

from __future__ import annotations

import dagster as dg
import pytest

from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.defs import executor as executor_defs
from oee_pipelines.defs.oee.jobs import OEE_CHAIN
from oee_pipelines.defs.partitions import (
    BACKFILL_DAYS_PER_RUN_ENV,
    DEFAULT_BACKFILL_DAYS_PER_RUN,
    backfill_days_per_run,
)


def test_every_daily_asset_of_the_historian_and_oee_chain_backfills_a_week_per_run() -> None:
    assets = load_definitions().get_repository_def().assets_defs_by_key
    policies = {key: assets[dg.AssetKey(key)].backfill_policy for key in ("historian_points", *OEE_CHAIN)}
    expected = dg.BackfillPolicy.multi_run(max_partitions_per_run=DEFAULT_BACKFILL_DAYS_PER_RUN)
    # One policy for the whole chain: a backfill runs the chain's assets together, chunk by chunk.
    assert set(policies.values()) == {expected}, policies


@pytest.mark.parametrize(("text", "days"), [("", 7), ("1", 1), (" 30 ", 30)])
def test_days_per_run_come_from_the_environment(text: str, days: int) -> None:
    assert backfill_days_per_run({BACKFILL_DAYS_PER_RUN_ENV: text}) == days


@pytest.mark.parametrize("text", ["0", "-3", "seven", "2.5"])
def test_a_bad_days_per_run_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"{BACKFILL_DAYS_PER_RUN_ENV}: .*{text!r}"):
        backfill_days_per_run({BACKFILL_DAYS_PER_RUN_ENV: text})


def test_the_default_executor_is_left_to_dagster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(executor_defs.EXECUTOR_ENV, raising=False)
    assert executor_defs.executor().executor is None
    monkeypatch.setenv(executor_defs.EXECUTOR_ENV, "multiprocess")
    assert executor_defs.executor().executor is None


def test_celery_sends_steps_to_the_broker_named_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(executor_defs.EXECUTOR_ENV, "celery")
    monkeypatch.setenv(executor_defs.BROKER_URL_ENV, "redis://broker.invalid:6379/0")
    monkeypatch.delenv(executor_defs.BACKEND_URL_ENV, raising=False)
    chosen = executor_defs.executor().executor
    assert isinstance(chosen, dg.ExecutorDefinition) and chosen.name == "celery"
    # The URL is bound by the variable's name, so run configs and the UI never show it.
    assert executor_defs.celery_executor_config() == {
        "broker": {"env": executor_defs.BROKER_URL_ENV},
        "backend": {"env": executor_defs.BROKER_URL_ENV},
    }


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"OEE_EXECUTOR": "dask"}, "OEE_EXECUTOR: must be 'multiprocess', 'celery' or 'k8s', got 'dask'"),
        ({"OEE_EXECUTOR": "celery"}, "OEE_EXECUTOR=celery needs OEE_CELERY_BROKER_URL"),
    ],
)
def test_a_bad_executor_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    monkeypatch.delenv(executor_defs.BROKER_URL_ENV, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        executor_defs.executor()
