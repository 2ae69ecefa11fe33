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

import json
import os
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
    empty_quarantine,
    flatten_messages,
    map_readings,
    parse_timestamps,
)

HOUR = timedelta(hours=1)
INDEX_SUFFIX = ".hours.json"
STATE_FILE = "landing-state.json"


@dataclass(frozen=True)
class HourStatus:
    complete: list[datetime]  # every hour with readings whose segments are all closed
    landed: list[datetime]
    late: list[datetime]  # landed hours that received readings since

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
    hour = _hour(hour_start)
    segments = [path for path in closed_segments(buffer_dir) if hour in segment_hours(path)]
    records = [read_records(path) for path in segments]
    raw, rejected = _flatten(records)
    mapped = map_readings(raw, sensors, ingest_run_id)
    in_hour = pc.and_(
        pc.greater_equal(mapped.telemetry["ts"], pa.scalar(hour, pa.timestamp("us", tz="UTC"))),
        pc.less(mapped.telemetry["ts"], pa.scalar(hour + HOUR, pa.timestamp("us", tz="UTC"))),
    )
    telemetry = mapped.telemetry.filter(in_hour)
    quarantine = pd.concat(
        [_in_hour(frame, hour) for frame in (mapped.quarantine, rejected, _intake_quarantine(buffer_dir))],
        ignore_index=True,
    )
    stats = LandingStats(
        hour_start=hour.to_pydatetime(),
        segments=[path.name for path in segments],
        messages=sum(len(columns) for columns in records),
        readings=len(raw),
        telemetry_rows=telemetry.num_rows,
        quarantined=len(quarantine),
        duplicates_removed=mapped.duplicates_removed,
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
    )


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
