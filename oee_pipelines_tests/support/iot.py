"""IoT harness: the ingester in a thread or as a killable child process, a publisher in the background,
the buffer read back and landed (the zero-loss tests and the reliability IoT kill scenario), and a
literal buffer written as the real intake writes it (the IoT landing tests).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from oee_pipelines.connectors.iot.buffer import BufferWriter, closed_segments, open_segments, read_records
from oee_pipelines.connectors.iot.ingester import IngesterConfig, IngesterStats, run_ingester
from oee_pipelines.connectors.iot.intake import MessageIntake
from oee_pipelines.connectors.iot.landing import BufferSource, hour_status, mark_landed
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.services.iot.landing import LAKE_SOURCES, hour_batches, hour_file, write_hour_file
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    PublishResult,
    SensorReadingGenerator,
    messages,
    sensor_topics,
)
from oee_pipelines.storage.lake import Lake

WAIT_SECONDS = 30.0
START = datetime(2025, 1, 13, 10, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


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


def sample_sensors() -> pd.DataFrame:
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


class RunningIngester:
    def __init__(self, config: IngesterConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.subscribed = threading.Event()
        self.stats: IngesterStats | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.stats = run_ingester(self.config, self.stop_event, self.subscribed)


@contextmanager
def ingester_thread(config: IngesterConfig) -> Iterator[RunningIngester]:
    """`run_ingester` in a thread until the block ends."""
    ingester = RunningIngester(config)
    ingester.thread.start()
    try:
        assert ingester.subscribed.wait(WAIT_SECONDS), "the ingester never subscribed"
        yield ingester
    finally:
        ingester.stop_event.set()
        ingester.thread.join(timeout=WAIT_SECONDS)
    assert not ingester.thread.is_alive()


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


def publish_in_background(
    broker: MosquittoBroker, readings: list[dict], topics: dict[str, str]
) -> tuple[threading.Thread, dict[str, object]]:
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


@dataclass(frozen=True)
class LakeCounts:
    """What the lake holds after landing a faulted run, and what the landing reported."""

    rows: int  # telemetry rows in the lake's IoT hour files
    distinct: int  # distinct readings among them (machine, signal, topic, timestamp, value)
    duplicates_removed: int  # as the landing reports it (the asset's `duplicates_removed`)
    quarantined: int
    redelivered: int = 0  # messages redelivered after their hours were landed


def land_into_lake(buffer_dir: Path, lake: Lake, sensors: pd.DataFrame) -> LakeCounts:
    """Land every hour to land (new or late) as `IotLanding` does, without the warehouse's quarantine
    table: the same map step, the same hour files (`write_hour_file`), then `mark_landed`."""
    status = hour_status(buffer_dir, now=LATER)
    duplicates = quarantined = 0
    for batch in hour_batches(BufferSource(buffer_dir), status.to_land, sensors):
        for source in LAKE_SOURCES:
            rows = batch.telemetry.filter(pc.equal(batch.telemetry["source_system"], source))
            write_hour_file(lake, hour_file(source, batch.stats.hour_start), rows)
        mark_landed(buffer_dir, batch.stats.hour_start, batch.stats.segments)
        duplicates += batch.stats.duplicates_removed
        quarantined += len(batch.quarantine)
    return lake_counts(lake, duplicates, quarantined)


def lake_counts(lake: Lake, duplicates_removed: int = 0, quarantined: int = 0) -> LakeCounts:
    """Rows and distinct readings in the lake's IoT hour files, read back from the Parquet files."""
    paths = sorted(Path(lake.path("telemetry")).glob("source=*/date=*/hour=*.parquet"))
    key = ["machine_id", "signal", "source_ref", "ts", "value"]
    tables = [pq.read_table(path, columns=key) for path in paths]
    lake_rows = pa.concat_tables(tables) if tables else pa.schema([]).empty_table()
    distinct = lake_rows.group_by(key).aggregate([]).num_rows if tables else 0
    return LakeCounts(lake_rows.num_rows, distinct, duplicates_removed, quarantined)


