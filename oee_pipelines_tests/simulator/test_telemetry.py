"""Telemetry in the one schema: complete state and counter signals, faulty process sensors."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.simulator.plant import SimulatedPlant


@pytest.fixture(scope="module")
def day(plant: SimulatedPlant) -> pd.DataFrame:
    return plant.telemetry("2025-01-14", "2025-01-15").to_pandas()


def test_the_table_has_exactly_the_telemetry_schema(plant: SimulatedPlant) -> None:
    table = plant.telemetry("2025-01-14 10:00", "2025-01-14 11:00", machine_ids=["MACHINE-001"])
    assert isinstance(table, pa.Table)
    assert table.schema.equals(TELEMETRY_SCHEMA)
    assert set(table.column("source_system").to_pylist()) == {"simulator"}


def test_state_and_counter_signals_are_complete(plant: SimulatedPlant, day: pd.DataFrame) -> None:
    pieces = day[day["signal"] == "pieces_good"]
    assert len(pieces) == 16 * 1440 and len(day[day["signal"] == "pieces_rejected"]) == 16 * 1440
    assert (
        pieces.groupby("machine_id")["ts"]
        .apply(lambda ts: ts.diff().dropna().eq(pd.Timedelta(minutes=1)).all())
        .all()
    )
    states = day[day["signal"] == "machine_state"]
    log = plant.machine_states("2025-01-14", "2025-01-15")
    assert len(states) == len(log)
    assert (states["ts"].to_numpy() == log["start_time"].to_numpy()).all()
    assert (states["text_value"].to_numpy() == log["reason_code"].fillna("RUNNING").to_numpy()).all()
    assert states["value"].eq((states["text_value"] == "RUNNING").astype(float)).all()


def test_counter_rows_match_the_pieces_log(plant: SimulatedPlant, day: pd.DataFrame) -> None:
    # Telemetry takes ts in [start, end); pieces() takes (start, end]: compare on the common minutes.
    log = plant.pieces("2025-01-14", "2025-01-15")
    good = day[(day["signal"] == "pieces_good") & (day["ts"] > pd.Timestamp("2025-01-14", tz="UTC"))]
    assert good["value"].sum() == log.loc[log["ts"] < pd.Timestamp("2025-01-15", tz="UTC"), "good"].sum()


def test_process_sensors_have_noise_spikes_duplicates_and_gaps(
    plant: SimulatedPlant, day: pd.DataFrame
) -> None:
    process = day[day["signal"].isin(["temperature", "pressure", "vibration", "speed", "humidity"])]
    assert set(process["signal"]) == {"temperature", "pressure", "vibration", "speed", "humidity"}
    assert process.duplicated().sum() > 0
    assert (process["quality"] == 50).any() and (process["quality"] == 100).mean() > 0.99
    ranges = plant.sensor_range_config().rename(columns={"signal_type": "signal"})
    checked = process.merge(
        ranges[["machine_id", "signal", "min_value", "max_value"]], on=["machine_id", "signal"]
    )
    assert len(checked) == len(process)
    outside = (checked["value"] < checked["min_value"]) | (checked["value"] > checked["max_value"])
    assert 0 < outside.mean() < 0.01
    steps = process.drop_duplicates().groupby(["machine_id", "signal"])["ts"].diff().dropna()
    assert (steps > pd.Timedelta(seconds=10)).any()
    assert steps.min() == pd.Timedelta(seconds=10)


def test_process_values_follow_the_machine_state(day: pd.DataFrame) -> None:
    speed = day[(day["signal"] == "speed") & (day["machine_id"] == "MACHINE-001")].set_index("ts")["value"]
    states = day[(day["signal"] == "machine_state") & (day["machine_id"] == "MACHINE-001")].set_index("ts")
    running = states["value"].reindex(speed.index, method="ffill")
    assert speed[running == 1.0].median() > 20 and speed[running == 0.0].median() < 2


def test_source_refs_are_the_registered_addresses(plant: SimulatedPlant, day: pd.DataFrame) -> None:
    refs = day.drop_duplicates(["machine_id", "signal"]).set_index(["machine_id", "signal"])["source_ref"]
    assert refs[("MACHINE-001", "temperature")] == "factory/MACHINE-001/temperature"
    sensors = plant.iot_sensors()
    assert set(sensors["mqtt_topic"].dropna()) == set(
        day.loc[day["signal"].isin(["temperature", "vibration"]), "source_ref"]
    )
    assert set(sensors["http_endpoint"].dropna()) == set(day.loc[day["signal"] == "humidity", "source_ref"])
    tags = plant.historian_tag_mappings()
    historian = day[
        day["signal"].isin(["machine_state", "pieces_good", "pieces_rejected", "pressure", "speed"])
    ]
    assert set(historian["source_ref"]) == set(tags["historian_tag"])


def test_filters_do_not_change_the_values(plant: SimulatedPlant, day: pd.DataFrame) -> None:
    one = plant.telemetry(
        "2025-01-14 06:00", "2025-01-14 07:00", machine_ids=["MACHINE-010"], signals=["pressure"]
    )
    one = one.to_pandas()
    window = (day["ts"] >= pd.Timestamp("2025-01-14 06:00", tz="UTC")) & (
        day["ts"] < pd.Timestamp("2025-01-14 07:00", tz="UTC")
    )
    expected = day[window & (day["machine_id"] == "MACHINE-010") & (day["signal"] == "pressure")]
    pd.testing.assert_frame_equal(one, expected.reset_index(drop=True))


def test_an_unknown_signal_is_refused(plant: SimulatedPlant) -> None:
    with pytest.raises(ValueError, match="unknown signal 'temprature'"):
        plant.telemetry("2025-01-14", "2025-01-15", signals=["temprature"])
