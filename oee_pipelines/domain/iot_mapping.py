"""IoT sensor messages -> telemetry rows: payload forms, the sensor registry, quarantine and dedup.

Payload forms (decoded JSON), one message may hold many readings:
- one reading: `{"sensor_id": "TEMP_ZONE_A", "temperature": 72.5, "humidity": 45.2, "timestamp": "..."}`
  (every key other than the metadata keys is a measurement);
- `{"ts": "...", "values": {"temperature": 72.5}}` (the sensor comes from the topic);
- a JSON array of those (a device flushing its buffer).

The registry is the `iot_sensors` table. A message without `sensor_id` belongs to the sensor whose
`mqtt_topic` (or `http_endpoint`) is the message's topic, else to the sensor named by the topic's
last level. A measurement named `value` is the sensor's own `sensor_type`. The registry's unit and
expected range apply to the sensor's own type; a value outside the range is kept with quality 50.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA

METADATA_KEYS = frozenset({"sensor_id", "timestamp", "ts", "machine_id", "unit", "values"})
GENERIC_MEASUREMENT = "value"
GOOD_QUALITY = 100
QUESTIONABLE_QUALITY = 50
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
EPOCH_MILLISECONDS_FROM = 1e11
OFFSET_SUFFIX = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"

UNKNOWN_SENSOR = "unknown sensor"
MISSING_TIMESTAMP = "missing timestamp"
UNPARSABLE_TIMESTAMP = "unparsable timestamp"
UNPARSABLE_VALUE = "unparsable value"
UNRECOGNISED_PAYLOAD = "unrecognised payload"

RAW_COLUMNS = ["source_system", "source_ref", "sensor_id", "measurement", "value", "raw_ts", "receive_time"]
QUARANTINE_COLUMNS = [
    "reason",
    "source_system",
    "source_ref",
    "sensor_id",
    "measurement",
    "raw_value",
    "raw_ts",
    "ts",
    "receive_time",
    "payload",
]
DEDUP_KEY = ["sensor_id", "signal", "ts", "value"]

Reading = tuple[Any, Any, Any, Any]  # sensor_id (None: from topic), measurement, value, raw timestamp


class PayloadShapeError(ValueError):
    """Valid JSON, but none of the payload forms."""


@dataclass(frozen=True)
class MappedReadings:
    telemetry: pa.Table
    quarantine: pd.DataFrame
    duplicates_removed: int


def explode_payload(payload: object) -> list[Reading]:
    """The readings of one decoded message, or `PayloadShapeError` saying why it is none of the forms."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise PayloadShapeError("empty array")
    readings: list[Reading] = []
    for item in items:
        if not isinstance(item, dict):
            raise PayloadShapeError(f"expected a JSON object, got {type(item).__name__}")
        sensor_id = item.get("sensor_id")
        stamp = item.get("timestamp", item.get("ts"))
        values = item.get("values")
        measurements: list[tuple[Any, Any]]
        if isinstance(values, dict):
            measurements = list(values.items())
        elif sensor_id is not None:
            measurements = [(key, value) for key, value in item.items() if key not in METADATA_KEYS]
        else:
            raise PayloadShapeError("neither a reading with sensor_id nor a {ts, values} object")
        if not measurements:
            raise PayloadShapeError("a reading without measurements")
        sensor = None if sensor_id is None else str(sensor_id)
        readings.extend((sensor, key, value, stamp) for key, value in measurements)
    return readings


def payload_sensors(payload: object) -> set[str | None]:
    """The sensor ids a message names (None: from the topic); `PayloadShapeError` if it is none of the forms.

    The intake's check, cheaper than `explode_payload` because it does not visit the measurements.
    """
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise PayloadShapeError("empty array")
    try:
        # The common case in one comprehension (no Python per reading): objects naming a text sensor.
        named = {item["sensor_id"] for item in items}  # type: ignore[index]
    except (KeyError, TypeError):  # a non-object, no sensor_id, or an unhashable one: judged below
        named = {None}
    if all(type(sensor) is str for sensor in named):
        return named
    sensors: set[str | None] = set()
    for item in items:
        if not isinstance(item, dict):
            raise PayloadShapeError(f"expected a JSON object, got {type(item).__name__}")
        sensor_id = item.get("sensor_id")
        if sensor_id is None and not isinstance(item.get("values"), dict):
            raise PayloadShapeError("neither a reading with sensor_id nor a {ts, values} object")
        sensors.add(None if sensor_id is None else str(sensor_id))
    return sensors


