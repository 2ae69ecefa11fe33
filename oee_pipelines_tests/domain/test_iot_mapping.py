"""IoT payloads -> telemetry rows: payload forms, sensor resolution, quarantine reasons, quality, dedup."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.domain.iot_mapping import (
    PayloadShapeError,
    SensorLookup,
    explode_payload,
    flatten_messages,
    map_readings,
    parse_timestamps,
)
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA

RECEIVED_NS = 1_736_762_400_000_000_000  # 2025-01-13 10:00 UTC


def registry() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": ["TEMP-M001", "VIB-M001", "OLD-M001"],
            "org_id": "demo",
            "sensor_type": ["temperature", "vibration", "temperature"],
            "machine_id": ["MACHINE-001", "MACHINE-001", "MACHINE-001"],
            "protocol": "MQTT",
            "mqtt_topic": ["factory/MACHINE-001/temperature", None, "factory/old"],
            "http_endpoint": None,
            "unit": ["degC", "mm/s", "degC"],
            "min_expected_value": [10.0, 0.0, 10.0],
            "max_expected_value": [90.0, 8.0, 90.0],
            "is_active": [True, True, False],
        }
    )


def mapped(*messages: tuple[str, object]):
    raw, rejected = flatten_messages(
        ["mqtt"] * len(messages),
        [topic for topic, _ in messages],
        [RECEIVED_NS] * len(messages),
        [p for _, p in messages],
    )
    assert rejected.empty
    return map_readings(raw, registry(), ingest_run_id="run-1")


def test_the_seed_form_gives_one_reading_per_measurement_key() -> None:
    payload = {
        "sensor_id": "TEMP_ZONE_A",
        "temperature": 72.5,
        "humidity": 45.2,
        "timestamp": "2025-10-05T12:00:00Z",
    }
    assert explode_payload(payload) == [
        ("TEMP_ZONE_A", "temperature", 72.5, "2025-10-05T12:00:00Z"),
        ("TEMP_ZONE_A", "humidity", 45.2, "2025-10-05T12:00:00Z"),
    ]


def test_values_form_and_arrays() -> None:
    batch = [{"ts": 1, "values": {"a": 1.0, "b": 2.0}}, {"sensor_id": "S", "x": 3, "ts": 2}]
    assert explode_payload(batch) == [(None, "a", 1.0, 1), (None, "b", 2.0, 1), ("S", "x", 3, 2)]


@pytest.mark.parametrize(
    "payload",
    [[], 42, "text", [{"sensor_id": "S", "x": 1}, 7], {"temperature": 1.0}, {"sensor_id": "S", "ts": 1}],
)
def test_shapes_that_are_none_of_the_forms_are_refused(payload: object) -> None:
    with pytest.raises(PayloadShapeError):
        explode_payload(payload)


def test_flatten_reports_unrecognised_messages_instead_of_failing() -> None:
    raw, rejected = flatten_messages(
        ["mqtt", "mqtt"], ["t/a", "t/b"], [RECEIVED_NS] * 2, [{"x": 1}, {"ts": 1, "values": {"v": 2}}]
    )
    assert len(raw) == 1
    assert rejected["source_ref"].tolist() == ["t/a"]
    assert rejected["reason"].str.startswith("unrecognised payload").tolist() == [True]


def test_timestamps_in_any_offset_or_epoch_unit_become_utc() -> None:
    parsed = parse_timestamps(
        pd.Series(
            [
                "2025-01-13T11:00:00+01:00",
                "2025-01-13T10:00:00",
                1736762400,
                1736762400000,
                1736762400.5,
                "soon",
                None,
            ]
        )
    )
    ten = pd.Timestamp("2025-01-13T10:00:00Z")
    assert parsed.tolist()[:5] == [ten, ten, ten, ten, ten + pd.Timedelta(milliseconds=500)]
    assert parsed.isna().tolist()[5:] == [True, True]


def test_sensor_comes_from_the_payload_the_registered_topic_or_the_last_topic_level() -> None:
    result = mapped(
        ("anything", {"sensor_id": "TEMP-M001", "temperature": 50.0, "ts": 1736762400}),
        ("factory/MACHINE-001/temperature", {"ts": 1736762401, "values": {"value": 51.0}}),
        ("devices/VIB-M001", {"ts": 1736762402, "values": {"vibration": 1.5}}),
    )
    rows = result.telemetry.to_pandas()
    assert rows[["machine_id", "signal", "value", "unit"]].values.tolist() == [
        ["MACHINE-001", "temperature", 50.0, "degC"],
        ["MACHINE-001", "temperature", 51.0, "degC"],
        ["MACHINE-001", "vibration", 1.5, "mm/s"],
    ]
    assert result.telemetry.schema.equals(TELEMETRY_SCHEMA)
    assert set(rows["ingest_run_id"]) == {"run-1"} and set(rows["source_system"]) == {"mqtt"}


def test_bad_readings_are_quarantined_each_with_its_reason() -> None:
    result = mapped(
        ("t", {"sensor_id": "NOPE", "temperature": 1.0, "ts": 1736762400}),
        ("factory/old", {"ts": 1736762400, "values": {"value": 1.0}}),  # inactive sensor
        ("t", {"sensor_id": "TEMP-M001", "temperature": 1.0}),
        ("t", {"sensor_id": "TEMP-M001", "temperature": 1.0, "timestamp": "yesterday"}),
        ("t", {"sensor_id": "TEMP-M001", "temperature": "hot", "ts": 1736762400}),
        ("t", {"sensor_id": "TEMP-M001", "temperature": "21.5", "ts": 1736762400}),
    )
    assert result.quarantine["reason"].tolist() == [
        "unknown sensor",
        "unknown sensor",
        "missing timestamp",
        "unparsable timestamp",
        "unparsable value",
    ]
    assert result.quarantine["raw_value"].tolist()[-1] == "hot"
    assert result.telemetry.column("value").to_pylist() == [21.5]


def test_out_of_range_values_are_kept_as_questionable() -> None:
    result = mapped(
        ("t", {"sensor_id": "TEMP-M001", "temperature": 150.0, "humidity": 150.0, "ts": 1736762400})
    )
    rows = result.telemetry.to_pandas().set_index("signal")
    assert rows.loc["temperature", "quality"] == 50
    assert rows.loc["humidity", "quality"] == 100  # the registry's range is for the sensor's own type
    assert pd.isna(rows.loc["humidity", "unit"])


def test_duplicates_by_sensor_signal_timestamp_and_value_are_dropped() -> None:
    same = {"sensor_id": "TEMP-M001", "temperature": 50.0, "ts": "2025-01-13T10:00:00Z"}
    result = mapped(
        ("t", same), ("t", same), ("t", {**same, "temperature": 50.5}), ("t", {**same, "ts": 1736762400})
    )
    assert result.duplicates_removed == 2
    assert sorted(result.telemetry.column("value").to_pylist()) == [50.0, 50.5]


def test_sensor_lookup_for_the_intake() -> None:
    lookup = SensorLookup(registry())
    assert lookup.resolve("TEMP-M001", "x") == "TEMP-M001"
    assert lookup.resolve(None, "factory/MACHINE-001/temperature") == "TEMP-M001"
    assert lookup.resolve(None, "devices/VIB-M001") == "VIB-M001"
    assert lookup.resolve("OLD-M001", "x") is None
    assert lookup.resolve(None, "factory/unknown") is None
