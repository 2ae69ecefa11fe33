"""The hourly IoT landing as a plain pipeline: source -> map -> write.

- source: the closed buffer segments holding an hour (`connectors/iot/landing.BufferSource`);
- map: their readings through the sensor registry into telemetry rows and a quarantine
  (`domain/iot_mapping.map_readings`), cut to the hour (`map_hour`);
- write: the hour's lake file per source system and its `iot_quarantine` rows (`HourSink`).

`IotLanding.land` runs the three for each hour under the buffer's landing lock and records the
segments each hour was built from, so an hour whose write fails stays to be landed.
Each hour becomes `telemetry/source=<mqtt|http>/date=YYYY-MM-DD/hour=HH.parquet` (written atomically,
replaced on a re-run), deduplicated on (sensor, signal, timestamp, value); what the mapping refused
goes to `iot_quarantine`, replaced per hour. The service is the only writer of both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from oee_pipelines.connectors.iot.landing import (
    BufferSource,
    HourStatus,
    SegmentReadings,
    hour_status,
    landing_lock,
    mark_landed,
    utc_hour_start,
)
from oee_pipelines.domain.iot_mapping import QUARANTINE_COLUMNS, MappedReadings, map_readings
from oee_pipelines.domain.progress import Progress, ProgressCallback, ignore_progress
from oee_pipelines.storage.bulk_load import replace_rows
from oee_pipelines.storage.lake import Lake

HOUR = timedelta(hours=1)
LAKE_SOURCES = ("mqtt", "http")
QUARANTINE_TABLE = "iot_quarantine"
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


class SensorRegistryMissingError(RuntimeError):
    """Without the registry every reading would be quarantined as an unknown sensor."""


@dataclass(frozen=True)
class LandingStats:
    hour_start: datetime
    segments: list[str] = field(default_factory=list)
    messages: int = 0
    readings: int = 0
    telemetry_rows: int = 0
    quarantined: int = 0
    duplicates_removed: int = 0


@dataclass(frozen=True)
class HourBatch:
    """One UTC hour after the map step: its telemetry, its quarantine and the figures."""

    telemetry: pa.Table
    quarantine: pd.DataFrame
    stats: LandingStats


# --- source -> map ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mapped:
    readings: SegmentReadings
    mapped: MappedReadings


def map_hour(mapped: _Mapped, hour: pd.Timestamp, intake_quarantine: pd.DataFrame) -> HourBatch:
    """The hour's share of mapped segments (which may hold several hours)."""
    readings, result = mapped.readings, mapped.mapped
    in_hour = pc.and_(
        pc.greater_equal(result.telemetry["ts"], pa.scalar(hour, pa.timestamp("us", tz="UTC"))),
        pc.less(result.telemetry["ts"], pa.scalar(hour + HOUR, pa.timestamp("us", tz="UTC"))),
    )
    telemetry = result.telemetry.filter(in_hour)
    quarantine = pd.concat(
        [_in_hour(frame, hour) for frame in (result.quarantine, readings.rejected, intake_quarantine)],
        ignore_index=True,
    )
    # Readings of this hour that are neither quarantined nor in the telemetry were duplicates.
    quarantined_readings = int(result.quarantine["ts"].dt.floor("h").eq(hour).sum())
    readings_in_hour = int(readings.reading_hours.eq(hour).sum())
    stats = LandingStats(
        hour_start=hour.to_pydatetime(),
        segments=[path.name for path in readings.segments],
        messages=readings.messages,
        readings=len(readings.raw),
        telemetry_rows=telemetry.num_rows,
        quarantined=len(quarantine),
        duplicates_removed=readings_in_hour - quarantined_readings - telemetry.num_rows,
    )
    return HourBatch(telemetry, quarantine, stats)


def hour_batches(
    source: BufferSource, hours: Iterable[datetime], sensors: pd.DataFrame, ingest_run_id: str = ""
) -> Iterator[HourBatch]:
    """Source and map each hour in turn, lazily: an hour's segments are looked up when it is reached.

    Consecutive hours held by the same segments (a device flushing days of readings at once) share one
    decode and mapping of those segments instead of repeating it per hour.
    """
    intake_quarantine = source.intake_quarantine()
    current: _Mapped | None = None
    for hour in map(utc_hour_start, hours):
        segments = source.segments_holding(hour.to_pydatetime())
        if current is None or current.readings.segments != segments:
            readings = source.read(segments)
            current = _Mapped(readings, map_readings(readings.raw, sensors, ingest_run_id))
        yield map_hour(current, hour, intake_quarantine)


def land_hour(
    buffer_dir: Path, hour_start: datetime, sensors: pd.DataFrame, ingest_run_id: str = ""
) -> tuple[pa.Table, pd.DataFrame, LandingStats]:
    """The telemetry, quarantine and figures of one UTC hour, without writing them.

    Call `mark_landed(buffer_dir, hour_start, stats.segments)` once the result is written.
    """
    batch = next(hour_batches(BufferSource(buffer_dir), [hour_start], sensors, ingest_run_id))
    return batch.telemetry, batch.quarantine, batch.stats


