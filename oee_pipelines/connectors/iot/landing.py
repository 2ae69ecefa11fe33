"""The buffer side of the hourly landing: which hours are ready, the closed segments holding an hour and
their raw readings (the landing's source step), and the record of what was landed.

Readings are bucketed by their own timestamp, not by when they were received, so one segment can
hold several hours and a device flushing its buffer late adds readings to an hour already landed.
Each closed segment gets a small index of the hours it holds (`<segment>.hours.json`, written on
first use; a closed segment never changes). `landing-state.json` records, per landed hour, the
segments it was built from; a closed segment holding that hour which is not in the list is a late
arrival, and the hour is reported for landing again.

An hour is complete when it has ended and every segment that may hold its readings is closed: no
`.open` segment was opened before the hour's end, and none holds (so far) a reading of the hour.

Mapping the readings to telemetry and writing them is the IoT landing service's
(`oee_pipelines/services/iot/`); this module only reads the buffer and keeps its landing state.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd

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
class SegmentReadings:
    """The raw readings of some closed segments, as the map step takes them."""

    segments: list[Path]
    messages: int
    raw: pd.DataFrame  # domain.iot_mapping RAW_COLUMNS, one row per reading
    rejected: pd.DataFrame  # quarantine rows: messages whose shape held no reading
    reading_hours: pd.Series  # the hour of each raw reading's own timestamp (NaT if it has none)
    reading_ts: pd.Series | None = None  # parse_timestamps(raw["raw_ts"]), for the map step


class BufferSource:
    """The closed segments of one buffer, hour by hour: the source step of the landing."""

    def __init__(self, buffer_dir: Path) -> None:
        self.buffer_dir = buffer_dir
        self._hours_of_segment: dict[Path, set[pd.Timestamp]] = {}
        # The segment last decoded to index its hours, kept for a `read` of that segment alone: a
        # landing indexes a new segment and then reads it, and decoding is most of either. One at a
        # time, so indexing a long backlog of segments holds one segment's readings, not all.
        self._just_indexed: SegmentReadings | None = None

    def segments_holding(self, hour: datetime) -> list[Path]:
        """The closed segments holding readings of the UTC hour starting at `hour`, oldest first."""
        start = utc_hour_start(hour)
        segments = []
        for path in closed_segments(self.buffer_dir):
            if path not in self._hours_of_segment:  # a closed segment never changes
                hours = indexed_hours(path)
                if hours is None:
                    self._just_indexed = decode_segments([path])
                    hours = write_index(path, self._just_indexed)
                self._hours_of_segment[path] = hours
            if start in self._hours_of_segment[path]:
                segments.append(path)
        return segments

    def read(self, segments: list[Path]) -> SegmentReadings:
        """Decode `segments` into raw readings (one row per measurement) and unusable messages."""
        kept, self._just_indexed = self._just_indexed, None
        if kept is not None and kept.segments == segments:
            return kept
        return decode_segments(segments)

    def intake_quarantine(self) -> pd.DataFrame:
        """What the writers refused at intake (quarantine logs), in the quarantine columns."""
        frames = [_quarantine_frame(read_records(path)) for path in quarantine_files(self.buffer_dir)]
        return pd.concat(frames, ignore_index=True) if frames else empty_quarantine()


def decode_segments(segments: list[Path]) -> SegmentReadings:
    """The raw readings and unusable messages of `segments`, in their order."""
    records = [read_records(path) for path in segments]
    raw, rejected = _flatten(records)
    reading_ts = parse_timestamps(raw["raw_ts"])
    return SegmentReadings(
        segments=segments,
        messages=sum(len(columns) for columns in records),
        raw=raw,
        reading_hours=reading_ts.dt.floor("h"),
        rejected=rejected,
        reading_ts=reading_ts,
    )


def hour_status(buffer_dir: Path, now: datetime | None = None) -> HourStatus:
    """Which hours can be landed now, which are landed, and which of those received late readings."""
    current = pd.Timestamp(now or datetime.now().astimezone()).tz_convert("UTC")
    still_open = open_segments(buffer_dir)
    open_created = [parse_segment_name(path) for path in still_open]
    horizon = min([current, *(pd.Timestamp(name.created_ns, tz="UTC") for name in open_created if name)])
    held_open = set().union(*(_hours_of(decode_segments([path])) for path in still_open))
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
    state[utc_hour_start(hour_start)] = set(segments)
    serialised = {hour.isoformat(): sorted(names) for hour, names in sorted(state.items())}
    _write_atomically(buffer_dir / STATE_FILE, json.dumps(serialised, indent=1).encode())


def segment_hours(path: Path) -> set[pd.Timestamp]:
    """The UTC hours a closed segment holds readings of (cached beside it)."""
    hours = indexed_hours(path)
    return write_index(path, decode_segments([path])) if hours is None else hours


def indexed_hours(path: Path) -> set[pd.Timestamp] | None:
    """The hours of a segment's index beside it, None when it has none yet."""
    index = path.with_name(path.name + INDEX_SUFFIX)
    if not index.exists():
        return None
    return {pd.Timestamp(text) for text in json.loads(index.read_text())}


def write_index(path: Path, readings: SegmentReadings) -> set[pd.Timestamp]:
    """Write the index of the hours in `readings`, the decoded segment `path`; returns those hours."""
    hours = _hours_of(readings)
    index = path.with_name(path.name + INDEX_SUFFIX)
    _write_atomically(index, json.dumps(sorted(hour.isoformat() for hour in hours)).encode())
    return hours


def _hours_of(readings: SegmentReadings) -> set[pd.Timestamp]:
    """The hours of the readings' own timestamps; of their receive time for those without one."""
    buckets = readings.reading_hours.where(
        readings.reading_hours.notna(), readings.raw["receive_time"].dt.floor("h")
    )
    return set(buckets.unique()) | set(readings.rejected["receive_time"].dt.floor("h").unique())


def _flatten(records: list[RecordColumns]) -> tuple[pd.DataFrame, pd.DataFrame]:
    sources = [source for columns in records for source in columns.source_system]
    topics = [topic for columns in records for topic in columns.topic]
    received = [ns for columns in records for ns in columns.receive_ns]
    payloads = [payload for columns in records for payload in columns.payload]
    # Segments hold only payloads the intake parsed, so one array decodes them all in one call.
    decoded = orjson.loads(b"[" + b",".join(payloads) + b"]") if payloads else []
    return flatten_messages(sources, topics, received, decoded)


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


def utc_hour_start(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if stamp != stamp.floor("h"):
        raise ValueError(f"{moment} is not the start of an hour")
    return stamp


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    temporary.replace(path)
