"""IoT landing fixtures: a buffer written by the real intake, a warehouse with a sensor registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import psycopg
import pytest

from oee_pipelines.connectors.iot.buffer import BufferWriter
from oee_pipelines.connectors.iot.intake import MessageIntake
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource

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


@pytest.fixture
def registry_database(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(REGISTRY_SQL)
    return clean_database


@pytest.fixture
def buffer_dir(tmp_path: Path) -> Path:
    return tmp_path / "buffer"


@pytest.fixture
def resources(tmp_path: Path, buffer_dir: Path, registry_database: str) -> dict[str, object]:
    return {
        "iot": IoTBufferResource(buffer_dir=str(buffer_dir), org_id="demo"),
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(database_url=registry_database),
    }


@pytest.fixture
def sensors_frame() -> pd.DataFrame:
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
