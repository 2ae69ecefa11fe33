"""The schedules do what they claim.

- A real `dagster-daemon` (temp DAGSTER_HOME, default run coordinator) ticks the MES sync schedule,
  here every minute (`mes.sync.schedule_sync_interval_minutes: 1` in the test's connector file), and
  the run it launches syncs the simulated MES (loopback, free ports) into the warehouse.
- The hourly refresh, the 02:00 finalize, the 02:35 deadline check and the MES schedule, as the
  project's definitions register them, evaluated at given instants: the run requests (job, partition,
  run key) they produce.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from oee_pipelines.cli.up import stop_processes
from oee_pipelines.config.connectors import load_connector_config
from oee_pipelines.defs.mes.schedules import SCHEDULED_SYNC_JOB, SYNC_SCHEDULE, build_sync_schedule
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_api import connector_sections
from oee_pipelines_tests.support.mes_samples import MATERIALS, RECIPE, schedule, work_order
from oee_pipelines_tests.support.mes_sources import RunningSources, rows, running_sources, seed_reference
from oee_pipelines_tests.support.processes import log_tails, start_logged, venv_command, wait_until
from oee_pipelines_tests.support.webserver import INSTANCE_YAML, write_connector_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The daemon loading the definitions, then the next whole minute: the tick launches its run.
TICK_SECONDS = 150
# The run worker and its step process each load the definitions again: slow on a busy machine.
RUN_SECONDS = 150
SYNC_EVERY_MINUTE = {"schedule_sync_interval_minutes": 1, "bidirectional_updates": False}


def orders_around(now: datetime) -> SourceData:
    """Three schedules and their orders starting in the next hours, inside the default window."""
    base = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    times = {
        n: {"planned_start": base + timedelta(hours=2 * n), "planned_end": base + timedelta(hours=2 * n + 2)}
        for n in range(1, 4)
    }
    return SourceData.from_records(
        schedules=[schedule(n, **times[n]) for n in times],
        work_orders=[work_order(n, **times[n]) for n in times],
        recipes=[RECIPE],
        materials=MATERIALS,
    )


@pytest.fixture
def sources() -> Iterator[RunningSources]:
    with running_sources(orders_around(datetime.now(UTC))) as running:
        yield running


def mes_only(sources: RunningSources) -> dict[str, object]:
    return {"mes": {**connector_sections(sources)["mes"], "sync": SYNC_EVERY_MINUTE}}


def sync_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/schedule_name": SYNC_SCHEDULE})))


@pytest.mark.slow
def test_the_daemon_ticks_the_mes_sync_schedule_and_its_run_syncs(
    sources: RunningSources, clean_database: str, tmp_path: Path
) -> None:
    seed_reference(clean_database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    config_file = write_connector_config(tmp_path / "connectors.yml", mes_only(sources))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OEE_CONFIG_FILE": str(config_file),
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
    }
    log = tmp_path / "daemon.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            # The schedule is RUNNING by default once the configuration syncs something: no start needed.
            processes["daemon"] = start_logged(
                [venv_command("dagster-daemon"), "run", "-m", "oee_pipelines.definitions"],
                {**env, "PWD": str(PROJECT_ROOT)},
                log,
            )
            wait_until(lambda: bool(sync_runs(instance)), TICK_SECONDS, "the MES schedule ticking", [log])
            wait_until(
                lambda: any(run.status == dg.DagsterRunStatus.SUCCESS for run in sync_runs(instance)),
                RUN_SECONDS,
                "the scheduled MES sync run succeeding",
                [log],
            )
        finally:
            stop_processes(processes)

        run = next(run for run in sync_runs(instance) if run.status == dg.DagsterRunStatus.SUCCESS)
        assert run.job_name == SCHEDULED_SYNC_JOB  # MES only, no push-back (bidirectional_updates: false)
        (state,) = [s for s in instance.all_instigator_state() if s.name == SYNC_SCHEDULE]
        assert state.status.name == "DECLARED_IN_CODE"  # running by default, never started by hand
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        launched = [tick for tick in ticks if tick.status.name == "SUCCESS"]
        assert launched, [tick.status for tick in ticks]
        assert run.run_id in {run_id for tick in launched for run_id in tick.run_ids}
        # Ticks fall on whole minutes (`* * * * *`).
        assert {datetime.fromtimestamp(tick.timestamp, UTC).second for tick in launched} == {0}

    assert sorted(rows(clean_database, "SELECT external_id FROM production_schedules")) == [
        ("SCH-001",),
        ("SCH-002",),
        ("SCH-003",),
    ], log_tails([log])
    audit = rows(
        clean_database,
        "SELECT DISTINCT entity, sync_status FROM mes_schedule_sync WHERE dagster_run_id = %s ORDER BY 1",
        (run.run_id,),
    )
    assert audit and {status for _, status in audit} == {"SUCCESS"}, audit


# --- the run requests of the hourly, 02:00, 02:35 and MES schedules --------------------------------


@functools.cache
def repository() -> dg.RepositoryDefinition:
    from oee_pipelines.definitions import defs

    return defs().get_repository_def()


def registered(name: str) -> dg.ScheduleDefinition:
    return repository().get_schedule_def(name)


def evaluate(schedule_def: dg.ScheduleDefinition, at: datetime) -> list[dg.RunRequest]:
    """The tick's run requests as the daemon submits them: partition and schedule tags resolved."""
    with dg.build_schedule_context(scheduled_execution_time=at, repository_def=repository()) as context:
        result = schedule_def.evaluate_tick(context)
    assert result.skip_message is None, result.skip_message
    return list(result.run_requests or [])