class SensorLookup:
    """Sensor resolution for one message at a time (the ingester's intake check)."""

    def __init__(self, sensors: pd.DataFrame) -> None:
        active = _active(sensors)
        self.sensor_ids = frozenset(active["sensor_id"].astype(str))
        self.topic_sensors = _topic_sensors(active)

    def resolve(self, sensor_id: str | None, topic: str) -> str | None:
        if sensor_id is not None:
            return sensor_id if sensor_id in self.sensor_ids else None
        by_topic = self.topic_sensors.get(topic)
        if by_topic is not None:
            return by_topic
        last_level = topic.rsplit("/", 1)[-1]
        return last_level if last_level in self.sensor_ids else None


def flatten_messages(
    source_systems: Sequence[str],
    topics: Sequence[str],
    receive_ns: Sequence[int],
    payloads: Sequence[object],
    *,
    vectorised: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decoded messages -> one raw row per reading (`RAW_COLUMNS`) and a quarantine of bad messages.

    `vectorised=False` explodes every message with `explode_payload` in turn: the reference the
    default (the common payload shapes by column, the others message by message) is tested against.
    """
    exploded = _explode_by_shape(payloads) if vectorised else _explode_each(payloads)
    repeats = exploded.counts
    raw = pd.DataFrame(
        {
            "source_system": np.repeat(np.asarray(source_systems, dtype=object), repeats),
            "source_ref": np.repeat(np.asarray(topics, dtype=object), repeats),
            "sensor_id": pd.Series(exploded.sensor_ids, dtype=object),
            "measurement": pd.Series(exploded.measurements, dtype=object),
            "value": pd.Series(exploded.values, dtype=object),
            "raw_ts": pd.Series(exploded.stamps, dtype=object),
            "receive_time": pd.to_datetime(
                np.repeat(np.asarray(receive_ns, dtype=np.int64), repeats), utc=True
            ),
        },
        columns=RAW_COLUMNS,
    )
    return raw, _rejected_messages(exploded.rejected, source_systems, topics, receive_ns, payloads)


@dataclass(frozen=True)
class _Exploded:
    """The readings of some messages as columns, the readings per message, and the refused messages."""

    counts: np.ndarray  # int64, one per message
    sensor_ids: np.ndarray | list[Any]
    measurements: np.ndarray | list[Any]
    values: np.ndarray | list[Any]
    stamps: np.ndarray | list[Any]
    rejected: list[tuple[int, str]]


def _explode_each(payloads: Sequence[object]) -> _Exploded:
    """Every message through `explode_payload`: the general path, and the reference."""
    counts: list[int] = []
    sensor_ids: list[Any] = []
    measurements: list[Any] = []
    values: list[Any] = []
    stamps: list[Any] = []
    rejected: list[tuple[int, str]] = []
    for position, payload in enumerate(payloads):
        try:
            readings = explode_payload(payload)
        except PayloadShapeError as error:
            rejected.append((position, f"{UNRECOGNISED_PAYLOAD}: {error}"))
            counts.append(0)
            continue
        counts.append(len(readings))
        message_sensors, message_measurements, message_values, message_stamps = zip(*readings, strict=True)
        sensor_ids.extend(message_sensors)
        measurements.extend(message_measurements)
        values.extend(message_values)
        stamps.extend(message_stamps)
    return _Exploded(np.asarray(counts, dtype=np.int64), sensor_ids, measurements, values, stamps, rejected)


@dataclass(frozen=True)
class _Shape:
    """The readings of the objects with the keys `keys`: which keys are measurements, the stamp key."""

    keys: tuple[Any, ...]
    measurements: list[str]
    stamp_key: str | None

    @classmethod
    def of(cls, keys: tuple[Any, ...]) -> _Shape | None:
        """The shape of a reading naming its sensor; None for the others (the general path judges them)."""
        if "sensor_id" not in keys or "values" in keys or not all(type(key) is str for key in keys):
            return None
        measurements = [key for key in keys if key not in METADATA_KEYS]
        if not measurements:
            return None
        stamp_key = "timestamp" if "timestamp" in keys else "ts" if "ts" in keys else None
        return cls(keys, measurements, stamp_key)

    @property
    def order_free(self) -> bool:
        """Objects holding the same keys in another order give the same readings (one measurement)."""
        return len(self.measurements) == 1 and len(self.keys) == 2 + (self.stamp_key is not None)

    def columns(self, objects: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:
        """The objects' sensors, timestamps and measurements; `KeyError` when one lacks a key."""

        def column(key: str) -> np.ndarray:
            return _objects(map(itemgetter(key), objects), len(objects))

        stamps = None if self.stamp_key is None else column(self.stamp_key)
        return column("sensor_id"), stamps, [column(key) for key in self.measurements]


def _objects(items: Iterable[Any], count: int) -> np.ndarray:
    """A 1-D object array of `items` as they are (`np.array` would make rows of tuples and lists)."""
    return np.fromiter(items, dtype=object, count=count)


def _exactly(values: np.ndarray, kind: type) -> np.ndarray:
    """Which of `values` are of type `kind` itself (a subclass is not): `type` by `map`, compared in C."""
    types = _objects(map(type, values), len(values))
    return np.asarray(types == kind, dtype=bool)


def _explode_by_shape(payloads: Sequence[object]) -> _Exploded:
    """`_explode_each`, by column for the messages whose objects are readings naming a text sensor.

    A message's shape is its first object's keys; its other objects must hold the same keys (checked
    by column: key count and `itemgetter` maps, or each object's key order when that matters). For
    each shape, C-level `itemgetter` maps take the sensors, measurements and timestamps at once, and
    numpy scatters them to their rows. A message of another form (the `{ts, values}` form, mixed
    shapes, a non-text sensor, a refusal) goes through `explode_payload` whole, as in the reference.
    """
    message_count = len(payloads)
    item_lists = [payload if type(payload) is list else [payload] for payload in payloads]
    item_counts = np.fromiter(map(len, item_lists), dtype=np.int64, count=message_count)
    items = _objects(chain.from_iterable(item_lists), int(item_counts.sum()))
    message_of_item = np.repeat(np.arange(message_count), item_counts)
    first_item = np.concatenate(([0], np.cumsum(item_counts)))[:-1]
    general = item_counts == 0  # messages for the general path; an empty array is refused there
    general[message_of_item[~_exactly(items, dict)]] = True
    messages_by_keys: dict[tuple[Any, ...], list[int]] = {}
    for position in np.flatnonzero(~general).tolist():
        messages_by_keys.setdefault(tuple(items[first_item[position]]), []).append(position)
    shapes: list[_Shape] = []
    shape_of_message = np.full(message_count, -1, dtype=np.int64)
    for keys, positions in messages_by_keys.items():
        shape = _Shape.of(keys)
        if shape is None:
            general[positions] = True
        else:
            shape_of_message[positions] = len(shapes)
            shapes.append(shape)
    # The objects of each shape's messages, in their order: one stable sort, however many shapes.
    shape_of_item = shape_of_message[message_of_item]
    by_shape = np.argsort(shape_of_item, kind="stable")
    sorted_shapes = shape_of_item[by_shape]
    shape_starts = np.searchsorted(sorted_shapes, np.arange(len(shapes)), side="left")
    shape_ends = np.searchsorted(sorted_shapes, np.arange(len(shapes)), side="right")
    groups: list[tuple[_Shape, np.ndarray, tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]]] = []
    for shape, start, end in zip(shapes, shape_starts.tolist(), shape_ends.tolist(), strict=True):
        keys = shape.keys
        members = by_shape[start:end]
        columns = None
        if shape.order_free:
            lengths = np.fromiter(map(len, items[members]), dtype=np.int64, count=len(members))
            if (lengths == len(keys)).all():
                try:
                    columns = shape.columns(items[members])
                except KeyError:
                    columns = None
        if columns is None:
            same = np.fromiter(
                (tuple(item) == keys for item in items[members]), dtype=bool, count=len(members)
            )
            general[message_of_item[members[~same]]] = True
            members = members[same]
            columns = shape.columns(items[members])
        not_text = ~_exactly(columns[0], str)
        general[message_of_item[members[not_text]]] = True
        groups.append((shape, members, columns))
    # Readings per object of the common shapes; per message, theirs or the general path's.
    readings_per_item = np.zeros(len(items), dtype=np.int64)
    for shape, members, _ in groups:
        readings_per_item[members] = len(shape.measurements)
    readings_per_item[general[message_of_item]] = 0
    counts = np.bincount(message_of_item, weights=readings_per_item, minlength=message_count).astype(np.int64)
    exploded_apart: dict[int, list[Reading]] = {}
    rejected: list[tuple[int, str]] = []
    for position in np.flatnonzero(general).tolist():
        try:
            exploded_apart[position] = explode_payload(payloads[position])
        except PayloadShapeError as error:
            rejected.append((position, f"{UNRECOGNISED_PAYLOAD}: {error}"))
            exploded_apart[position] = []
        counts[position] = len(exploded_apart[position])
    message_start = np.concatenate(([0], np.cumsum(counts)))
    sensor_ids, measurements, values, stamps = (
        np.full(message_start[-1], None, dtype=object) for _ in range(4)
    )
    # An object's first row: its message's first row plus the rows of the message's earlier objects.
    rows_before_item = np.concatenate(([0], np.cumsum(readings_per_item)))
    item_start = (
        message_start[message_of_item] + rows_before_item[:-1] - rows_before_item[first_item[message_of_item]]
    )
    for shape, members, (group_sensors, group_stamps, group_values) in groups:
        keep = ~general[message_of_item[members]]
        for offset, key in enumerate(shape.measurements):
            rows = item_start[members[keep]] + offset
            sensor_ids[rows] = group_sensors[keep]
            measurements[rows] = key
            values[rows] = group_values[offset][keep]
            if group_stamps is not None:
                stamps[rows] = group_stamps[keep]
    for position, readings in exploded_apart.items():
        for row, reading in enumerate(readings, int(message_start[position])):
            sensor_ids[row], measurements[row], values[row], stamps[row] = reading
    rejected.sort()
    return _Exploded(counts, sensor_ids, measurements, values, stamps, rejected)


