"""`oee iot ingest|poll|simulate` with a real mosquitto (the ingester its own process); IoT in `oee up`."""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from oee_pipelines.cli import main
from oee_pipelines.cli.iot import broker_settings, iot_services, poller_config, publish_live
from oee_pipelines.connectors.iot.buffer import closed_segments, open_segments, read_records
from oee_pipelines.connectors.iot.config import MqttSettings
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.settings import ConfigError, Settings
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.processes import running_oee

WAIT_SECONDS = 60.0


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def buffered(buffer_dir: Path) -> list[tuple[str, str, bytes]]:
    paths = [*closed_segments(buffer_dir), *open_segments(buffer_dir)]
    records = [read_records(path) for path in paths]
    return [
        item
        for columns in records
        for item in zip(columns.source_system, columns.topic, columns.payload, strict=True)
    ]


def environment(tmp_path: Path, config: dict) -> dict[str, str]:
    config_file = tmp_path / "connectors.yml"
    config_file.write_text(yaml.safe_dump(config))
    return {
        **os.environ,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_CONFIG_FILE": str(config_file),
        "OEE_IOT_BUFFER_DIR": str(tmp_path / "buffer"),
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker", free_port()) as running_broker:
        yield running_broker


def test_the_ingester_process_buffers_what_the_simulated_sensors_publish(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    env = environment(tmp_path, {"iot": {"mqtt": {"broker": "127.0.0.1", "port": broker.port}}})
    ready = tmp_path / "ingester.ready"
    buffer_dir = tmp_path / "buffer"
    stop_sensors = threading.Event()
    with running_oee("iot", "ingest", "--ready-file", str(ready), env=env) as ingester:
        wait_until(lambda: ready.exists() or ingester.poll() is not None)
        assert ready.exists(), ingester.stderr.read() if ingester.stderr else ""
        sensors = threading.Thread(
            target=publish_live,
            args=(Settings.from_env(env), MqttSettings("127.0.0.1", broker.port), 0.2, stop_sensors),
        )
        sensors.start()
        try:
            wait_until(lambda: len(buffered(buffer_dir)) >= 64)
        finally:
            stop_sensors.set()
            sensors.join(timeout=WAIT_SECONDS)
    assert ingester.returncode == 0
    assert open_segments(buffer_dir) == []  # a clean stop closes the segment
    records = buffered(buffer_dir)
    topics = {topic for _, topic, _ in records}
    assert "factory/MACHINE-001/temperature" in topics and "factory/MACHINE-016/vibration" in topics
    readings = [orjson.loads(payload) for _, _, payload in records]
    assert {tuple(sorted(reading)) for reading in readings} == {
        ("sensor_id", "temperature", "timestamp"),
        ("sensor_id", "timestamp", "vibration"),
    }


def poll_flags(**overrides: object) -> argparse.Namespace:
    return argparse.Namespace(**{"sensors": None, "base_url": None, "buffer_dir": None, **overrides})


def test_poll_takes_the_seed_endpoints_or_the_registrys_http_sensors(tmp_path: Path) -> None:
    endpoint = {"url": "http://127.0.0.1:9/api/data", "interval_seconds": 5, "sensor_id": "ENV_01"}
    settings = Settings.from_env(environment(tmp_path, {"iot": {"http_polling": {"endpoints": [endpoint]}}}))
    config = poller_config(settings, poll_flags())
    assert [(e.url, e.interval_seconds, e.sensor_id) for e in config.endpoints] == [
        ("http://127.0.0.1:9/api/data", 5.0, "ENV_01")
    ]
    assert config.buffer_dir == tmp_path / "buffer"

    registry = tmp_path / "iot_sensors.csv"
    SimulatedPlant(load_plant_description(), seed=42).iot_sensors().to_csv(registry, index=False)
    config = poller_config(settings, poll_flags(sensors=registry, base_url="http://127.0.0.1:9/"))
    assert [e.url for e in config.endpoints][:1] == ["http://127.0.0.1:9/sensors/HUM-L001"]
    assert len(config.endpoints) == 4


def test_poll_without_endpoints_says_what_to_configure(tmp_path: Path) -> None:
    settings = Settings.from_env(environment(tmp_path, {"iot": {}}))
    with pytest.raises(ConfigError, match=r"set iot\.http_polling\.endpoints"):
        poller_config(settings, poll_flags())


def test_ingest_without_a_broker_says_what_to_configure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("OEE_CONFIG_FILE", raising=False)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path))
    assert main(["iot", "ingest"]) == 2
    assert "set iot.mqtt.broker in OEE_CONFIG_FILE, or pass --broker-host" in capsys.readouterr().err


def test_the_seed_iot_section_and_flags_give_the_broker(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        {
            "iot": {
                "mqtt": {
                    "broker": "iot-broker.local",
                    "topics": [{"pattern": "factory/+/temperature", "sensor_type": "temperature"}, "plant/#"],
                    "credentials": {"username": "oee", "password": "secret"},
                }
            }
        },
    )
    settings = Settings.from_env(env)
    flags = argparse.Namespace(broker_host=None, broker_port=1884, topic=None, client_id="ingester-2")
    broker = broker_settings(settings, flags)
    assert (broker.broker_host, broker.broker_port, broker.client_id) == (
        "iot-broker.local",
        1884,
        "ingester-2",
    )
    assert broker.topics == ("factory/+/temperature", "plant/#")
    assert (broker.username, broker.password) == ("oee", "secret")


def test_up_without_a_broker_runs_a_local_mosquitto_and_points_every_process_at_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    existing = tmp_path / "connectors.yml"
    existing.write_text(
        yaml.safe_dump({"mes": {"system_type": "custom_rest", "base_url": "http://127.0.0.1:9"}})
    )
    monkeypatch.setenv("OEE_CONFIG_FILE", str(existing))
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    with iot_services(Settings.from_env()) as commands:
        config = Settings.from_env().connectors  # as the processes started next read it
        port = config["iot"]["mqtt"]["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    assert [command[1:] for command in commands.values()] == [["iot", "ingest"], ["iot", "simulate"]]
    assert config["mes"]["base_url"] == "http://127.0.0.1:9"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
