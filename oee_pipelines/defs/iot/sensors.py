"""The buffer sensor: launches the hourly landing of every hour whose buffer segments are complete.

An hour is requested once its segments are all closed, and again whenever late readings arrive for
an hour already landed. The run key carries the hour's landing generation (how many closed segments
hold its readings), so a late re-landing is a new run while repeated ticks over the same buffer state
request nothing twice. The JSON cursor keeps, per hour still waiting to land, the generation last
requested; hours drop out of it once landed.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from oee_pipelines.connectors.iot.landing import HourStatus
from oee_pipelines.defs.iot.assets import IOT_ASSET
from oee_pipelines.defs.iot.jobs import iot_landing_job
from oee_pipelines.defs.partitions import hourly_partitions
from oee_pipelines.resources.iot import IoTBufferResource

# A backlog (an ingester that ran while Dagster was down) is requested over several ticks.
MAX_RUNS_PER_TICK = 24
GENERATION_TAG = "oee/iot_landing_generation"


@dataclass(frozen=True)
class LandingPlan:
    run_requests: list[dg.RunRequest]
    requested: dict[str, int]  # partition key -> generation requested, for hours still to land
    outside_partitions: list[str]  # hours before the partitions' start (a device clock far off)


def plan_landing_runs(status: HourStatus, requested: Mapping[str, int]) -> LandingPlan:
    """Run requests for the hours to land whose current generation was not requested yet."""
    still_requested: dict[str, int] = {}
    run_requests: list[dg.RunRequest] = []
    outside: list[str] = []
    for hour in status.to_land:
        key = hour.strftime(hourly_partitions.fmt)
        generation = status.segment_counts.get(hour, 0)
        if requested.get(key) != generation:
            if len(run_requests) >= MAX_RUNS_PER_TICK:
                continue
            if hour < hourly_partitions.start:
                outside.append(key)
            else:
                run_requests.append(landing_request(key, generation))
        still_requested[key] = generation
    return LandingPlan(run_requests, still_requested, outside)


def landing_request(partition_key: str, generation: int) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{IOT_ASSET}:{partition_key}:generation-{generation}",
        partition_key=partition_key,
        tags={GENERATION_TAG: str(generation)},
    )


@dg.sensor(
    name="iot_buffer_sensor",
    job=iot_landing_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lands each UTC hour of the IoT buffer once its segments are closed, and again on late data.",
)
def iot_buffer_sensor(context: dg.SensorEvaluationContext, iot: IoTBufferResource) -> dg.SensorResult:
    requested = json.loads(context.cursor)["requested"] if context.cursor else {}
    plan = plan_landing_runs(iot.status(), requested)
    if plan.outside_partitions:
        context.log.warning(f"readings before the partitions' start, not landed: {plan.outside_partitions}")
    return dg.SensorResult(
        run_requests=plan.run_requests, cursor=json.dumps({"requested": plan.requested}, sort_keys=True)
    )