def parse_timestamps(raw_ts: pd.Series) -> pd.Series:
    """ISO-8601 strings (any offset; none means UTC) or epoch seconds/milliseconds -> UTC; NaT if neither."""
    plain = _plain_utc_texts(raw_ts)
    if plain is not None:
        return pd.Series(pd.DatetimeIndex(plain).tz_localize("UTC"), index=raw_ts.index)
    kinds = raw_ts.map(type)
    is_number = kinds.isin((int, float)).to_numpy()
    is_text = kinds.isin((str,)).to_numpy()
    parsed = pd.Series(pd.NaT, index=raw_ts.index, dtype="datetime64[ns, UTC]")
    if is_text.any():
        texts = raw_ts[is_text].astype(str)
        # Parsed apart: pandas reads an offset-less string in a mixed batch at the others' offset.
        in_utc = texts.str.endswith("Z").to_numpy()
        with_offset = in_utc if in_utc.all() else texts.str.contains(OFFSET_SUFFIX, regex=True).to_numpy()
        for group in (texts[with_offset], texts[~with_offset]):
            if len(group):
                parsed[group.index] = _parse_iso(group)
    if is_number.any():
        numbers = raw_ts[is_number].astype(np.float64)
        seconds = numbers.where(numbers.abs() < EPOCH_MILLISECONDS_FROM, numbers / 1000.0)
        parsed[is_number] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    return parsed


