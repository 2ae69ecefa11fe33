"""Simulated IoT sensors: deterministic generator, QoS 1 publisher (real mosquitto), HTTP sensor server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import pandas as pd
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    SensorReadingGenerator,
    from_plant,
    messages,
    sensor_topics,
)
from oee_pipelines.simulator.servers.http_sensors import http_sensor_app
from oee_pipelines.simulator.servers.runtime import ServerThread, free_port

START = datetime(2025, 1, 13, 8, tzinfo=UTC)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker", free_port()) as running:
        yield running


@pytest.fixture
def iot_sensors(plant) -> pd.DataFrame:
    return plant.iot_sensors()


class CountingSubscriber:
    """A bare paho subscriber on `factory/#` that keeps every payload it receives."""

    def __init__(self, port: int) -> None:
        self.payloads: list[bytes] = []
        self.subscribed = threading.Event()
        self.done = threading.Event()
        self.expected = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="counting-subscriber")
        self.client.on_connect = lambda client, *_: client.subscribe("factory/#", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.payloads.append(message.payload)
        if len(self.payloads) >= self.expected:
            self.done.set()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_readings_depend_only_on_sensor_and_time(iot_sensors) -> None:
    generator = SensorReadingGenerator(iot_sensors, seed=7)
    wide = generator.readings(START, START + timedelta(seconds=10))
    narrow = generator.readings(START + timedelta(seconds=5), START + timedelta(seconds=6))
    assert len(wide) == 10 * len(iot_sensors)
    assert narrow == wide[5 * len(iot_sensors) : 6 * len(iot_sensors)]
    assert generator.current("TEMP-M001", START + timedelta(seconds=5)) == narrow[0]
    assert narrow[0] == {
        "sensor_id": "TEMP-M001",
        "temperature": narrow[0]["temperature"],
        "timestamp": "2025-01-13T08:00:05.000Z",
    }
    other_seed = SensorReadingGenerator(iot_sensors, seed=8).readings(START, START + timedelta(seconds=10))
    assert other_seed != wide


def test_readings_stay_near_the_expected_range(iot_sensors) -> None:
    readings = SensorReadingGenerator(iot_sensors).readings(START, START + timedelta(hours=1), 60)
    bounds = iot_sensors.set_index("sensor_id")
    for reading in readings:
        row = bounds.loc[reading["sensor_id"]]
        value = reading[row["sensor_type"]]
        assert row["min_expected_value"] <= value <= row["max_expected_value"]


def test_batches_group_readings_of_one_topic(iot_sensors) -> None:
    mqtt_sensors = iot_sensors[iot_sensors["protocol"] == "MQTT"].head(2)
    readings = SensorReadingGenerator(mqtt_sensors).readings(START, START + timedelta(seconds=150))
    batches = list(messages(readings, sensor_topics(mqtt_sensors), batch_size=100))
    assert [(topic, count) for topic, _, count in batches] == [
        ("factory/MACHINE-001/temperature", 100),
        ("factory/MACHINE-001/temperature", 50),
        ("factory/MACHINE-001/vibration", 100),
        ("factory/MACHINE-001/vibration", 50),
    ]
    assert all(reading["sensor_id"] == "TEMP-M001" for reading in orjson.loads(batches[0][1]))


def test_a_full_paho_queue_is_waited_out_not_dropped(broker, iot_sensors) -> None:
    mqtt_sensors = iot_sensors[iot_sensors["protocol"] == "MQTT"]
    readings = SensorReadingGenerator(mqtt_sensors).readings(START, START + timedelta(seconds=100))
    subscriber = CountingSubscriber(broker.port)
    subscriber.expected = len(readings)
    try:
        with MqttPublisher("127.0.0.1", broker.port, max_queued_messages=5) as publisher:
            result = publisher.publish(messages(readings, sensor_topics(mqtt_sensors)))
            publisher.wait_until_delivered()
        assert subscriber.done.wait(30)
    finally:
        subscriber.stop()
    assert result.messages == result.readings == len(readings)
    assert result.queue_full_waits > 0
    assert sorted(subscriber.payloads) == sorted(orjson.dumps(reading) for reading in readings)


def test_from_plant_publishes_the_plant_simulator_readings(plant) -> None:
    readings = from_plant(plant, START, START + timedelta(minutes=2))
    sensors = plant.iot_sensors()
    mqtt_ids = set(sensors.loc[sensors["protocol"] == "MQTT", "sensor_id"])
    expected = plant.telemetry(
        START, START + timedelta(minutes=2), signals=["temperature", "vibration"]
    ).num_rows
    assert len(readings) == expected > 0
    assert {reading["sensor_id"] for reading in readings} <= mqtt_ids


def test_http_sensor_server_answers_current_readings(iot_sensors) -> None:
    http_sensors = iot_sensors[iot_sensors["protocol"] == "HTTP"]
    sensor_id = http_sensors["sensor_id"].iloc[0]
    with ServerThread(http_sensor_app(http_sensors, clock=lambda: START)) as server:
        one = httpx.get(f"{server.base_url}/sensors/{sensor_id}").json()
        every = httpx.get(f"{server.base_url}/sensors").json()
        missing = httpx.get(f"{server.base_url}/sensors/NOPE")
    assert one == SensorReadingGenerator(http_sensors).current(sensor_id, START)
    assert set(one) == {"sensor_id", "humidity", "timestamp"}
    assert len(every) == len(http_sensors) and one in every
    assert missing.status_code == 404
