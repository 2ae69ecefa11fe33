"""Landing the buffer by hour: which hours are ready, and the telemetry of one hour from closed segments.

Readings are bucketed by their own timestamp, not by when they were received, so one segment can
hold several hours and a device flushing its buffer late adds readings to an hour already landed.
Each closed segment gets a small index of the hours it holds (`<segment>.hours.json`, written on
first use; a closed segment never changes). `landing-state.json` records, per landed hour, the
segments it was built from; a closed segment holding that hour which is not in the list is a late
arrival, and the hour is reported for landing again.

An hour is complete when it has ended and every segment that may hold its readings is closed: no
`.open` segment was opened before the hour's end, and none holds (so far) a reading of the hour.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.connectors.iot.buffer import (
    RecordColumns,
    closed_segments,
    open_segments,
    parse_segment_name,
    quarantine_files,
    read_records,
)
from oee_pipelines.domain.iot_mapping import (
    QUARANTINE_COLUMNS,
    MappedReadings,
    empty_quarantine,
    flatten_messages,
    map_readings,
    parse_timestamps,
)

HOUR = timedelta(hours=1)
INDEX_SUFFIX = ".hours.json"
STATE_FILE = "landing-state.json"
LOCK_FILE = "landing.lock"


@dataclass(frozen=True)
class HourStatus:
    complete: list[datetime]  # every hour with readings whose segments are all closed
    landed: list[datetime]
    late: list[datetime]  # landed hours that received readings since
    # Closed segments holding each complete hour: grows with every late arrival, so a lander can tell
    # one landing of an hour (its "generation") from the next.
    segment_counts: dict[datetime, int] = field(default_factory=dict)

    @property
    def to_land(self) -> list[datetime]:
        """Complete hours never landed, then landed hours with late readings."""
        landed = set(self.landed)
        return [hour for hour in self.complete if hour not in landed] + self.late


@dataclass(frozen=True)
class LandingStats:
    hour_start: datetime
    segments: list[str] = field(default_factory=list)
    messages: int = 0
    readings: int = 0
    telemetry_rows: int = 0
    quarantined: int = 0
    duplicates_removed: int = 0


def land_hour(
    buffer_dir: Path, hour_start: datetime, sensors: pd.DataFrame, ingest_run_id: str = ""
) -> tuple[pa.Table, pd.DataFrame, LandingStats]:
    """The telemetry and the quarantine of one UTC hour, from the closed segments holding it.

    Call `mark_landed(buffer_dir, hour_start, stats.segments)` once the result is written.
    """
    return next(land_hours(buffer_dir, [hour_start], sensors, ingest_run_id))


def land_hours(
    buffer_dir: Path, hours: Iterable[datetime], sensors: pd.DataFrame, ingest_run_id: str = ""
) -> Iterator[tuple[pa.Table, pd.DataFrame, LandingStats]]:
    """`land_hour` for each hour in turn, lazily: each hour's segments are looked up when it is reached.

    Consecutive hours held by the same segments (a device flushing days of readings at once) share one
    decode and mapping of those segments instead of repeating it per hour.
    """
    hours_of_segment: dict[Path, set[pd.Timestamp]] = {}
    intake_quarantine = _intake_quarantine(buffer_dir)
    decoded: _DecodedSegments | None = None
    for hour in map(_hour, hours):
        segments = []
        for path in closed_segments(buffer_dir):
            if path not in hours_of_segment:
                hours_of_segment[path] = segment_hours(path)  # a closed segment never changes
            if hour in hours_of_segment[path]:
                segments.append(path)
        if decoded is None or decoded.segments != segments:
            decoded = _decode(segments, sensors, ingest_run_id)
        yield _hour_of(decoded, hour, intake_quarantine)


@dataclass(frozen=True)
class _DecodedSegments:
    segments: list[Path]
    messages: int
    raw: pd.DataFrame
    reading_hours: pd.Series  # the hour of each raw reading's own timestamp (NaT if it has none)
    rejected: pd.DataFrame
    mapped: MappedReadings


def _decode(segments: list[Path], sensors: pd.DataFrame, ingest_run_id: str) -> _DecodedSegments:
    records = [read_records(path) for path in segments]
    raw, rejected = _flatten(records)
    return _DecodedSegments(
        segments=segments,
        messages=sum(len(columns) for columns in records),
        raw=raw,
        reading_hours=parse_timestamps(raw["raw_ts"]).dt.floor("h"),
        rejected=rejected,
        mapped=map_readings(raw, sensors, ingest_run_id),
    )


def _hour_of(
    decoded: _DecodedSegments, hour: pd.Timestamp, intake_quarantine: pd.DataFrame
) -> tuple[pa.Table, pd.DataFrame, LandingStats]:
    mapped = decoded.mapped
    in_hour = pc.and_(
        pc.greater_equal(mapped.telemetry["ts"], pa.scalar(hour, pa.timestamp("us", tz="UTC"))),
        pc.less(mapped.telemetry["ts"], pa.scalar(hour + HOUR, pa.timestamp("us", tz="UTC"))),
    )
    telemetry = mapped.telemetry.filter(in_hour)
    quarantine = pd.concat(
        [_in_hour(frame, hour) for frame in (mapped.quarantine, decoded.rejected, intake_quarantine)],
        ignore_index=True,
    )
    # Readings of this hour that are neither quarantined nor in the telemetry were duplicates.
    quarantined_readings = int(mapped.quarantine["ts"].dt.floor("h").eq(hour).sum())
    readings_in_hour = int(decoded.reading_hours.eq(hour).sum())
    stats = LandingStats(
        hour_start=hour.to_pydatetime(),
        segments=[path.name for path in decoded.segments],
        messages=decoded.messages,
        readings=len(decoded.raw),
        telemetry_rows=telemetry.num_rows,
        quarantined=len(quarantine),
        duplicates_removed=readings_in_hour - quarantined_readings - telemetry.num_rows,
    )
    return telemetry, quarantine, stats


def hour_status(buffer_dir: Path, now: datetime | None = None) -> HourStatus:
    """Which hours can be landed now, which are landed, and which of those received late readings."""
    current = pd.Timestamp(now or datetime.now().astimezone()).tz_convert("UTC")
    still_open = open_segments(buffer_dir)
    open_created = [parse_segment_name(path) for path in still_open]
    horizon = min([current, *(pd.Timestamp(name.created_ns, tz="UTC") for name in open_created if name)])
    held_open = set().union(*(_hours_of([read_records(path)]) for path in still_open))
    segments_by_hour = _segments_by_hour(buffer_dir)
    state = _read_state(buffer_dir)
    complete = sorted(hour for hour in segments_by_hour if hour + HOUR <= horizon and hour not in held_open)
    landed = sorted(state)
    late = [hour for hour in landed if segments_by_hour.get(hour, set()) - state[hour]]
    return HourStatus(
        complete=[hour.to_pydatetime() for hour in complete],
        landed=[hour.to_pydatetime() for hour in landed],
        late=[hour.to_pydatetime() for hour in late],
        segment_counts={hour.to_pydatetime(): len(segments_by_hour[hour]) for hour in {*complete, *late}},
    )


@contextmanager
def landing_lock(buffer_dir: Path) -> Iterator[None]:
    """Hold while one hour is landed, written and marked: landings of one buffer run one at a time.

    Two landers of the same hour (a late re-landing started while the first still runs) would otherwise
    let the one that read fewer segments finish last and record them, and `landing-state.json` is
    read-modify-written.
    """
    buffer_dir.mkdir(parents=True, exist_ok=True)
    with (buffer_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mark_landed(buffer_dir: Path, hour_start: datetime, segments: list[str]) -> None:
    state = _read_state(buffer_dir)
    state[_hour(hour_start)] = set(segments)
    serialised = {hour.isoformat(): sorted(names) for hour, names in sorted(state.items())}
    _write_atomically(buffer_dir / STATE_FILE, json.dumps(serialised, indent=1).encode())


def segment_hours(path: Path) -> set[pd.Timestamp]:
    """The UTC hours a closed segment holds readings of (cached beside it)."""
    index = path.with_name(path.name + INDEX_SUFFIX)
    if index.exists():
        return {pd.Timestamp(text) for text in json.loads(index.read_text())}
    hours = _hours_of([read_records(path)])
    _write_atomically(index, json.dumps(sorted(hour.isoformat() for hour in hours)).encode())
    return hours


def _hours_of(records: list[RecordColumns]) -> set[pd.Timestamp]:
    raw, rejected = _flatten(records)
    stamps = parse_timestamps(raw["raw_ts"])
    buckets = stamps.where(stamps.notna(), raw["receive_time"]).dt.floor("h")
    return set(buckets.unique()) | set(rejected["receive_time"].dt.floor("h").unique())


def _flatten(records: list[RecordColumns]) -> tuple[pd.DataFrame, pd.DataFrame]:
    sources = [source for columns in records for source in columns.source_system]
    topics = [topic for columns in records for topic in columns.topic]
    received = [ns for columns in records for ns in columns.receive_ns]
    payloads = [payload for columns in records for payload in columns.payload]
    # Segments hold only payloads the intake parsed, so one array decodes them all in one call.
    decoded = orjson.loads(b"[" + b",".join(payloads) + b"]") if payloads else []
    return flatten_messages(sources, topics, received, decoded)


def _intake_quarantine(buffer_dir: Path) -> pd.DataFrame:
    frames = [_quarantine_frame(read_records(path)) for path in quarantine_files(buffer_dir)]
    return pd.concat(frames, ignore_index=True) if frames else empty_quarantine()


def _quarantine_frame(columns: RecordColumns) -> pd.DataFrame:
    frame = (
        empty_quarantine()
        if not len(columns)
        else pd.DataFrame(
            {
                "reason": columns.reason,
                "source_system": columns.source_system,
                "source_ref": columns.topic,
                "receive_time": pd.to_datetime(columns.receive_ns, utc=True),
                "payload": [payload.decode(errors="replace") for payload in columns.payload],
            }
        )
    )
    return frame.reindex(columns=QUARANTINE_COLUMNS).astype({"ts": "datetime64[ns, UTC]"})


def _in_hour(quarantine: pd.DataFrame, hour: pd.Timestamp) -> pd.DataFrame:
    bucket = quarantine["ts"].where(quarantine["ts"].notna(), quarantine["receive_time"])
    return quarantine[(bucket >= hour) & (bucket < hour + HOUR)]


def _segments_by_hour(buffer_dir: Path) -> dict[pd.Timestamp, set[str]]:
    by_hour: dict[pd.Timestamp, set[str]] = {}
    for path in closed_segments(buffer_dir):
        for hour in segment_hours(path):
            by_hour.setdefault(hour, set()).add(path.name)
    return by_hour


def _read_state(buffer_dir: Path) -> dict[pd.Timestamp, set[str]]:
    path = buffer_dir / STATE_FILE
    if not path.exists():
        return {}
    return {pd.Timestamp(hour): set(names) for hour, names in json.loads(path.read_text()).items()}


def _hour(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if stamp != stamp.floor("h"):
        raise ValueError(f"{moment} is not the start of an hour")
    return stamp


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    temporary.replace(path)