# The shape sensors and the simulator send ("2025-01-13T08:00:00.123456Z"), in years pandas holds in ns.
_PLAIN_UTC_ISO = r"^(?:19|20)\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$"


def _parse_iso(texts: pd.Series) -> pd.Series:
    """`pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")`, with a fast path.

    When every text has the plain UTC shape, Arrow's cast parses them about 5x faster; a text it
    refuses (a 30 February, a leap second) sends the whole batch to pandas, which makes it NaT.
    """
    stamps = _plain_utc_stamps(pa.array(texts.to_numpy(dtype=object), pa.string()))
    if stamps is not None:
        return pd.Series(pd.DatetimeIndex(stamps).tz_localize("UTC"), index=texts.index, name=texts.name)
    return pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")


def _plain_utc_stamps(array: pa.Array) -> np.ndarray | None:
    """Texts of the plain UTC shape as naive UTC `datetime64[ns]`; None if one is not or Arrow refuses one."""
    if not pc.all(pc.match_substring_regex(array, _PLAIN_UTC_ISO)).as_py():
        return None
    try:
        stamps = array.cast(pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return None
    return stamps.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)


def _plain_utc_texts(raw_ts: pd.Series) -> np.ndarray | None:
    """`parse_timestamps`'s common case in Arrow alone: every stamp a text of the plain UTC shape.

    Then the general path would parse them as one group, through `_parse_iso`'s fast path.
    """
    values = raw_ts.to_numpy(dtype=object)
    if not len(values) or not _exactly(values, str).all():
        return None
    try:
        array = pa.array(values, pa.string())
    except (pa.ArrowException, UnicodeError):
        return None
    return _plain_utc_stamps(array)


