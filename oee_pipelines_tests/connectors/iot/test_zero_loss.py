"""Zero loss: N readings published at QoS 1 while the ingester process is SIGKILLed (or the broker restarts).

After landing, exactly N distinct readings must come out: nothing lost, redeliveries removed by key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.connectors.iot.landing import hour_status, land_hour
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    PublishResult,
    SensorReadingGenerator,
    messages,
    sensor_topics,
)
from oee_pipelines_tests.connectors.iot.conftest import WAIT_SECONDS, buffered_payloads, wait_until

START = datetime(2025, 1, 13, 10, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


class IngesterProcess:
    """`python -m oee_pipelines.connectors.iot.ingester` as a child process we can kill."""

    def __init__(self, broker: MosquittoBroker, buffer_dir: Path, log_path: Path) -> None:
        self.command = [
            sys.executable,
            "-m",
            "oee_pipelines.connectors.iot.ingester",
            "--broker-host=127.0.0.1",
            f"--broker-port={broker.port}",
            "--topic=factory/#",
            f"--buffer-dir={buffer_dir}",
            "--client-id=zero-loss-ingester",
        ]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=log)
        expected = self.starts
        wait_until(lambda: self.log_path.read_text().count("subscribed to") >= expected)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)

    def terminate(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=WAIT_SECONDS)


def generated_readings(sensors: pd.DataFrame, count: int) -> list[dict]:
    mqtt_sensors = sensors[sensors["protocol"] == "MQTT"]
    seconds = -(-count // len(mqtt_sensors))
    readings = SensorReadingGenerator(mqtt_sensors).readings(
        START, START + pd.Timedelta(seconds=seconds), 0.1
    )
    return readings[:count]


def publish_in_background(broker: MosquittoBroker, readings: list[dict], topics: dict[str, str]):
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            with MqttPublisher("127.0.0.1", broker.port, client_id="zero-loss-publisher") as publisher:
                outcome["result"] = publisher.publish(messages(readings, topics), rate_per_second=8000)
                publisher.wait_until_delivered(timeout_seconds=60)
        except Exception as error:  # reported by the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def distinct_landed(buffer_dir: Path, sensors: pd.DataFrame) -> tuple[int, int]:
    """(distinct readings landed over every complete hour, quarantined rows)."""
    status = hour_status(buffer_dir, now=LATER)
    keys: set[tuple] = set()
    rows = quarantined = 0
    for hour in status.complete:
        telemetry, quarantine, _ = land_hour(buffer_dir, hour, sensors)
        frame = telemetry.select(["machine_id", "signal", "ts", "value"]).to_pandas()
        keys.update(frame.itertuples(index=False, name=None))
        rows += telemetry.num_rows
        quarantined += len(quarantine)
    assert rows == len(keys), "a reading was landed twice"
    return len(keys), quarantined


def run_with_faults(
    tmp_path: Path,
    broker: MosquittoBroker,
    sensors: pd.DataFrame,
    count: int,
    fault: Callable[[IngesterProcess], None],
) -> tuple[int, int]:
    buffer_dir = tmp_path / "buffer"
    ingester = IngesterProcess(broker, buffer_dir, tmp_path / "ingester.log")
    ingester.start()
    readings = generated_readings(sensors, count)
    publisher, outcome = publish_in_background(broker, readings, sensor_topics(sensors))
    try:
        fault(ingester)
        publisher.join(timeout=120)
        assert "error" not in outcome, outcome.get("error")
        assert isinstance(outcome["result"], PublishResult) and outcome["result"].readings == count
        wait_until(lambda: len(set(buffered_payloads(buffer_dir))) >= count, seconds=60)
    finally:
        exit_code = ingester.terminate()
    assert exit_code == 0
    return distinct_landed(buffer_dir, sensors)


@pytest.mark.parametrize("count", [20_000])
def test_no_reading_lost_when_the_ingester_is_killed_twice(tmp_path, broker, sensors, count) -> None:
    def kill_twice(ingester: IngesterProcess) -> None:
        for fraction in (0.25, 0.6):
            wait_until(
                lambda f=fraction: len(buffered_payloads(tmp_path / "buffer")) >= count * f, seconds=60
            )
            ingester.kill()
            ingester.start()

    assert run_with_faults(tmp_path, broker, sensors, count, kill_twice) == (count, 0)


@pytest.mark.parametrize("count", [10_000])
def test_no_reading_lost_when_the_broker_restarts(tmp_path, broker, sensors, count) -> None:
    def restart_broker(ingester: IngesterProcess) -> None:
        wait_until(lambda: len(buffered_payloads(tmp_path / "buffer")) >= count * 0.4, seconds=60)
        broker.restart()

    assert run_with_faults(tmp_path, broker, sensors, count, restart_broker) == (count, 0)
