"""The HTTP polling connector against the simulated HTTP sensor server (real uvicorn on loopback)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest

from oee_pipelines.connectors.iot.buffer import quarantine_files, read_records
from oee_pipelines.connectors.iot.http_poller import (
    PollEndpoint,
    PollerConfig,
    PollerStats,
    endpoints_from_sensors,
    run_poller,
    with_defaults,
)
from oee_pipelines.services.iot import land_hour
from oee_pipelines.simulator.servers.http_sensors import http_sensor_app
from oee_pipelines.simulator.servers.runtime import FaultSwitches, ServerThread
from oee_pipelines_tests.support.iot import buffered_payloads, wait_until

HOUR = datetime(2025, 1, 13, 10, tzinfo=UTC)


@pytest.fixture
def switches() -> FaultSwitches:
    return FaultSwitches()


@pytest.fixture
def sensor_server(sensors: pd.DataFrame, switches: FaultSwitches) -> Iterator[ServerThread]:
    """Each request sees a clock one second later, so every poll is a new reading."""
    seconds = itertools.count()
    app = http_sensor_app(
        sensors[sensors["protocol"] == "HTTP"],
        clock=lambda: HOUR + timedelta(seconds=next(seconds)),
        switches=switches,
    )
    with ServerThread(app) as server:
        yield server


def poll_until(config: PollerConfig, polls: int) -> PollerStats:
    stop = threading.Event()
    outcome: dict[str, PollerStats] = {}
    thread = threading.Thread(target=lambda: outcome.update(stats=run_poller(config, stop)), daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(buffered_payloads(config.buffer_dir)) >= polls)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    return outcome["stats"]


def poller_config(tmp_path: Path, sensors: pd.DataFrame, server: ServerThread) -> PollerConfig:
    endpoints = tuple(
        PollEndpoint(e.url, 0.02, e.sensor_id, e.machine_id)
        for e in endpoints_from_sensors(sensors, server.base_url)
    )
    return PollerConfig(endpoints, tmp_path / "buffer", sensors=sensors, backoff_initial_seconds=0.01)


def test_polled_readings_land_as_http_telemetry(tmp_path, sensors, sensor_server) -> None:
    config = poller_config(tmp_path, sensors, sensor_server)
    stats = poll_until(config, polls=3)
    telemetry, quarantine, _ = land_hour(config.buffer_dir, HOUR, sensors)
    frame = telemetry.to_pandas()
    assert len(frame) == stats.polls >= 3
    assert set(frame["signal"]) == {"humidity"}
    assert set(frame["machine_id"]) == {"MACHINE-001"}
    assert set(frame["unit"]) == {"%RH"}
    assert set(frame["source_system"]) == {"http"}
    assert set(frame["source_ref"]) == {f"{sensor_server.base_url}/sensors/HUM-L001"}
    assert frame["ts"].is_unique
    assert quarantine.empty


def test_server_errors_are_retried_with_backoff(tmp_path, sensors, sensor_server, switches) -> None:
    switches.fail_next = 2
    switches.throttle_next = 1
    switches.retry_after_seconds = 0
    stats = poll_until(poller_config(tmp_path, sensors, sensor_server), polls=2)
    assert stats.failures == 3
    assert stats.polls >= 2


def test_malformed_body_is_quarantined_and_polling_goes_on(
    tmp_path, sensors, sensor_server, switches
) -> None:
    switches.malformed_next = 1
    config = poller_config(tmp_path, sensors, sensor_server)
    poll_until(config, polls=2)
    [quarantine_log] = quarantine_files(config.buffer_dir)
    reasons = read_records(quarantine_log).reason
    assert len(reasons) == 1 and reasons[0].startswith("malformed JSON")


def test_missing_sensor_id_and_timestamp_are_filled_from_the_endpoint() -> None:
    endpoint = PollEndpoint("http://sensor.local/api/data", 60, "ENV_01", "MACHINE-001")
    receive_ns = int(HOUR.timestamp() * 1e9)
    filled = orjson.loads(with_defaults(b'{"humidity": 45.2}', endpoint, receive_ns))
    assert filled == {"humidity": 45.2, "sensor_id": "ENV_01", "timestamp": "2025-01-13T10:00:00Z"}
    kept = orjson.loads(with_defaults(b'{"sensor_id": "X", "humidity": 1, "ts": 5}', endpoint, receive_ns))
    assert kept == {"sensor_id": "X", "humidity": 1, "ts": 5}
