"""The buffer sensor requests complete hours once, and a landed hour again when late readings arrive."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from oee_pipelines.connectors.iot.landing import mark_landed
from oee_pipelines.defs.iot.sensors import iot_buffer_sensor
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.services.iot import land_hour
from oee_pipelines_tests.support.iot import ELEVEN, TEN, temperature, write_buffer

Tick = Callable[[Path, str | None], dg.SensorResult]


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def evaluate(instance: dg.DagsterInstance) -> Callable[[Path, str | None], dg.SensorResult]:
    """One sensor tick over a buffer, from a cursor."""

    def tick(buffer_dir: Path, cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"iot": IoTBufferResource(buffer_dir=str(buffer_dir))}
        )
        result = iot_buffer_sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    return tick


def requested(result: dg.SensorResult) -> list[tuple[str | None, str | None]]:
    return [(request.partition_key, request.run_key) for request in result.run_requests or []]


def test_an_empty_buffer_requests_nothing(tmp_path: Path, evaluate: Tick) -> None:
    result = evaluate(tmp_path / "no-buffer-yet", None)
    assert requested(result) == []
    assert json.loads(result.cursor or "") == {"requested": {}}


def test_complete_hours_are_requested_once(tmp_path: Path, evaluate: Tick) -> None:
    write_buffer(tmp_path, temperature(TEN, 1.0), temperature(ELEVEN, 2.0))

    first = evaluate(tmp_path, None)
    assert requested(first) == [
        ("2025-01-13-10:00", "iot_sensor_batches:2025-01-13-10:00:generation-1"),
        ("2025-01-13-11:00", "iot_sensor_batches:2025-01-13-11:00:generation-1"),
    ]
    assert json.loads(first.cursor or "") == {"requested": {"2025-01-13-10:00": 1, "2025-01-13-11:00": 1}}

    again = evaluate(tmp_path, first.cursor)
    assert requested(again) == []
    assert again.cursor == first.cursor


def test_an_hour_still_held_by_an_open_segment_waits(tmp_path: Path, evaluate: Tick) -> None:
    writer = write_buffer(tmp_path, temperature(TEN, 1.0), close=False)
    try:
        assert requested(evaluate(tmp_path, None)) == []
    finally:
        writer.close()
    assert requested(evaluate(tmp_path, None))[0][0] == "2025-01-13-10:00"


def test_late_readings_request_a_landed_hour_again_as_a_new_run(
    tmp_path: Path, evaluate: Tick, sensors_frame: pd.DataFrame
) -> None:
    write_buffer(tmp_path, temperature(TEN, 1.0))
    first = evaluate(tmp_path, None)
    _, _, stats = land_hour(tmp_path, TEN, sensors_frame)
    mark_landed(tmp_path, TEN, stats.segments)

    landed = evaluate(tmp_path, first.cursor)
    assert requested(landed) == []
    assert json.loads(landed.cursor or "") == {"requested": {}}

    write_buffer(tmp_path, temperature(TEN + timedelta(minutes=5), 2.0))
    late = evaluate(tmp_path, landed.cursor)
    assert requested(late) == [("2025-01-13-10:00", "iot_sensor_batches:2025-01-13-10:00:generation-2")]
    assert json.loads(late.cursor or "") == {"requested": {"2025-01-13-10:00": 2}}
