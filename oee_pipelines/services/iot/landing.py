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

import numpy as np
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
    """Mapped segments and, computed once for all the hours they hold, where each hour's rows are."""

    readings: SegmentReadings
    mapped: MappedReadings
    # The telemetry ordered by hour (stable: an hour's rows keep their order), and each hour's rows.
    telemetry_by_hour: pa.Table
    hour_rows: dict[int, tuple[int, int]]  # hour (ns since the epoch) -> (first row, row count)
    # Each quarantine frame of the segments with the hour of its rows, as `_in_hour` reads it.
    quarantine_buckets: list[tuple[pd.DataFrame, pd.Series]]
    readings_per_hour: dict[pd.Timestamp, int]
    quarantined_per_hour: dict[pd.Timestamp, int]

    @classmethod
    def of(cls, readings: SegmentReadings, mapped: MappedReadings) -> _Mapped:
        telemetry = mapped.telemetry
        hour_codes = _hour_codes(telemetry["ts"])
        order = np.argsort(hour_codes, kind="stable")
        if not (np.diff(order) == 1).all():
            telemetry = telemetry.take(pa.array(order))
        codes, first_rows, row_counts = np.unique(hour_codes[order], return_index=True, return_counts=True)
        hour_rows = {
            int(code) * HOUR_NS: (int(first), int(count))
            for code, first, count in zip(
                codes.tolist(), first_rows.tolist(), row_counts.tolist(), strict=True
            )
        }
        return cls(
            readings,
            mapped,
            telemetry,
            hour_rows,
            [(frame, _bucket(frame)) for frame in (mapped.quarantine, readings.rejected)],
            _counts(readings.reading_hours),
            _counts(mapped.quarantine["ts"].dt.floor("h")),
        )

    def telemetry_of(self, hour: pd.Timestamp) -> pa.Table:
        """The hour's telemetry rows in their mapped order (`filter` on the hour, by slicing)."""
        first, count = self.hour_rows.get(hour.value, (0, 0))
        return self.telemetry_by_hour.slice(first, count)


HOUR_NS = 3_600 * 1_000_000_000
_HOUR_US = 3_600 * 1_000_000


def _hour_codes(ts: pa.ChunkedArray) -> np.ndarray:
    """Hours since the epoch of non-null UTC microsecond timestamps."""
    micros = ts.cast(pa.int64()).to_numpy() if ts.num_chunks else np.zeros(0, dtype=np.int64)
    return np.floor_divide(micros, _HOUR_US)


def _bucket(quarantine: pd.DataFrame) -> pd.Series:
    return quarantine["ts"].where(quarantine["ts"].notna(), quarantine["receive_time"])


def _counts(hours: pd.Series) -> dict[pd.Timestamp, int]:
    """How many of `hours` are each hour (`hours.eq(hour).sum()` for every hour at once)."""
    return {hour: int(count) for hour, count in hours.value_counts().items()}


def map_hour(mapped: _Mapped, hour: pd.Timestamp, intake_quarantine: pd.DataFrame) -> HourBatch:
    """The hour's share of mapped segments (which may hold several hours)."""
    readings = mapped.readings
    telemetry = mapped.telemetry_of(hour)
    quarantine = pd.concat(
        [
            *(_rows_in_hour(frame, bucket, hour) for frame, bucket in mapped.quarantine_buckets),
            _in_hour(intake_quarantine, hour),
        ],
        ignore_index=True,
    )
    # Readings of this hour that are neither quarantined nor in the telemetry were duplicates.
    quarantined_readings = mapped.quarantined_per_hour.get(hour, 0)
    readings_in_hour = mapped.readings_per_hour.get(hour, 0)
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
            mapped = map_readings(readings.raw, sensors, ingest_run_id, ts=readings.reading_ts)
            current = _Mapped.of(readings, mapped)
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
    return quarantine if quarantine.empty else _rows_in_hour(quarantine, _bucket(quarantine), hour)


def _rows_in_hour(quarantine: pd.DataFrame, bucket: pd.Series, hour: pd.Timestamp) -> pd.DataFrame:
    """The quarantine rows whose `bucket` (their own timestamp, else their receive time) is in the hour."""
    if quarantine.empty:
        return quarantine
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


@dataclass
class HourSink:
    """Writes one hour: a lake file per source system, and the hour's `iot_quarantine` rows.

    One warehouse connection serves every hour of a landing (`close` it after the last); each hour's
    rows are still committed in their own transaction before `write` returns.
    """

    lake: Lake
    database_url: str
    sensors: pd.DataFrame
    default_org_id: str
    run_id: str
    _conn: psycopg.Connection | None = field(default=None, init=False, repr=False)

    def write(self, batch: HourBatch) -> None:
        hour = batch.stats.hour_start
        for source in LAKE_SOURCES:
            rows = batch.telemetry.filter(pc.equal(batch.telemetry["source_system"], source))
            write_hour_file(self.lake, hour_file(source, hour), rows)
        rows = quarantine_table(batch.quarantine, hour, self.sensors, self.default_org_id, self.run_id)
        replace_rows(self._connection(), QUARANTINE_TABLE, rows, sql.SQL("hour_start = %s"), [hour])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        # autocommit: `replace_rows`'s transaction block is then a real transaction, committed at its end.
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.database_url, autocommit=True)
        return self._conn


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
    if quarantine.empty:  # most hours: the same rows (none) without building an empty frame's columns
        return QUARANTINE_SCHEMA.empty_table()
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
        try:
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
        finally:
            sink.close()
        return summary


def buffer_status(buffer_dir: Path, now: datetime | None = None) -> HourStatus:
    """Which hours of a buffer are ready to land (none when the buffer does not exist yet)."""
    if not buffer_dir.is_dir():
        return HourStatus(complete=[], landed=[], late=[])
    return hour_status(buffer_dir, now)
