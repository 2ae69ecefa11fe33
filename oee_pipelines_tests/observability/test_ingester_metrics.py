"""The MQTT ingester process serves its own /metrics on a loopback port (`--metrics-port`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.observability.exposition import sample_value
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.iot import wait_until

TOPIC = "factory/MACHINE-001/temperature"
GOOD = b'{"sensor_id": "TEMP-M001", "value": 21.5, "timestamp": "2025-01-13T10:00:00Z"}'


def metrics_text(url: str) -> str:
    try:
        return httpx.get(url, timeout=5).text
    except httpx.TransportError:
        return ""


def test_received_buffered_quarantined_and_fsync_batches_move(
    tmp_path: Path, scrape: Callable[[str], str]
) -> None:
    metrics_port = free_port()
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with MosquittoBroker(tmp_path / "broker", free_port()) as broker:
        command = [
            sys.executable, "-m", "oee_pipelines.connectors.iot.ingester", f"--broker-port={broker.port}",
            "--topic=factory/#", f"--buffer-dir={tmp_path / 'buffer'}", "--client-id=metrics-ingester",
            f"--metrics-port={metrics_port}",
        ]  # fmt: skip
        log_path = tmp_path / "ingester.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=log)
        try:
            wait_until(lambda: "subscribed to" in log_path.read_text())
            assert sample_value(scrape(url), "oee_iot_readings_received_total", source="mqtt") == 0
            with MqttPublisher("127.0.0.1", broker.port, client_id="metrics-publisher") as publisher:
                publisher.publish([(TOPIC, GOOD, 1)] * 30 + [(TOPIC, b"{not json", 1)] * 5)
                publisher.wait_until_delivered(timeout_seconds=30)
            wait_until(lambda: sample_value(metrics_text(url), "oee_iot_readings_received_total") >= 35)
            text = scrape(url)
        finally:
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert sample_value(text, "oee_iot_readings_received_total", source="mqtt") == 35
    assert sample_value(text, "oee_iot_readings_buffered_total", source="mqtt") == 30
    assert sample_value(text, "oee_iot_readings_quarantined_total", source="mqtt") == 5
    assert sample_value(text, "oee_iot_fsync_batches_total", source="mqtt") >= 1
    assert sample_value(text, "oee_iot_buffer_lag_seconds", source="mqtt") >= 0
