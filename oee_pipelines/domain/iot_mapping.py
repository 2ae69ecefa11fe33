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

from collections.abc import Sequence
from dataclasses import dataclass
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decoded messages -> one raw row per reading (`RAW_COLUMNS`) and a quarantine of bad messages."""
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
    repeats = np.asarray(counts, dtype=np.int64)
    raw = pd.DataFrame(
        {
            "source_system": np.repeat(np.asarray(source_systems, dtype=object), repeats),
            "source_ref": np.repeat(np.asarray(topics, dtype=object), repeats),
            "sensor_id": pd.Series(sensor_ids, dtype=object),
            "measurement": pd.Series(measurements, dtype=object),
            "value": pd.Series(values, dtype=object),
            "raw_ts": pd.Series(stamps, dtype=object),
            "receive_time": pd.to_datetime(
                np.repeat(np.asarray(receive_ns, dtype=np.int64), repeats), utc=True
            ),
        },
        columns=RAW_COLUMNS,
    )
    return raw, _rejected_messages(rejected, source_systems, topics, receive_ns, payloads)


def parse_timestamps(raw_ts: pd.Series) -> pd.Series:
    """ISO-8601 strings (any offset; none means UTC) or epoch seconds/milliseconds -> UTC; NaT if neither."""
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
    array = pa.array(texts.to_numpy(dtype=object), pa.string())
    if pc.all(pc.match_substring_regex(array, _PLAIN_UTC_ISO)).as_py():
        try:
            stamps = array.cast(pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            pass
        else:
            return stamps.to_pandas().set_axis(texts.index).dt.as_unit("ns").rename(texts.name)
    return pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")


def map_readings(raw: pd.DataFrame, sensors: pd.DataFrame, ingest_run_id: str = "") -> MappedReadings:
    """Raw readings + the `iot_sensors` registry -> telemetry rows, a quarantine, the duplicates dropped."""
    registry = _active(sensors).drop_duplicates("sensor_id").reset_index(drop=True)
    sensor_codes = pd.Index(registry["sensor_id"].astype(str)).get_indexer(_resolve_sensor_ids(raw, registry))
    ts = parse_timestamps(raw["raw_ts"])
    value = pd.to_numeric(raw["value"], errors="coerce").to_numpy(dtype=np.float64)
    reason = _first_reason(
        [
            (sensor_codes < 0, UNKNOWN_SENSOR),
            (raw["raw_ts"].isna().to_numpy(), MISSING_TIMESTAMP),
            (ts.isna().to_numpy(), UNPARSABLE_TIMESTAMP),
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
    unique = ~pd.DataFrame(
        {"sensor": codes, "signal": signal_codes, "ts": ts_ns, "value": value}
    ).duplicated()
    unique = unique.to_numpy()
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
            "ingest_run_id": pa.array(np.full(len(codes), ingest_run_id, dtype=object), pa.string()),
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
    codes, uniques = pd.factorize(column.to_numpy(dtype=object)[positions])
    return _take(pd.Series(uniques, dtype=object), codes)


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
