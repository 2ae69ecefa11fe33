"""MQTT ingestion: sustained readings/s from mosquitto through the ingester into the durable buffer.

Each case preloads the broker with the messages for an offline persistent session, then times how
long the subscriber takes to drain them (so the publisher does not compete for the 2 cores). The
baseline is a bare paho subscriber with the same kind of session that only counts messages (auto
acknowledgement, no parsing, no disk). Cases: one reading per message, and 100 per message.
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from oee_pipelines.connectors.iot.buffer import BODY_HEADER, RECORD_HEADER, closed_segments, open_segments
from oee_pipelines.connectors.iot.ingester import IngesterConfig, run_ingester
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    SensorReadingGenerator,
    messages,
    sensor_topics,
)
from oee_pipelines.simulator.servers.runtime import free_port

START = datetime(2025, 1, 13, 8, tzinfo=UTC)
TIMEOUT_SECONDS = 300.0


def sensor_registry(count: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": [f"TEMP-M{i:03d}" for i in range(count)],
            "sensor_type": "temperature",
            "mqtt_topic": [f"factory/MACHINE-{i:03d}/temperature" for i in range(count)],
            "min_expected_value": 10.0,
            "max_expected_value": 90.0,
        }
    )


def build_messages(reading_count: int, batch_size: int) -> list[tuple[str, bytes, int]]:
    sensors = sensor_registry()
    seconds = -(-reading_count // len(sensors))
    readings = SensorReadingGenerator(sensors).readings(START, START + timedelta(seconds=seconds))[
        :reading_count
    ]
    return list(messages(readings, sensor_topics(sensors), batch_size))


def preload(port: int, items: list[tuple[str, bytes, int]]) -> None:
    with MqttPublisher("127.0.0.1", port, client_id="bench-publisher") as publisher:
        publisher.publish(items)
        publisher.wait_until_delivered(TIMEOUT_SECONDS)


def ingester_drain_seconds(
    broker: MosquittoBroker, folder: Path, items: list[tuple[str, bytes, int]]
) -> float:
    config = IngesterConfig("127.0.0.1", broker.port, ("factory/#",), folder / "buffer", "bench-ingester")
    _run_once_to_create_session(config)
    preload(broker.port, items)
    expected_bytes = sum(
        RECORD_HEADER.size + BODY_HEADER.size + len(topic) + len(payload) for topic, payload, _ in items
    )
    stop = threading.Event()
    started = time.perf_counter()
    thread = threading.Thread(target=run_ingester, args=(config, stop), daemon=True)
    thread.start()
    try:
        _wait(lambda: _buffered_bytes(config.buffer_dir) >= expected_bytes)
        return time.perf_counter() - started
    finally:
        stop.set()
        thread.join(TIMEOUT_SECONDS)


def bare_drain_seconds(broker: MosquittoBroker, items: list[tuple[str, bytes, int]]) -> float:
    _bare_subscriber(broker.port, None).disconnect()  # creates the session
    preload(broker.port, items)
    done = threading.Event()
    started = time.perf_counter()
    client = _bare_subscriber(broker.port, (len(items), done))
    try:
        _wait(done.is_set)
        return time.perf_counter() - started
    finally:
        client.disconnect()
        client.loop_stop()


def _bare_subscriber(port: int, target: tuple[int, threading.Event] | None) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5
    )
    received = [0]
    subscribed = threading.Event()

    def on_message(*_: object) -> None:
        received[0] += 1
        if target and received[0] >= target[0]:
            target[1].set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("factory/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    _wait(subscribed.is_set)
    if target is None:
        client.loop_stop()
    return client


def _run_once_to_create_session(config: IngesterConfig) -> None:
    stop, subscribed = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_ingester, args=(config, stop, subscribed), daemon=True)
    thread.start()
    _wait(subscribed.is_set)
    stop.set()
    thread.join(TIMEOUT_SECONDS)


def _buffered_bytes(buffer_dir: Path) -> int:
    return sum(
        path.stat().st_size
        for path in [*closed_segments(buffer_dir), *open_segments(buffer_dir)]
        if path.exists()
    )


def _wait(condition: object) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        time.sleep(0.005)


def run(quick: bool) -> list[dict]:
    cases = [("single reading per message", 5_000 if quick else 50_000, 1)]
    cases.append(("100 readings per message", 50_000 if quick else 1_000_000, 100))
    rows = []
    for label, reading_count, batch_size in cases:
        items = build_messages(reading_count, batch_size)
        with (
            tempfile.TemporaryDirectory(prefix="oee-bench-mqtt-") as folder,
            MosquittoBroker(Path(folder) / "broker", free_port()) as broker,
        ):
            ingester_seconds = ingester_drain_seconds(broker, Path(folder), items)
            bare_seconds = bare_drain_seconds(broker, items)
        value = reading_count / ingester_seconds
        baseline = reading_count / bare_seconds
        rows.append(
            {
                "name": f"iot mqtt ingester, {label} (mosquitto -> fsynced buffer)",
                "value": value,
                "unit": "readings/s",
                "baseline_name": "bare paho subscriber counting messages",
                "baseline_value": baseline,
                "ratio": value / baseline,
                "messages": len(items),
                "readings": reading_count,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
