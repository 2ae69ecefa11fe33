"""IoT sensor readings landed into the lake by UTC hour, from the ingesters' durable buffer.

The work is the IoT landing service's (`oee_pipelines/services/iot/`): closed buffer segments ->
mapped through the sensor registry -> the hour's lake file per source and its `iot_quarantine` rows.
A ranged backfill lands its hours in one run.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dagster as dg

from oee_pipelines.defs.metadata import column_schema, preview_markdown
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import hourly_partitions
from oee_pipelines.domain.progress import Progress, is_milestone
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.iot import IotLanding, LandingSummary, SensorRegistryMissingError

IOT_ASSET = "iot_sensor_batches"
HOUR = timedelta(hours=1)


@dg.asset(
    name=IOT_ASSET,
    group_name="iot",
    owners=owners_of("iot"),
    kinds={"parquet", "postgres"},
    metadata=column_schema("telemetry"),
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["iot_sensors"],
    pool="iot",
    description=(
        "MQTT and HTTP sensor readings of one UTC hour, from the ingesters' buffer to "
        "telemetry/source=<mqtt|http>/date=YYYY-MM-DD/hour=HH.parquet; refused readings to iot_quarantine."
    ),
)
def iot_sensor_batches(
    context: dg.AssetExecutionContext,
    iot: IoTBufferResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    window = context.partition_time_window
    hours = [window.start + HOUR * index for index in range(int((window.end - window.start) / HOUR))]
    landing = IotLanding(lake.lake(), warehouse.url(), iot.org_id)
    try:
        summary = landing.land(iot.path, hours, context.run.run_id, progress=_log_progress(context))
    except SensorRegistryMissingError as error:
        raise dg.Failure(str(error)) from None
    context.log.info(
        f"{summary.readings} readings landed for {summary.hours} hours, {summary.duplicates_removed} "
        f"duplicates removed, {summary.quarantined} quarantined"
    )
    return dg.MaterializeResult(metadata=landing_metadata(summary))


def _log_progress(context: dg.AssetExecutionContext) -> Callable[[Progress], None]:
    """Logs hours landed / total at INFO (the Dagster UI's event log), about ten lines per run."""

    def log(progress: Progress) -> None:
        if progress.total is None or is_milestone(progress.done, progress.total):
            context.log.info(progress.message())

    return log


def landing_metadata(summary: LandingSummary) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": summary.readings,
        **column_schema("telemetry"),
        "readings_landed": summary.readings,
        "duplicates_removed": summary.duplicates_removed,
        "messages_read": summary.messages,
        "hours": summary.hours,
        "quarantined": summary.quarantined,
        "quarantined_by_reason": dg.MetadataValue.json(dict(summary.quarantined_by_reason)),
        "sensors_seen": len(summary.sensors),
        "preview": preview_markdown(
            summary.preview if summary.preview is not None else TELEMETRY_SCHEMA.empty_table()
        ),
    }
    if summary.first_ts and summary.last_ts:
        metadata["first_timestamp"] = dg.MetadataValue.timestamp(summary.first_ts)
        metadata["last_timestamp"] = dg.MetadataValue.timestamp(summary.last_ts)
    return metadata
