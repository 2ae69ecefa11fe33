"""The MQTT ingester against a real mosquitto: routing, payload forms, quarantine, persistent sessions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.iot.buffer import quarantine_files, read_records
from oee_pipelines.connectors.iot.ingester import IngesterConfig
from oee_pipelines.connectors.iot.landing import hour_status
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.services.iot import land_hour
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher
from oee_pipelines_tests.support.iot import buffered_payloads, wait_until

HOUR = datetime(2025, 1, 13, 10, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def publish(broker: MosquittoBroker, *messages: tuple[str, bytes]) -> None:
    with MqttPublisher("127.0.0.1", broker.port, client_id="test-publisher") as publisher:
        publisher.publish((topic, payload, 1) for topic, payload in messages)
        publisher.wait_until_delivered()


def reading(sensor_id: str, value: float, second: int) -> bytes:
    return orjson.dumps({"sensor_id": sensor_id, "temperature": value, "timestamp": stamp(second)})


def stamp(second: int) -> str:
    return f"2025-01-13T10:{second // 60:02d}:{second % 60:02d}Z"


def land(buffer_dir: Path, sensors: pd.DataFrame) -> tuple[pa.Table, pd.DataFrame]:
    telemetry, quarantine, _ = land_hour(buffer_dir, HOUR, sensors)
    return telemetry, quarantine


def quarantined(buffer_dir: Path) -> list[tuple[str, str, bytes]]:
    records = [read_records(path) for path in quarantine_files(buffer_dir)]
    return [
        (reason, topic, payload)
        for columns in records
        for reason, topic, payload in zip(columns.reason, columns.topic, columns.payload, strict=True)
    ]


def test_single_level_wildcard_routes_only_matching_topics(
    broker, ingester_config: IngesterConfig, running_ingester, sensors
) -> None:
    config = dataclasses.replace(ingester_config, topics=("factory/+/temperature",))
    with running_ingester(config):
        publish(
            broker,
            (
                "factory/MACHINE-001/vibration",
                orjson.dumps({"sensor_id": "VIB-M001", "vibration": 2.0, "ts": stamp(1)}),
            ),
            ("factory/MACHINE-001/extra/temperature", reading("TEMP-M001", 99.0, 2)),
            ("factory/MACHINE-001/temperature", reading("TEMP-M001", 50.0, 3)),
        )
        wait_until(lambda: len(buffered_payloads(config.buffer_dir)) >= 1)
    telemetry, _ = land(config.buffer_dir, sensors)
    assert telemetry.column("source_ref").to_pylist() == ["factory/MACHINE-001/temperature"]
    assert telemetry.column("value").to_pylist() == [50.0]


def test_multi_level_wildcard_receives_every_depth(
    broker, ingester_config, running_ingester, sensors
) -> None:
    with running_ingester(ingester_config):
        publish(
            broker,
            ("factory/MACHINE-001/temperature", reading("TEMP-M001", 50.0, 1)),
            ("factory/MACHINE-001/extra/temperature", reading("TEMP-M001", 51.0, 2)),
            ("elsewhere/MACHINE-001/temperature", reading("TEMP-M001", 52.0, 3)),
        )
        wait_until(lambda: len(buffered_payloads(ingester_config.buffer_dir)) >= 2)
    telemetry, _ = land(ingester_config.buffer_dir, sensors)
    assert sorted(telemetry.column("value").to_pylist()) == [50.0, 51.0]


def test_every_payload_form_becomes_telemetry(broker, ingester_config, running_ingester, sensors) -> None:
    seed_form = {"sensor_id": "TEMP_ZONE_A", "temperature": 72.5, "humidity": 45.2, "timestamp": stamp(0)}
    values_form = {"ts": stamp(10), "values": {"value": 3.5}}
    device_flush = [{"ts": stamp(20 + i), "values": {"vibration": float(i)}} for i in range(3)]
    mixed_array = [{"sensor_id": "TEMP-M001", "temperature": 61.0, "timestamp": stamp(30)}, values_form]
    with running_ingester(ingester_config):
        publish(
            broker,
            ("factory/zone-a/env", orjson.dumps(seed_form)),
            ("factory/MACHINE-001/vibration", orjson.dumps(values_form)),
            ("factory/MACHINE-001/vibration", orjson.dumps(device_flush)),
            ("factory/MACHINE-001/vibration", orjson.dumps(mixed_array)),
        )
        wait_until(lambda: len(buffered_payloads(ingester_config.buffer_dir)) >= 4)
    telemetry, quarantine = land(ingester_config.buffer_dir, sensors)
    rows = sorted(
        (
            row["machine_id"],
            row["signal"],
            row["ts"].second + 60 * row["ts"].minute,
            row["value"],
            row["unit"],
        )
        for row in telemetry.to_pylist()
    )
    assert rows == [
        ("MACHINE-001", "temperature", 30, 61.0, "degC"),
        ("MACHINE-001", "vibration", 10, 3.5, "mm/s"),  # the second copy in the array is a duplicate
        ("MACHINE-001", "vibration", 20, 0.0, "mm/s"),
        ("MACHINE-001", "vibration", 21, 1.0, "mm/s"),
        ("MACHINE-001", "vibration", 22, 2.0, "mm/s"),
        ("MACHINE-002", "humidity", 0, 45.2, None),
        ("MACHINE-002", "temperature", 0, 72.5, "degC"),
    ]
    assert set(telemetry.column("source_system").to_pylist()) == {"mqtt"}
    assert quarantine.empty


def test_malformed_json_is_quarantined_and_ingestion_goes_on(
    broker, ingester_config, running_ingester, sensors
) -> None:
    with running_ingester(ingester_config) as ingester:
        publish(broker, ("factory/MACHINE-001/temperature", b'{"sensor_id": "TEMP-M001", "temperature": 7'))
        publish(broker, ("factory/MACHINE-001/temperature", reading("TEMP-M001", 55.0, 5)))
        wait_until(lambda: len(buffered_payloads(ingester_config.buffer_dir)) >= 1)
        assert ingester.thread.is_alive()
    [(reason, topic, payload)] = quarantined(ingester_config.buffer_dir)
    assert reason.startswith("malformed JSON")
    assert topic == "factory/MACHINE-001/temperature"
    assert payload == b'{"sensor_id": "TEMP-M001", "temperature": 7'
    telemetry, _ = land(ingester_config.buffer_dir, sensors)
    assert telemetry.column("value").to_pylist() == [55.0]


def test_unknown_sensors_are_quarantined_with_the_reason(
    broker, ingester_config, running_ingester, sensors
) -> None:
    config = dataclasses.replace(ingester_config, sensors=sensors)
    with running_ingester(config):
        publish(
            broker,
            ("factory/MACHINE-009/temperature", reading("TEMP-M009", 40.0, 1)),
            ("factory/MACHINE-009/pressure", orjson.dumps({"ts": stamp(2), "values": {"pressure": 3.0}})),
            ("factory/MACHINE-001/temperature", reading("TEMP-M001", 41.0, 3)),
        )
        wait_until(
            lambda: (
                len(buffered_payloads(config.buffer_dir)) >= 1 and len(quarantined(config.buffer_dir)) >= 2
            )
        )
    reasons = sorted(reason for reason, _, _ in quarantined(config.buffer_dir))
    assert reasons == ["unknown sensor: TEMP-M009", "unknown sensor: factory/MACHINE-009/pressure"]
    telemetry, _ = land(config.buffer_dir, sensors)
    assert telemetry.column("value").to_pylist() == [41.0]


def test_unknown_sensor_without_registry_at_intake_is_quarantined_when_landing(
    broker, ingester_config, running_ingester, sensors
) -> None:
    with running_ingester(ingester_config):
        publish(broker, ("factory/MACHINE-009/temperature", reading("TEMP-M009", 40.0, 1)))
        wait_until(lambda: len(buffered_payloads(ingester_config.buffer_dir)) >= 1)
    telemetry, quarantine = land(ingester_config.buffer_dir, sensors)
    assert telemetry.num_rows == 0
    assert quarantine[["reason", "sensor_id", "raw_value"]].values.tolist() == [
        ["unknown sensor", "TEMP-M009", "40.0"]
    ]


def test_persistent_session_delivers_what_was_published_while_down(
    broker, ingester_config, running_ingester, sensors
) -> None:
    with running_ingester(ingester_config):
        pass  # the first run creates the session and its subscription
    publish(
        broker, *(("factory/MACHINE-001/temperature", reading("TEMP-M001", 20.0 + i, i)) for i in range(50))
    )
    with running_ingester(ingester_config):
        wait_until(lambda: len(buffered_payloads(ingester_config.buffer_dir)) >= 50)
    status = hour_status(ingester_config.buffer_dir, now=LATER)
    assert status.complete == [HOUR]
    telemetry, _ = land(ingester_config.buffer_dir, sensors)
    assert sorted(telemetry.column("value").to_pylist()) == [20.0 + i for i in range(50)]