def redeliver_every(buffer_dir: Path, step: int) -> int:
    """Append every `step`-th buffered message again in a new closed segment, as a QoS 1 redelivery
    after a reconnect does once their hours were landed; return how many were redelivered."""
    buffered = [read_records(path) for path in closed_segments(buffer_dir)]
    messages = [pair for records in buffered for pair in zip(records.topic, records.payload, strict=True)]
    writer = BufferWriter(buffer_dir, "redelivery")
    intake = MessageIntake(writer)
    for topic, payload in messages[::step]:
        intake.accept("mqtt", topic, payload)
    writer.sync()
    writer.close()
    return len(messages[::step])


def run_with_faults(
    tmp_path: Path,
    broker: MosquittoBroker,
    sensors: pd.DataFrame,
    count: int,
    fault: Callable[[IngesterProcess], None],
) -> LakeCounts:
    """Publish `count` readings at QoS 1 through `fault`, land every hour into a lake, then redeliver a
    tenth of the messages after landing and land the late hours again: the lake's counts at the end."""
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
    lake = Lake(str(tmp_path / "lake"))
    first = land_into_lake(buffer_dir, lake, sensors)
    redelivered = redeliver_every(buffer_dir, step=10)
    late = land_into_lake(buffer_dir, lake, sensors)
    assert late.rows == first.rows, "a redelivery after landing added rows to the lake"
    return LakeCounts(
        late.rows, late.distinct, late.duplicates_removed, first.quarantined + late.quarantined, redelivered
    )


# A literal buffer for the landing tests: one MQTT temperature sensor, one HTTP humidity sensor.
TEN = datetime(2025, 1, 13, 10, tzinfo=UTC)
ELEVEN = TEN + timedelta(hours=1)
TEMPERATURE_TOPIC = "factory/MACHINE-001/temperature"
HUMIDITY_URL = "http://127.0.0.1:9/sensors/HUM-L001"

REGISTRY_SQL = """
INSERT INTO organizations (id, name) VALUES ('demo', 'Demo');
INSERT INTO sites (id, org_id, name) VALUES ('SITE-01', 'demo', 'Demo plant');
INSERT INTO production_lines (id, org_id, site_id, name, code)
  VALUES ('LINE-001', 'demo', 'SITE-01', 'L1', 'L1');
INSERT INTO machines (id, org_id, line_id, name, code) VALUES ('MACHINE-001', 'demo', 'LINE-001', 'M1', 'M1');
INSERT INTO iot_sensors (sensor_id, org_id, sensor_type, machine_id, protocol, mqtt_topic, http_endpoint,
                         unit, min_expected_value, max_expected_value) VALUES
  ('TEMP-M001', 'demo', 'temperature', 'MACHINE-001', 'MQTT', 'factory/MACHINE-001/temperature', NULL,
   'degC', 10, 90),
  ('HUM-L001', 'demo', 'humidity', 'MACHINE-001', 'HTTP', NULL, '/sensors/HUM-L001', '%RH', 20, 80);
"""


def temperature(moment: datetime, value: float, sensor_id: str = "TEMP-M001") -> bytes:
    return orjson.dumps({"sensor_id": sensor_id, "temperature": value, "timestamp": moment.isoformat()})


def write_buffer(
    buffer_dir: Path,
    *payloads: bytes,
    source_system: str = "mqtt",
    topic: str = TEMPERATURE_TOPIC,
    writer_name: str = "writer",
    close: bool = True,
) -> BufferWriter:
    """Append messages as the ingester does; closing the writer closes its segment."""
    writer = BufferWriter(buffer_dir, writer_name)
    intake = MessageIntake(writer)
    for payload in payloads:
        intake.accept(source_system, topic, payload, int(TEN.timestamp() * 1e9))
    writer.sync()
    if close:
        writer.close()
    return writer


def registry_frame() -> pd.DataFrame:
    """The registry of `REGISTRY_SQL` as a frame, for landing without the warehouse."""
    return pd.DataFrame(
        {
            "sensor_id": ["TEMP-M001"],
            "org_id": ["demo"],
            "sensor_type": ["temperature"],
            "machine_id": ["MACHINE-001"],
            "protocol": ["MQTT"],
            "mqtt_topic": [TEMPERATURE_TOPIC],
            "unit": ["degC"],
        }
    )
