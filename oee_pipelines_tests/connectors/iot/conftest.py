"""IoT connector test fixtures: a real mosquitto on loopback, a sensor registry, a running ingester."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.connectors.iot.buffer import closed_segments, open_segments, read_records
from oee_pipelines.connectors.iot.ingester import IngesterConfig, IngesterStats, run_ingester
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.servers.runtime import free_port

WAIT_SECONDS = 30.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """mosquitto with persistence on and max_queued_messages 0, stopped by PID afterwards."""
    with MosquittoBroker(tmp_path / "broker", free_port()) as running:
        yield running


@pytest.fixture
def sensors() -> pd.DataFrame:
    """A small `iot_sensors` registry (columns as in sql/001_foundation.sql)."""
    rows = [
        (
            "TEMP-M001",
            "temperature",
            "MACHINE-001",
            "MQTT",
            "factory/MACHINE-001/temperature",
            None,
            "degC",
            10,
            90,
        ),
        ("VIB-M001", "vibration", "MACHINE-001", "MQTT", "factory/MACHINE-001/vibration", None, "mm/s", 0, 8),
        ("TEMP_ZONE_A", "temperature", "MACHINE-002", "MQTT", "factory/zone-a/env", None, "degC", 10, 90),
        ("HUM-L001", "humidity", "MACHINE-001", "HTTP", None, "/sensors/HUM-L001", "%RH", 20, 80),
    ]
    columns = [
        "sensor_id",
        "sensor_type",
        "machine_id",
        "protocol",
        "mqtt_topic",
        "http_endpoint",
        "unit",
        "min_expected_value",
        "max_expected_value",
    ]
    frame = pd.DataFrame(rows, columns=columns).assign(org_id="demo", is_active=True)
    frame["polling_interval_seconds"] = pd.array([None, None, None, 60], dtype="Int32")
    return frame


@pytest.fixture
def ingester_config(tmp_path: Path, broker: MosquittoBroker) -> IngesterConfig:
    return IngesterConfig(
        broker_host="127.0.0.1",
        broker_port=broker.port,
        topics=("factory/#",),
        buffer_dir=tmp_path / "buffer",
        client_id="test-ingester",
    )


class RunningIngester:
    def __init__(self, config: IngesterConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.subscribed = threading.Event()
        self.stats: IngesterStats | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.stats = run_ingester(self.config, self.stop_event, self.subscribed)


@pytest.fixture
def running_ingester() -> Callable[[IngesterConfig], object]:
    """`with running_ingester(config) as ingester:` runs `run_ingester` in a thread until the block ends."""

    @contextmanager
    def start(config: IngesterConfig) -> Iterator[RunningIngester]:
        ingester = RunningIngester(config)
        ingester.thread.start()
        try:
            assert ingester.subscribed.wait(WAIT_SECONDS), "the ingester never subscribed"
            yield ingester
        finally:
            ingester.stop_event.set()
            ingester.thread.join(timeout=WAIT_SECONDS)
        assert not ingester.thread.is_alive()

    return start


def wait_until(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    """Poll `condition` until true; fail (not hang) after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        time.sleep(0.02)


def buffered_payloads(buffer_dir: Path) -> list[bytes]:
    """Every payload in the buffer's segments, open ones included (their synced prefix)."""
    paths = [*closed_segments(buffer_dir), *open_segments(buffer_dir)]
    return [payload for path in paths for payload in read_records(path).payload]
