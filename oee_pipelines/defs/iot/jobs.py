"""The hourly IoT landing job the buffer sensor launches (one run per hour, or a ranged backfill)."""

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.defs.iot.assets import IOT_ASSET

IOT_LANDING_JOB = "iot_landing_job"

iot_landing_job = dg.define_asset_job(
    IOT_LANDING_JOB,
    selection=dg.AssetSelection.assets(IOT_ASSET),
    description="Land buffered MQTT/HTTP sensor readings of UTC hours into the lake.",
    # One step (it walks the range's hours itself): a step process would add start-up, no parallelism.
    executor_def=LIGHT_JOB_EXECUTOR,
)