def test_the_hourly_schedule_refreshes_today_at_a_quarter_past() -> None:
    hourly = registered("refresh_today_hourly")
    assert (hourly.cron_schedule, hourly.execution_timezone, hourly.job_name) == (
        "15 * * * *",
        "UTC",
        "publish_day_job",
    )
    ticks = [datetime(2025, 3, 30, hour, 15, tzinfo=UTC) for hour in (0, 1, 23)]
    requests = [request for at in ticks for request in evaluate(hourly, at)]
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2025-03-30", "publish-refresh-2025-03-30T00:15"),
        ("2025-03-30", "publish-refresh-2025-03-30T01:15"),
        ("2025-03-30", "publish-refresh-2025-03-30T23:15"),
    ]
    assert {r.job_name for r in requests} <= {None, "publish_day_job"}  # the schedule's own job
    assert requests[0].tags["dagster/partition"] == "2025-03-30"
    assert requests[0].tags["dagster/schedule_name"] == "refresh_today_hourly"


def test_the_0200_schedule_finalizes_yesterday_once_a_day() -> None:
    daily = registered("publish_yesterday_daily")
    assert (daily.cron_schedule, daily.execution_timezone, daily.job_name) == (
        "0 2 * * *",
        "UTC",
        "publish_day_job",
    )
    (request,) = evaluate(daily, datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    assert (request.partition_key, request.run_key) == ("2025-02-28", "publish-final-2025-02-28")
    assert request.tags["dagster/partition"] == "2025-02-28"
    assert request.tags["dagster/schedule_name"] == "publish_yesterday_daily"
    # The same tick evaluated twice asks for the same run (the daemon dedupes on the run key).
    (again,) = evaluate(daily, datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    assert again.run_key == request.run_key


def test_the_deadline_check_runs_at_0235_after_the_0230_deadline() -> None:
    check = registered("publish_deadline_checks")
    assert (check.cron_schedule, check.job_name) == ("35 2 * * *", "publish_deadline_checks_job")
    assert check.default_status == dg.DefaultScheduleStatus.RUNNING
    (request,) = evaluate(check, datetime(2025, 3, 1, 2, 35, tzinfo=UTC))
    assert request.partition_key is None


def test_the_mes_schedule_follows_the_configured_interval(tmp_path: Path) -> None:
    mes = {
        "system_type": "custom_rest",
        "base_url": "http://127.0.0.1:9",
        "auth_type": "oauth2",
        "credentials": {"client_id": "oee", "client_secret": "secret"},
    }
    for interval, cron in [(1, "* * * * *"), (15, "*/15 * * * *"), (120, "0 */2 * * *")]:
        config_file = write_connector_config(
            tmp_path / f"every-{interval}.yml",
            {"mes": {**mes, "sync": {"schedule_sync_interval_minutes": interval}}},
        )
        _, sources = load_connector_config(config_file, None, {})
        sync = build_sync_schedule(sources)
        assert (sync.name, sync.cron_schedule, sync.execution_timezone) == (SYNC_SCHEDULE, cron, "UTC")
        assert sync.default_status == dg.DefaultScheduleStatus.RUNNING
        (request,) = evaluate(sync, datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
        assert request.run_config == {}  # the assets' default window: now-1 day .. now+7 days
    # MES only and push-back on: the scheduled job syncs the MES group with the push-back.
    assert sync.job_name == SCHEDULED_SYNC_JOB
