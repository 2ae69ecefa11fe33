"""The demo's simulation made faster (issue 19 item 7) writes the very bytes it wrote before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import pandas as pd
import pytest

from oee_pipelines.simulator.mqtt_publisher import from_plant, iso_micros
from oee_pipelines.simulator.plant import SimulatedPlant

START = datetime(2025, 1, 13, 8, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_iso_micros_prints_what_strftime_printed(zone: str) -> None:
    micros = np.array([0, 1, 999_999, 1_736_726_400_123_456, 1_767_225_599_999_999], dtype=np.int64)
    stamps = pd.Series(pd.to_datetime(micros, unit="us", utc=True)).dt.tz_convert(zone)

    assert iso_micros(stamps) == stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()


def test_from_plant_payloads_are_the_bytes_the_strftime_version_wrote(plant: SimulatedPlant) -> None:
    end = START + timedelta(minutes=30)
    readings = from_plant(plant, START, end)

    # The former formatting, over the same join.
    sensors = plant.iot_sensors()
    mqtt_sensors = sensors[sensors["protocol"] == "MQTT"]
    telemetry = plant.telemetry(START, end, signals=sorted(mqtt_sensors["sensor_type"].unique())).to_pandas()
    joined = telemetry.merge(
        mqtt_sensors[["sensor_id", "machine_id", "sensor_type"]],
        left_on=["machine_id", "signal"],
        right_on=["machine_id", "sensor_type"],
    )
    expected = [
        {"sensor_id": sensor_id, signal: value, "timestamp": stamp}
        for sensor_id, signal, value, stamp in zip(
            joined["sensor_id"],
            joined["signal"],
            joined["value"],
            joined["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            strict=True,
        )
    ]

    assert len(readings) > 100
    assert orjson.dumps(readings) == orjson.dumps(expected)


@pytest.mark.parametrize("day", [date(2025, 1, 13), date(2025, 1, 15)])
def test_signal_arrays_hold_what_the_telemetry_table_holds(plant: SimulatedPlant, day: date) -> None:
    begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = begin + timedelta(days=1)
    machines = plant.machines()["id"].tolist()
    # A state, both counters, a machine sensor and the line sensors (reported on one machine only).
    signals = ["machine_state", "pieces_good", "pieces_rejected", "temperature", "humidity"]
    checked = 0
    for machine_id in machines[:5]:
        for signal in signals:
            table = plant.telemetry(begin, end, [machine_id], [signal])
            ts_us, value, quality, text_value = plant.signal_arrays(machine_id, signal, begin, end)

            assert ts_us.dtype == np.int64 and value.dtype == np.float64 and quality.dtype == np.int16
            np.testing.assert_array_equal(ts_us, table["ts"].cast("int64").to_numpy())
            np.testing.assert_array_equal(value, table["value"].to_numpy(zero_copy_only=False))
            np.testing.assert_array_equal(quality, table["quality"].to_numpy(zero_copy_only=False))
            assert text_value.tolist() == table["text_value"].to_pylist()
            checked += table.num_rows
    assert checked > 10_000


def test_signal_arrays_refuses_an_unknown_signal(plant: SimulatedPlant) -> None:
    with pytest.raises(ValueError, match="unknown signal 'vibration_x'"):
        plant.signal_arrays(plant.machines()["id"].iloc[0], "vibration_x", START, START + timedelta(hours=1))
