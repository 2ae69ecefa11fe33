"""Intake shared by every IoT writer: judge one message, then buffer it or quarantine it with the reason.

Only what can be judged from the message alone (and the registry, when the writer has one) is
refused here: malformed JSON, none of the payload forms, an unknown sensor. The message is kept
whole in the quarantine log, so once the sensor is registered it can be replayed byte for byte.
Per-reading problems (a missing timestamp, a value that is not a number, no measurement at all) are
left to the mapping when the hour is landed.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pandas as pd

from oee_pipelines.connectors.iot.buffer import BufferWriter, encode_record
from oee_pipelines.domain.iot_mapping import PayloadShapeError, SensorLookup, payload_sensors

MALFORMED_JSON = "malformed JSON"


class MessageIntake:
    """Appends accepted messages to the buffer's segment and refused ones to its quarantine log."""

    def __init__(self, writer: BufferWriter, sensors: pd.DataFrame | None = None) -> None:
        self.writer = writer
        self.lookup = SensorLookup(sensors) if sensors is not None else None
        self.accepted = 0
        self.quarantined = 0

    def accept(
        self, source_system: str, topic: str, payload: bytes | bytearray, receive_ns: int | None = None
    ) -> bool:
        """Buffer the message (True) or quarantine it (False); durable only after `writer.sync()`."""
        received = receive_ns if receive_ns is not None else time.time_ns()
        reason = self.refusal_reason(topic, payload)
        record = encode_record(received, source_system, topic, bytes(payload), reason or "")
        if reason is None:
            self.writer.append(record)
            self.accepted += 1
            return True
        self.writer.quarantine(record)
        self.quarantined += 1
        return False

    def refusal_reason(self, topic: str, payload: bytes | bytearray) -> str | None:
        try:
            decoded = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            return f"{MALFORMED_JSON}: {error}"
        try:
            sensors = payload_sensors(decoded)
        except PayloadShapeError as error:
            return f"unrecognised payload: {error}"
        if self.lookup is None:
            return None
        unknown = sorted(
            str(sensor_id or topic) for sensor_id in sensors if self.lookup.resolve(sensor_id, topic) is None
        )
        return f"unknown sensor: {', '.join(unknown)}" if unknown else None


def read_sensor_registry(path: Path) -> pd.DataFrame:
    """An `iot_sensors` export (CSV or Parquet)."""
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
