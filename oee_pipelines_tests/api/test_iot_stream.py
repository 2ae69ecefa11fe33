"""The live IoT WebSocket stream with a real mosquitto: filtered by sensor type, scoped by organization."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from oee_pipelines.api.app import create_app
from oee_pipelines.api.iot_stream import ALL_TYPES, LiveFeed, Subscriber, requested_types
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.connectors.iot.config import MqttSettings
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher
from oee_pipelines.simulator.servers.runtime import free_port

ROUNDS = 100
RECEIVE_SECONDS = 0.3
SENSORS_SQL = """
INSERT INTO iot_sensors (sensor_id, org_id, sensor_type, machine_id, protocol, mqtt_topic, unit) VALUES
  ('TEMP-A01', 'acme', 'temperature', 'MACHINE-A01', 'MQTT', 'factory/MACHINE-A01/temperature', 'degC'),
  ('VIB-A01', 'acme', 'vibration', 'MACHINE-A01', 'MQTT', 'factory/MACHINE-A01/vibration', 'mm/s'),
  ('TEMP-B01', 'globex', 'temperature', 'MACHINE-B01', 'MQTT', 'factory/MACHINE-B01/temperature', 'degC')
"""


class LifespanServer:
    """uvicorn on loopback in a thread, lifespan on: the stream's broker client is stopped with it."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return f"ws://127.0.0.1:{self.port}"
            time.sleep(0.02)
        raise RuntimeError("the API did not start")

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path_factory.mktemp("broker"), free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def stream_url(
    database_url: str,
    api_keys: dict[str, str],
    broker: MosquittoBroker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SENSORS_SQL)
    data_dir = tmp_path_factory.mktemp("data")
    config = Path(data_dir) / "connectors.yml"
    config.write_text(yaml.safe_dump({"iot": {"mqtt": {"broker": "127.0.0.1", "port": broker.port}}}))
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_CONFIG_FILE": str(config)})
    app = create_app(settings, database_url=database_url, api_settings=ApiSettings(pool_max_size=2))
    try:
        with LifespanServer(app) as base_url:
            yield f"{base_url}/ws/iot/sensors"
    finally:
        app.state.services.close()


def reading(sensor_id: str, signal: str, value: float) -> bytes:
    return orjson.dumps({"sensor_id": sensor_id, signal: value, "timestamp": "2025-01-13T10:00:00Z"})


def publish_until(publisher: MqttPublisher, socket: ClientConnection, last_sensor: str) -> list[dict]:
    """Publish rounds (acme vibration, globex temperature, then acme temperature) until the round's
    `last_sensor` reading arrives; the broker and the stream keep order, so anything the filter let
    through from the same round arrived before it. Early rounds may predate the stream's subscription."""
    received: list[dict] = []
    for round_number in range(1, ROUNDS + 1):
        publisher.publish(
            [
                ("factory/MACHINE-A01/vibration", reading("VIB-A01", "vibration", round_number), 1),
                ("factory/MACHINE-B01/temperature", reading("TEMP-B01", "temperature", round_number), 1),
                ("factory/MACHINE-A01/temperature", reading("TEMP-A01", "temperature", round_number), 1),
            ]
        )
        while True:
            try:
                message = orjson.loads(socket.recv(timeout=RECEIVE_SECONDS))
            except TimeoutError:
                break
            received.append(message)
            if message["sensor_id"] == last_sensor and message["value"] == round_number:
                return received
    raise AssertionError(f"no {last_sensor} reading reached the socket in {ROUNDS} rounds: {received}")


def test_a_temperature_subscriber_receives_its_organizations_temperature_only(
    stream_url: str, api_keys: dict[str, str], broker: MosquittoBroker
) -> None:
    with (
        connect(f"{stream_url}/temperature?api_key={api_keys['acme']}") as socket,
        MqttPublisher("127.0.0.1", broker.port, client_id="test-stream-publisher") as publisher,
    ):
        received = publish_until(publisher, socket, "TEMP-A01")
    assert {(m["sensor_id"], m["sensor_type"], m["machine_id"]) for m in received} == {
        ("TEMP-A01", "temperature", "MACHINE-A01")
    }
    assert received[-1]["type"] == "iot_sensor"


def test_an_all_subscriber_receives_every_type_of_its_organization(
    stream_url: str, api_keys: dict[str, str], broker: MosquittoBroker
) -> None:
    with (
        connect(f"{stream_url}/all/?api_key={api_keys['acme']}") as socket,
        MqttPublisher("127.0.0.1", broker.port, client_id="test-stream-publisher") as publisher,
    ):
        received = publish_until(publisher, socket, "TEMP-A01")
    last_round = received[-1]["value"]
    assert [(m["sensor_id"], m["value"]) for m in received[-2:]] == [
        ("VIB-A01", last_round),
        ("TEMP-A01", last_round),
    ]
    assert {m["machine_id"] for m in received} == {"MACHINE-A01"}


@pytest.mark.parametrize("key_name", [None, "revoked"])
def test_a_socket_without_a_valid_key_is_refused(
    stream_url: str, api_keys: dict[str, str], key_name: str | None
) -> None:
    query = f"?api_key={api_keys[key_name]}" if key_name else ""
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stream_url}/temperature{query}")
    assert refused.value.response.status_code == 403


def test_a_slow_subscriber_drops_its_oldest_messages_and_holds_no_one_up() -> None:
    feed = LiveFeed(MqttSettings(broker_host="127.0.0.1"))
    slow = Subscriber("acme", frozenset({"temperature"}), limit=3)
    other_org = Subscriber("globex", None, limit=3)
    feed.add(slow)
    feed.add(other_org)
    feed.dispatch([("acme", "temperature", str(n)) for n in range(5)] + [("acme", "vibration", "v")])
    assert (list(slow.queue), slow.dropped) == (["2", "3", "4"], 2)
    assert list(other_org.queue) == []
    feed.remove(slow)
    feed.remove(other_org)
    assert feed.subscribers == {} and feed.subscriber_count == 0


def test_sensor_types_are_all_or_comma_separated_names() -> None:
    assert requested_types(ALL_TYPES) is None
    assert requested_types("temperature,vibration") == {"temperature", "vibration"}
    with pytest.raises(ValueError, match="comma-separated"):
        requested_types("temperature;DROP")
