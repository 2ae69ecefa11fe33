"""Where the historian simulator servers get their points, and what the two servers share.

A `PointSource` knows its tags and answers `points(tag, start, end)` with the raw readings of
`[start, end)` as arrays (`PointArrays`). Three sources:

- `SyntheticPointSource`: fast, deterministic, any number of tags x points (benchmarks);
- `InMemoryPointSource`: exactly the arrays a test gives it (boundary and quality cases);
- `PointSource.from_plant(plant, system)`: the simulated plant's historian tags, in the raw
  units the tag mapping converts back (`raw = (value - offset_value) / scale_factor`), piece
  counters as cumulative counters rolling over at `counter_rollover`.

Quality in a source is the telemetry scale (100 good, 75 substituted, 50 questionable, 0 bad);
each server turns it into its own wire flags. A bad point with a `text_value` is served as that
system state (e.g. "I/O Timeout"), one without as an error object.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from starlette.requests import Request

if TYPE_CHECKING:
    from oee_pipelines.simulator.plant import SimulatedPlant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_DAY = 86_400_000_000
CACHED_TAG_DAYS = 256


@dataclass(frozen=True)
class PointArrays:
    """Readings of one tag, ascending by time (equal timestamps keep their order)."""

    ts_us: np.ndarray  # int64 microseconds since the Unix epoch, UTC
    value: np.ndarray  # float64
    quality: np.ndarray  # int16, 0-100
    text_value: np.ndarray | None = None  # object array of str | None; None: a numeric tag

    def __len__(self) -> int:
        return len(self.ts_us)

    def between(self, start_us: int, end_us: int) -> PointArrays:
        """The readings with start_us <= ts < end_us."""
        first, stop = np.searchsorted(self.ts_us, [start_us, end_us], side="left")
        text = self.text_value[first:stop] if self.text_value is not None else None
        return PointArrays(self.ts_us[first:stop], self.value[first:stop], self.quality[first:stop], text)


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


class PointSource(ABC):
    """The tags a simulated historian serves and their readings."""

    @abstractmethod
    def tags(self) -> list[str]: ...

    @abstractmethod
    def points(self, tag: str, start: datetime, end: datetime) -> PointArrays:
        """Readings of `tag` with start <= ts < end; KeyError for an unknown tag."""

    def first_points(self, tag: str, start: datetime, end: datetime, count: int) -> PointArrays:
        """The first `count` of `points(tag, start, end)` (a source may skip building the rest)."""
        points = self.points(tag, start, end)
        text = points.text_value[:count] if points.text_value is not None else None
        return PointArrays(points.ts_us[:count], points.value[:count], points.quality[:count], text)

    @staticmethod
    def from_plant(
        plant: SimulatedPlant,
        system: str = "pi",
        counter_epoch: date = date(2025, 1, 1),
        state_names: Mapping[str, str] | None = None,
    ) -> PointSource:
        return PlantPointSource(plant, system, counter_epoch, state_names)


class InMemoryPointSource(PointSource):
    def __init__(self, points_by_tag: dict[str, PointArrays]) -> None:
        self._points = points_by_tag

    def tags(self) -> list[str]:
        return list(self._points)

    def points(self, tag: str, start: datetime, end: datetime) -> PointArrays:
        return self._points[tag].between(to_micros(start), to_micros(end))


class SyntheticPointSource(PointSource):
    """`tag_count` tags `SYN.T000`.. with `points_per_tag` readings every `interval` from `origin`.

    Values are a slow sine per tag plus a deterministic ripple; every 997th reading is
    questionable and every 10,007th is bad (an "I/O Timeout" system state).
    """

    def __init__(
        self,
        tag_count: int,
        points_per_tag: int,
        origin: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        interval: timedelta = timedelta(seconds=1),
    ) -> None:
        self.tag_names = [f"SYN.T{index:03d}" for index in range(tag_count)]
        self._index = {tag: index for index, tag in enumerate(self.tag_names)}
        self.points_per_tag = points_per_tag
        self.origin_us = to_micros(origin)
        self.interval_us = interval // timedelta(microseconds=1)

    def tags(self) -> list[str]:
        return list(self.tag_names)

    def points(self, tag: str, start: datetime, end: datetime) -> PointArrays:
        return self.first_points(tag, start, end, self.points_per_tag)

    def first_points(self, tag: str, start: datetime, end: datetime, count: int) -> PointArrays:
        """Builds only the readings it returns (a PI page of `maxCount` out of a whole day)."""
        tag_index = self._index[tag]
        first = max(0, -(-(to_micros(start) - self.origin_us) // self.interval_us))
        stop = min(self.points_per_tag, -(-(to_micros(end) - self.origin_us) // self.interval_us))
        stop = min(stop, first + max(0, count))
        positions = np.arange(first, max(first, stop), dtype=np.int64)
        ripple = (positions * 2_654_435_761 % 1_000) / 1_000.0
        values = 50.0 + 10.0 * np.sin(positions * 0.001 + tag_index) + ripple
        quality = np.where(positions % 997 == 996, 50, 100).astype(np.int16)
        bad = positions % 10_007 == 10_006
        quality[bad] = 0
        text = None
        if bad.any():
            text = np.full(len(positions), None, dtype=object)
            text[bad] = "I/O Timeout"
        return PointArrays(self.origin_us + positions * self.interval_us, values, quality, text)


class PlantPointSource(PointSource):
    """The plant's historian tags of one system; counters count from midnight of `counter_epoch`.

    `state_names` renames the machine states (the plant's reason codes, `RUNNING`) to the digital
    state names the server writes (`registry.PI_STATE_NAMES`); unset, the codes themselves.
    """

    def __init__(
        self,
        plant: SimulatedPlant,
        system: str,
        counter_epoch: date,
        state_names: Mapping[str, str] | None = None,
    ) -> None:
        mappings = plant.historian_tag_mappings()
        self._mappings = mappings[mappings["historian_system"] == system].set_index("historian_tag")
        self._plant = plant
        self._epoch_day = counter_epoch
        self._state_names = dict(state_names or {})
        self._lock = threading.Lock()

    def tags(self) -> list[str]:
        return list(self._mappings.index)

    def points(self, tag: str, start: datetime, end: datetime) -> PointArrays:
        start_us, end_us = to_micros(start), to_micros(end)
        first_day = start_us // MICROS_PER_DAY
        last_day = (end_us - 1) // MICROS_PER_DAY
        days = [self._day_points(tag, day) for day in range(first_day, last_day + 1)]
        joined = PointArrays(
            np.concatenate([d.ts_us for d in days]),
            np.concatenate([d.value for d in days]),
            np.concatenate([d.quality for d in days]),
            np.concatenate([d.text_value for d in days]) if days[0].text_value is not None else None,
        )
        return joined.between(start_us, end_us)

    @functools.lru_cache(maxsize=CACHED_TAG_DAYS)  # noqa: B019 - one source lives as long as its server
    def _day_points(self, tag: str, day_number: int) -> PointArrays:
        mapping = self._mappings.loc[tag]
        day = date.fromordinal(date(1970, 1, 1).toordinal() + day_number)
        readings = self._plant_readings(mapping, day)
        raw = (readings["value"] - mapping["offset_value"]) / mapping["scale_factor"]
        if mapping["counter_mode"] == "cumulative":
            start_count = self._count_before(tag, day)
            raw = np.mod(start_count + np.cumsum(readings["value"]), mapping["counter_rollover"])
        text = readings["text_value"] if mapping["signal_type"] == "machine_state" else None
        if text is not None and self._state_names:
            names = self._state_names
            text = np.array([names.get(name, name) if name else name for name in text], dtype=object)
        return PointArrays(readings["ts_us"], np.asarray(raw, np.float64), readings["quality"], text)

    def _plant_readings(self, mapping: pd.Series, day: date) -> dict[str, np.ndarray]:
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with self._lock:  # the plant caches machine days in an unsynchronised dict
            ts_us, value, quality, text_value = self._plant.signal_arrays(
                mapping["machine_id"], mapping["signal_type"], begin, begin + timedelta(days=1)
            )
        return {"ts_us": ts_us, "value": value, "quality": quality, "text_value": text_value}

    def _count_before(self, tag: str, day: date) -> float:
        """Pieces counted between midnight of the epoch and midnight of `day` (negative before it)."""
        first, last = sorted((day.toordinal(), self._epoch_day.toordinal()))
        total = sum(self._day_total(tag, ordinal) for ordinal in range(first, last))
        return total if day >= self._epoch_day else -total

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one source lives as long as its server
    def _day_total(self, tag: str, ordinal: int) -> float:
        readings = self._plant_readings(self._mappings.loc[tag], date.fromordinal(ordinal))
        return float(np.sum(readings["value"]))


# What the PI and AVEVA simulator servers share.


def iso_timestamps(ts_us: np.ndarray, before: str = "", after: str = "") -> pa.Array:
    """`before` + ISO 8601 time with 7 fractional digits and Z (the PI/AVEVA wire format) + `after`.

    Arrow prints naive microsecond timestamps at a fixed width ("2025-01-01 00:00:00.000000"), so
    the texts are assembled as a fixed-width byte matrix, without a per-item string operation.
    """
    text = pc.cast(pa.array(ts_us, pa.timestamp("us")), pa.string())
    width = len("2025-01-01 00:00:00.000000")
    count = len(text)
    printed = np.frombuffer(text.buffers()[2], np.uint8, count * width).reshape(count, width)
    head, tail = before.encode(), ("0Z" + after).encode()
    out = np.empty((count, len(head) + width + len(tail)), np.uint8)
    out[:, : len(head)] = np.frombuffer(head, np.uint8)
    out[:, len(head) : len(head) + width] = printed
    out[:, len(head) + 10] = ord("T")
    out[:, len(head) + width :] = np.frombuffer(tail, np.uint8)
    offsets = np.arange(count + 1, dtype=np.int32) * out.shape[1]
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(out))


def json_numbers(values: np.ndarray) -> pa.Array:
    """Shortest round-trip text of each float, `null` for NaN, vectorised."""
    text = pc.cast(pa.array(values, pa.float64()), pa.string())
    return pc.if_else(pc.is_nan(pa.array(values, pa.float64())), "null", text)


def joined_json(pieces: list[pa.Array | str]) -> bytes:
    """Concatenate element-wise pieces into one JSON text per item, items separated by commas."""
    return joined_json_buffer(pieces).to_pybytes()


def joined_json_buffer(pieces: list[pa.Array | str]) -> pa.Buffer:
    """`joined_json` without the copy into `bytes`: a view of the joined texts, for a body built of parts."""
    if len(pieces) == 0 or all(isinstance(piece, str) for piece in pieces):
        raise ValueError("joined_json needs at least one array piece")
    items = pc.binary_join_element_wise(*pieces, ",", "")
    if len(items) == 0:
        return pa.py_buffer(b"")
    offsets = np.frombuffer(items.buffers()[1], dtype=np.int32)[items.offset : items.offset + len(items) + 1]
    return items.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]) - 1)


@dataclass
class HistorianLogin:
    """Basic (user/password) or Bearer; `expire_password()` makes every request answer 401."""

    username: str = "historian-user"
    password: str = "historian-password"
    bearer_token: str = "historian-token"
    password_expired: bool = False

    def expire_password(self) -> None:
        self.password_expired = True

    def accepts(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.password_expired:
            return False
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ") == self.bearer_token
        if header.startswith("Basic "):
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header.removeprefix("Basic ") == expected
        return False


def stable_id(prefix: str, text: str) -> str:
    """A WebId-like opaque identifier that is the same on every run."""
    return prefix + hashlib.sha1(text.encode()).hexdigest()[:22].upper()
