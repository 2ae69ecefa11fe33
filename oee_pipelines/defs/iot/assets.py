"""IoT sensor readings landed into the lake by UTC hour, from the ingesters' durable buffer.

Each hour becomes `telemetry/source=<mqtt|http>/date=YYYY-MM-DD/hour=HH.parquet` (written atomically,
replaced on a re-run), deduplicated on (sensor, signal, timestamp, value); what the mapping refused
goes to `iot_quarantine`, replaced per hour. A ranged backfill lands its hours in one run.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from oee_pipelines.connectors.iot.landing import LandingStats
from oee_pipelines.defs.metadata import preview_markdown, table_schema
from oee_pipelines.defs.partitions import hourly_partitions
from oee_pipelines.domain.iot_mapping import QUARANTINE_COLUMNS
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.storage.lake import Lake

IOT_ASSET = "iot_sensor_batches"
LAKE_SOURCES = ("mqtt", "http")
QUARANTINE_TABLE = "iot_quarantine"
HOUR = timedelta(hours=1)
_TEXT_COLUMNS = [name for name in QUARANTINE_COLUMNS if name not in ("ts", "receive_time")]
QUARANTINE_SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("hour_start", pa.timestamp("us", tz="UTC")),
        *[(name, pa.string()) for name in _TEXT_COLUMNS],
        ("ts", pa.timestamp("us", tz="UTC")),
        ("receive_time", pa.timestamp("us", tz="UTC")),
        ("dagster_run_id", pa.string()),
    ]
)


class SensorRegistryMissingError(dg.Failure):
    """Without the registry every reading would be quarantined as an unknown sensor."""


@dataclass
class LandingSummary:
    """The figures of the hours one run landed, for the materialization's metadata."""

    hours: int = 0
    readings: int = 0
    duplicates_removed: int = 0
    messages: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    sensors: set[tuple[str, str, str]] = field(default_factory=set)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    preview: pa.Table | None = None

    def add(self, telemetry: pa.Table, quarantine: pd.DataFrame, stats: LandingStats) -> None:
        self.hours += 1
        self.readings += telemetry.num_rows
        self.duplicates_removed += stats.duplicates_removed
        self.messages += stats.messages
        # The intake's reasons carry the parser's detail after a colon; group by what precedes it.
        self.quarantined_by_reason.update(quarantine["reason"].astype(str).str.split(":").str[0])
        if not telemetry.num_rows:
            return
        series = telemetry.select(["machine_id", "signal", "source_ref"]).group_by(
            ["machine_id", "signal", "source_ref"]
        )
        self.sensors.update(tuple(row.values()) for row in series.aggregate([]).to_pylist())
        self.first_ts = min(filter(None, [self.first_ts, pc.min(telemetry["ts"]).as_py()]))
        self.last_ts = max(filter(None, [self.last_ts, pc.max(telemetry["ts"]).as_py()]))
        self.preview = self.preview or telemetry.slice(0, 10)

    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "dagster/row_count": self.readings,
            "dagster/column_schema": table_schema(TELEMETRY_SCHEMA),
            "readings_landed": self.readings,
            "duplicates_removed": self.duplicates_removed,
            "messages_read": self.messages,
            "hours": self.hours,
            "quarantined": sum(self.quarantined_by_reason.values()),
            "quarantined_by_reason": dg.MetadataValue.json(dict(self.quarantined_by_reason)),
            "sensors_seen": len(self.sensors),
            "preview": preview_markdown(
                self.preview if self.preview is not None else TELEMETRY_SCHEMA.empty_table()
            ),
        }
        if self.first_ts and self.last_ts:
            metadata["first_timestamp"] = dg.MetadataValue.timestamp(self.first_ts)
            metadata["last_timestamp"] = dg.MetadataValue.timestamp(self.last_ts)
        return metadata


@dg.asset(
    name=IOT_ASSET,
    group_name="iot",
    kinds={"parquet", "postgres"},
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
    sensors = read_sensor_registry(warehouse)
    window = context.partition_time_window
    hours = [window.start + HOUR * index for index in range(int((window.end - window.start) / HOUR))]
    writer = HourWriter(lake.lake(), warehouse, sensors, iot.org_id, context.run_id)
    iot.land(hours, sensors, context.run_id, writer.write)
    summary = writer.summary
    context.log.info(
        f"{summary.readings} readings landed for {summary.hours} hours, {summary.duplicates_removed} "
        f"duplicates removed, {sum(summary.quarantined_by_reason.values())} quarantined"
    )
    return dg.MaterializeResult(metadata=summary.metadata())


def read_sensor_registry(warehouse: WarehouseResource) -> pd.DataFrame:
    sensors = warehouse.query_frame("SELECT * FROM iot_sensors")
    if sensors.empty:
        raise SensorRegistryMissingError(
            "iot_sensors is empty: materialize the reference data (reference_data_job) "
            "before landing IoT hours"
        )
    return sensors


@dataclass
class HourWriter:
    """Writes each landed hour (a lake file per source system, the hour's quarantine rows) and sums it up."""

    lake: Lake
    warehouse: WarehouseResource
    sensors: pd.DataFrame
    default_org_id: str
    run_id: str
    summary: LandingSummary = field(default_factory=LandingSummary)

    def write(self, telemetry: pa.Table, quarantine: pd.DataFrame, stats: LandingStats) -> None:
        hour = stats.hour_start
        for source in LAKE_SOURCES:
            rows = telemetry.filter(pc.equal(telemetry["source_system"], source))
            write_hour_file(self.lake, hour_file(source, hour), rows)
        self.warehouse.replace_rows(
            QUARANTINE_TABLE,
            quarantine_table(quarantine, hour, self.sensors, self.default_org_id, self.run_id),
            sql.SQL("hour_start = %s"),
            [hour],
        )
        self.summary.add(telemetry, quarantine, stats)


def hour_file(source_system: str, hour: datetime) -> str:
    return f"telemetry/source={source_system}/{Lake.date_folder(hour.date())}/hour={hour:%H}.parquet"


def write_hour_file(lake: Lake, relative_path: str, rows: pa.Table) -> None:
    """Write the hour's rows; an hour left without rows of this source loses its stale file."""
    if rows.num_rows:
        lake.write_file(relative_path, rows)
    elif lake.fs.exists(lake.path(relative_path)):
        lake.fs.rm(lake.path(relative_path))


def quarantine_table(
    quarantine: pd.DataFrame, hour: datetime, sensors: pd.DataFrame, default_org_id: str, run_id: str
) -> pa.Table:
    """The hour's quarantine rows for `iot_quarantine`: a known sensor's organization, else the default."""
    org_of_sensor = dict(zip(sensors["sensor_id"].astype(str), sensors["org_id"].astype(str), strict=True))
    frame = quarantine.reindex(columns=QUARANTINE_COLUMNS).assign(
        org_id=quarantine["sensor_id"].map(org_of_sensor).fillna(default_org_id),
        hour_start=pd.Timestamp(hour),
        dagster_run_id=run_id,
    )
    for name in _TEXT_COLUMNS:
        text = frame[name].astype("string")
        frame[name] = text.astype(object).where(text.notna(), None)
    return pa.Table.from_pandas(frame, schema=QUARANTINE_SCHEMA, preserve_index=False)
