"""A source system down for a whole run: retries, then a failed partition with the reason; other days fine.

The project's own `historian_points` asset, against the simulated PI Web API on loopback, one run per
UTC day as the daily schedule launches them. During the middle day's run the PI server answers every
request with HTTP 500 (its `FaultSwitches`): the connector retries each request, the step retries
(its `RetryPolicy`), then the partition fails naming PI, the call and the status. The days before and
after land in full; the failed day leaves nothing in the lake. The run-failure sensor's alert for
that run is shown as it would be posted.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.defs.monitoring.sensors import failure_alert, run_failure_alert
from oee_pipelines.resources.historian import HistorianResource, HistorianServerConfig
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import HistorianLogin, PointSource
from oee_pipelines.simulator.servers.runtime import FaultSwitches, ServerThread
from oee_pipelines.storage.migrations import migrate
from reliability.common import (
    QUIET_LOGGERS,
    ScenarioResult,
    load_plant_reference,
    scratch_folder,
    scratch_postgres,
)

FIRST_DAY = date(2025, 1, 13)
DOWN_DAY = FIRST_DAY + timedelta(days=1)
PI_MACHINE = "MACHINE-001"
CONNECTOR_ATTEMPTS = 3


def historian_resource(pi_url: str, aveva_url: str) -> HistorianResource:
    login = HistorianLogin()
    credentials: dict[str, Any] = {"username": login.username, "password": login.password}
    return HistorianResource(
        pi=HistorianServerConfig(base_url=f"{pi_url}/piwebapi", data_server="PISRV01", **credentials),
        aveva=HistorianServerConfig(base_url=aveva_url, **credentials),
        retry_attempts=CONNECTOR_ATTEMPTS,
        backoff_initial_seconds=0.2,
        backoff_max_seconds=1.0,
        timeout_seconds=20,
    )


def run(short: bool) -> ScenarioResult:
    days = [FIRST_DAY + timedelta(days=offset) for offset in range(3)]
    plant = SimulatedPlant(load_plant_description(), seed=42)
    pi = PiWebApiSimulator(PointSource.from_plant(plant, "pi"), switches=FaultSwitches())
    aveva = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"))
    runs: dict[date, dg.ExecuteInProcessResult] = {}
    requests_while_down = 0
    with (
        scratch_folder("lake") as lake_dir,
        scratch_postgres() as scratch,
        ServerThread(pi.app) as pi_server,
        ServerThread(aveva.app) as aveva_server,
        dg.instance_for_test() as instance,
    ):
        migrate(scratch.url)
        warehouse = WarehouseResource(database_url=scratch.url)
        mappings = plant.historian_tag_mappings()
        pi_mappings = mappings[mappings["machine_id"] == PI_MACHINE]
        load_plant_reference(
            warehouse,
            plant,
            [("historian_tag_mappings", pi_mappings, ["org_id", "historian_system", "historian_tag"])],
        )
        resources = {
            "historian": historian_resource(pi_server.base_url, aveva_server.base_url),
            "warehouse": warehouse,
            "lake": LakeResource(root=str(lake_dir)),
        }
        for day in days:
            down = day == DOWN_DAY
            seen_before = pi.switches.requests_seen
            pi.switches.fail_next = 1_000_000 if down else 0
            runs[day] = dg.materialize(
                [historian_points], partition_key=day.isoformat(), resources=resources, instance=instance,
                run_config=dg.RunConfig(loggers=QUIET_LOGGERS),
                raise_on_error=False,
            )  # fmt: skip
            if down:
                requests_while_down = pi.switches.requests_seen - seen_before
        pi.switches.reset()
        failed_run = runs[DOWN_DAY]
        alert_context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert.name,
            dagster_instance=instance,
            dagster_run=failed_run.dagster_run,
            dagster_event=failed_run.get_run_failure_event(),
        ).for_run_failure()
        alert = failure_alert(alert_context)
        materialized = instance.get_materialized_partitions(historian_points.key)
        retries = [e for e in failed_run.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        lake_days = {day: _lake_rows(lake_dir, day) for day in days}
    result = ScenarioResult("Source system (PI Web API) down for a whole run")
    result.figures = {
        "runs": ", ".join(f"{day}: {'SUCCESS' if runs[day].success else 'FAILURE'}" for day in days),
        "PI requests during the down run": f"{requests_while_down} (all answered HTTP 500)",
        "step attempts of the down run": len(retries) + 1,
        "alert": alert["text"][:300],
        "materialized partitions": ", ".join(sorted(materialized)),
        "lake rows by day": ", ".join(f"{day}: {rows:,}" for day, rows in lake_days.items()),
    }
    for day in days:
        healthy = day != DOWN_DAY
        if runs[day].success != healthy:
            result.lost.append(f"{day}: run {'failed' if healthy else 'succeeded'} unexpectedly")
        if healthy and (day.isoformat() not in materialized or lake_days[day] == 0):
            result.lost.append(f"{day}: not landed")
    if lake_days[DOWN_DAY] or DOWN_DAY.isoformat() in materialized:
        result.lost.append(f"{DOWN_DAY}: partial data landed while PI was down")
    if "pi" not in alert["text"].lower() or "500" not in alert["text"]:
        result.lost.append("the failure does not name the system and the status")
    return result


def _lake_rows(lake_dir: Path, day: date) -> int:
    files = list(lake_dir.glob(f"telemetry/source=pi/date={day.isoformat()}/*.parquet"))
    return sum(pa.parquet.read_metadata(path).num_rows for path in files)