def map_readings(
    raw: pd.DataFrame, sensors: pd.DataFrame, ingest_run_id: str = "", ts: pd.Series | None = None
) -> MappedReadings:
    """Raw readings + the `iot_sensors` registry -> telemetry rows, a quarantine, the duplicates dropped.

    `ts`: `parse_timestamps(raw["raw_ts"])` when the caller has it already (the landing parsed them to
    find the readings' hours).
    """
    registry = _active(sensors).drop_duplicates("sensor_id").reset_index(drop=True)
    sensor_codes = pd.Index(registry["sensor_id"].astype(str)).get_indexer(_resolve_sensor_ids(raw, registry))
    ts = parse_timestamps(raw["raw_ts"]) if ts is None else ts
    value = pd.to_numeric(raw["value"], errors="coerce").to_numpy(dtype=np.float64)
    unparsed = ts.isna().to_numpy()
    reason = _first_reason(
        [
            (sensor_codes < 0, UNKNOWN_SENSOR),
            (_missing(raw["raw_ts"], unparsed), MISSING_TIMESTAMP),
            (unparsed, UNPARSABLE_TIMESTAMP),
            (np.isnan(value), UNPARSABLE_VALUE),
        ],
        len(raw),
    )
    bad = reason != ""
    quarantine = _quarantine_rows(raw[bad], ts[bad], reason[bad])
    keep = ~bad
    codes = sensor_codes[keep]
    sensor_type = registry["sensor_type"].to_numpy(dtype=object)[codes]
    measurement = raw["measurement"].to_numpy(dtype=object)[keep]
    own_type = (measurement == GENERIC_MEASUREMENT) | (measurement == sensor_type)
    signal_codes, signals = pd.factorize(np.where(own_type, sensor_type, measurement))
    ts_ns, value = ts.array.asi8[keep], value[keep]
    unique = _first_occurrences(codes, signal_codes, len(signals), ts_ns, value)
    codes, own_type, value = codes[unique], own_type[unique], value[unique]
    kept = np.flatnonzero(keep)[unique]
    telemetry = pa.table(
        {
            "org_id": _take(registry["org_id"], codes),
            "site_id": pa.nulls(len(codes), pa.string()),
            "line_id": pa.nulls(len(codes), pa.string()),
            "machine_id": _take(registry["machine_id"], codes),
            "signal": _take(pd.Series(signals), signal_codes[unique]),
            "ts": pa.array(ts_ns[unique] // 1000, pa.timestamp("us", tz="UTC")),
            "value": pa.array(value, pa.float64()),
            "text_value": pa.nulls(len(codes), pa.string()),
            "unit": pc.if_else(
                pa.array(own_type), _take(registry["unit"], codes), pa.scalar(None, pa.string())
            ),
            "quality": pa.array(_quality(value, own_type, registry, codes), pa.int16()),
            "source_system": _take_column(raw["source_system"], kept),
            "source_ref": _take_column(raw["source_ref"], kept),
            "ingest_run_id": pa.repeat(pa.scalar(ingest_run_id, pa.string()), len(codes)),
        },
        schema=TELEMETRY_SCHEMA,
    )
    return MappedReadings(telemetry, quarantine, int((~unique).sum()))


def empty_quarantine() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in QUARANTINE_COLUMNS})
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["receive_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def _active(sensors: pd.DataFrame) -> pd.DataFrame:
    if "is_active" not in sensors.columns:
        return sensors
    return sensors[sensors["is_active"].fillna(True).astype(bool)]


def _topic_sensors(registry: pd.DataFrame) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for column in ("mqtt_topic", "http_endpoint"):
        if column in registry.columns:
            rows = registry[registry[column].notna()]
            pairs.update(zip(rows[column].astype(str), rows["sensor_id"].astype(str), strict=True))
    return pairs


def _resolve_sensor_ids(raw: pd.DataFrame, registry: pd.DataFrame) -> pd.Series:
    known = pd.Index(registry["sensor_id"].astype(str))
    lookup = SensorLookup(registry)
    given = raw["sensor_id"]
    # Topics are few: resolve each distinct one once.
    topics = raw.loc[given.isna(), "source_ref"]
    by_topic = {topic: lookup.resolve(None, str(topic)) for topic in topics.unique()}
    resolved = given.copy()
    resolved[given.isna()] = topics.map(by_topic)
    return resolved.where(resolved.isin(known))


def _first_reason(conditions: list[tuple[np.ndarray, str]], length: int) -> np.ndarray:
    reason = np.full(length, "", dtype=object)
    for mask, text in reversed(conditions):
        reason[mask] = text
    return reason


def _quality(
    values: np.ndarray, own_type: np.ndarray, registry: pd.DataFrame, codes: np.ndarray
) -> np.ndarray:
    low = _bound(registry, "min_expected_value", -np.inf)[codes]
    high = _bound(registry, "max_expected_value", np.inf)[codes]
    outside = own_type & ((values < low) | (values > high))
    return np.where(outside, QUESTIONABLE_QUALITY, GOOD_QUALITY).astype(np.int16)


def _bound(registry: pd.DataFrame, column: str, missing: float) -> np.ndarray:
    if column not in registry.columns:
        return np.full(len(registry), missing)
    return pd.to_numeric(registry[column], errors="coerce").fillna(missing).to_numpy(dtype=np.float64)


def _take(values: pd.Series, codes: np.ndarray) -> pa.Array:
    """`values[codes]` as Arrow strings, without building a Python string per row."""
    return pc.take(pa.array(values.to_numpy(dtype=object), pa.string()), pa.array(codes))


def _take_column(column: pd.Series, positions: np.ndarray) -> pa.Array:
    return pa.array(column.to_numpy(dtype=object)[positions], pa.string())


def _missing(raw_ts: pd.Series, unparsed: np.ndarray) -> np.ndarray:
    """`raw_ts.isna()`, looked at only where the parse gave NaT (a missing stamp always parses to NaT)."""
    missing = np.zeros(len(raw_ts), dtype=bool)
    if unparsed.any():
        missing[unparsed] = raw_ts[unparsed].isna().to_numpy()
    return missing


def _first_occurrences(
    sensors: np.ndarray, signals: np.ndarray, signal_count: int, ts_ns: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Which rows are the first of their (sensor, signal, timestamp, value): not `duplicated()`.

    Sensor, signal and timestamp fold into one int64 when their ranges allow (a landing's hours do), so
    pandas hashes two columns instead of four; the same rows either way.
    """
    if len(ts_ns) and signals.min() >= 0:  # a signal without a name (-1) would fold onto another
        first_ts = int(ts_ns.min())
        span = int(ts_ns.max()) - first_ts + 1
        series_count = (int(sensors.max()) + 1) * max(signal_count, 1)
        if series_count * span < 2**62:
            series = sensors.astype(np.int64) * max(signal_count, 1) + signals
            folded = series * span + (ts_ns - first_ts)
            return ~pd.DataFrame({"key": folded, "value": values}).duplicated().to_numpy()
    frame = pd.DataFrame({"sensor": sensors, "signal": signals, "ts": ts_ns, "value": values})
    return ~frame.duplicated().to_numpy()


def _quarantine_rows(raw: pd.DataFrame, ts: pd.Series, reason: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "reason": reason,
            "source_system": raw["source_system"].to_numpy(dtype=object),
            "source_ref": raw["source_ref"].to_numpy(dtype=object),
            "sensor_id": raw["sensor_id"].to_numpy(dtype=object),
            "measurement": raw["measurement"].to_numpy(dtype=object),
            "raw_value": _as_text(raw["value"]),
            "raw_ts": _as_text(raw["raw_ts"]),
            "ts": ts.array,
            "receive_time": raw["receive_time"].array,
            "payload": None,
        },
        columns=QUARANTINE_COLUMNS,
    ).astype({"ts": "datetime64[ns, UTC]", "receive_time": "datetime64[ns, UTC]"})


def _rejected_messages(
    rejected: list[tuple[int, str]],
    source_systems: Sequence[str],
    topics: Sequence[str],
    receive_ns: Sequence[int],
    payloads: Sequence[object],
) -> pd.DataFrame:
    if not rejected:
        return empty_quarantine()
    positions = [position for position, _ in rejected]
    return pd.DataFrame(
        {
            "reason": [reason for _, reason in rejected],
            "source_system": [source_systems[p] for p in positions],
            "source_ref": [topics[p] for p in positions],
            "sensor_id": None,
            "measurement": None,
            "raw_value": None,
            "raw_ts": None,
            "ts": pd.NaT,
            "receive_time": pd.to_datetime([receive_ns[p] for p in positions], utc=True),
            "payload": [repr(payloads[p]) for p in positions],
        },
        columns=QUARANTINE_COLUMNS,
    ).astype({"ts": "datetime64[ns, UTC]"})


def _as_text(values: pd.Series) -> np.ndarray:
    return np.array([None if value is None else str(value) for value in values], dtype=object)