def _in_hour(quarantine: pd.DataFrame, hour: pd.Timestamp) -> pd.DataFrame:
    bucket = quarantine["ts"].where(quarantine["ts"].notna(), quarantine["receive_time"])
    return quarantine[(bucket >= hour) & (bucket < hour + HOUR)]


# --- write -----------------------------------------------------------------------------------------


@dataclass
class LandingSummary:
    """The figures of the hours one landing wrote."""

    hours: int = 0
    readings: int = 0
    duplicates_removed: int = 0
    messages: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    sensors: set[tuple[str, str, str]] = field(default_factory=set)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    preview: pa.Table | None = None

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    def add(self, batch: HourBatch) -> None:
        telemetry = batch.telemetry
        self.hours += 1
        self.readings += telemetry.num_rows
        self.duplicates_removed += batch.stats.duplicates_removed
        self.messages += batch.stats.messages
        # The intake's reasons carry the parser's detail after a colon; group by what precedes it.
        self.quarantined_by_reason.update(batch.quarantine["reason"].astype(str).str.split(":").str[0])
        if not telemetry.num_rows:
            return
        series = telemetry.select(["machine_id", "signal", "source_ref"]).group_by(
            ["machine_id", "signal", "source_ref"]
        )
        self.sensors.update(tuple(row.values()) for row in series.aggregate([]).to_pylist())
        self.first_ts = min(filter(None, [self.first_ts, pc.min(telemetry["ts"]).as_py()]))
        self.last_ts = max(filter(None, [self.last_ts, pc.max(telemetry["ts"]).as_py()]))
        self.preview = self.preview or telemetry.slice(0, 10)


@dataclass(frozen=True)
class HourSink:
    """Writes one hour: a lake file per source system, and the hour's `iot_quarantine` rows."""

    lake: Lake
    database_url: str
    sensors: pd.DataFrame
    default_org_id: str
    run_id: str

    def write(self, batch: HourBatch) -> None:
        hour = batch.stats.hour_start
        for source in LAKE_SOURCES:
            rows = batch.telemetry.filter(pc.equal(batch.telemetry["source_system"], source))
            write_hour_file(self.lake, hour_file(source, hour), rows)
        rows = quarantine_table(batch.quarantine, hour, self.sensors, self.default_org_id, self.run_id)
        with psycopg.connect(self.database_url) as conn:
            replace_rows(conn, QUARANTINE_TABLE, rows, sql.SQL("hour_start = %s"), [hour])


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


# --- the pipeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IotLanding:
    """Lands a buffer's hours into one lake and warehouse, for one organization's unknown sensors."""

    lake: Lake
    database_url: str
    org_id: str

    def sensor_registry(self) -> pd.DataFrame:
        """The `iot_sensors` table; refuses to land without it."""
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT * FROM iot_sensors")
            columns = [column.name for column in cursor.description or []]
            sensors = pd.DataFrame(cursor.fetchall(), columns=columns)
        if sensors.empty:
            raise SensorRegistryMissingError(
                "iot_sensors is empty: apply the plant model (`oee plant apply`) with its iot_sensors "
                "before landing IoT hours"
            )
        return sensors

    def land(
        self,
        buffer_dir: Path,
        hours: Sequence[datetime],
        run_id: str,
        progress: ProgressCallback = ignore_progress,
    ) -> LandingSummary:
        """Source -> map -> write each UTC hour of `hours`, then record the segments it used.

        Each hour is read, written and recorded under the buffer's landing lock. If writing fails,
        that hour is not recorded as landed and stays to be landed. `progress` hears of every hour
        landed (hours done of `hours`, readings landed so far).
        """
        sensors = self.sensor_registry()
        sink = HourSink(self.lake, self.database_url, sensors, self.org_id, run_id)
        summary = LandingSummary()
        batches = hour_batches(BufferSource(buffer_dir), hours, sensors, ingest_run_id=run_id)
        for _ in hours:
            with landing_lock(buffer_dir):
                batch = next(batches)
                sink.write(batch)
                if batch.stats.segments:
                    mark_landed(buffer_dir, batch.stats.hour_start, batch.stats.segments)
            summary.add(batch)
            progress(
                Progress(
                    task="iot_sensor_batches",
                    done=summary.hours,
                    total=len(hours),
                    unit="hours",
                    counts={"readings landed": summary.readings, "quarantined": summary.quarantined},
                    detail=f"{batch.stats.hour_start:%Y-%m-%d %H:00}",
                )
            )
        return summary


def buffer_status(buffer_dir: Path, now: datetime | None = None) -> HourStatus:
    """Which hours of a buffer are ready to land (none when the buffer does not exist yet)."""
    if not buffer_dir.is_dir():
        return HourStatus(complete=[], landed=[], late=[])
    return hour_status(buffer_dir, now)
