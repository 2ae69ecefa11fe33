"""The IoT landing service as a plain pipeline: source -> map -> write, then the hour is recorded;
a write that fails leaves the hour to land, with nothing recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from oee_pipelines.connectors.iot.landing import BufferSource, hour_status
from oee_pipelines.services.iot import IotLanding, SensorRegistryMissingError, hour_file
from oee_pipelines.services.iot.landing import HourSink, hour_batches
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.iot import (
    ELEVEN,
    LATER,
    TEN,
    registry_frame,
    temperature,
    write_buffer,
)


def test_source_and_map_give_each_hour_its_own_readings(tmp_path: Path) -> None:
    write_buffer(tmp_path, temperature(TEN, 20.0), temperature(TEN, 20.0), temperature(ELEVEN, 30.0))

    ten, eleven = hour_batches(BufferSource(tmp_path), [TEN, ELEVEN], registry_frame())

    assert ten.telemetry.column("value").to_pylist() == [20.0]
    assert ten.stats.duplicates_removed == 1
    assert eleven.telemetry.column("value").to_pylist() == [30.0]
    assert hour_status(tmp_path, now=LATER).landed == []  # mapping writes nothing


def test_land_writes_each_hour_then_records_it(tmp_path: Path, registry_database: str) -> None:
    buffer_dir, lake = tmp_path / "buffer", Lake(str(tmp_path / "lake"))
    write_buffer(buffer_dir, temperature(TEN, 20.0), temperature(ELEVEN + timedelta(minutes=5), 31.0))

    summary = IotLanding(lake, registry_database, "demo").land(buffer_dir, [TEN, ELEVEN], "run-1")

    assert (summary.hours, summary.readings) == (2, 2)
    assert pq.read_table(lake.path(hour_file("mqtt", ELEVEN))).column("value").to_pylist() == [31.0]
    assert hour_status(buffer_dir, now=LATER).landed == [TEN, ELEVEN]


def test_a_failed_write_leaves_the_hour_to_land(
    tmp_path: Path, registry_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer_dir = tmp_path / "buffer"
    write_buffer(buffer_dir, temperature(TEN, 20.0))

    def disk_full(self: HourSink, batch: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(HourSink, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        IotLanding(Lake(str(tmp_path / "lake")), registry_database, "demo").land(buffer_dir, [TEN], "run-1")

    assert hour_status(buffer_dir, now=LATER).to_land == [TEN]


def test_without_a_sensor_registry_nothing_lands(tmp_path: Path, clean_database: str) -> None:
    write_buffer(tmp_path / "buffer", temperature(TEN, 20.0))

    with pytest.raises(SensorRegistryMissingError, match="iot_sensors is empty"):
        IotLanding(Lake(str(tmp_path / "lake")), clean_database, "demo").land(tmp_path / "buffer", [TEN], "r")
