"""The demo plant served by the PI and AVEVA simulators comes back, through the tag mapping, as itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.domain.tag_mapping import TagMapper
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import PointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import BASIC, TINY_RETRY

START = datetime(2025, 1, 7, 6, tzinfo=UTC)
END = START + timedelta(hours=2)


@pytest.fixture(scope="module")
def plant() -> SimulatedPlant:
    return SimulatedPlant(load_plant_description())


def signal_rows(table: pa.Table, machine_id: str, signal: str) -> pa.Table:
    mask = pc.and_(pc.equal(table["machine_id"], machine_id), pc.equal(table["signal"], signal))
    return table.filter(mask).sort_by("ts")


def test_pi_cumulative_counters_come_back_as_the_plants_per_minute_increments(plant: SimulatedPlant) -> None:
    mappings = plant.historian_tag_mappings()
    machine = "MACHINE-001"
    tags = mappings[(mappings["machine_id"] == machine) & (mappings["historian_system"] == "pi")]
    simulator = PiWebApiSimulator(PointSource.from_plant(plant, "pi"), max_returned_items_per_call=1000)
    with ServerThread(simulator.app) as server:
        client = PiWebApiClient(
            server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=50, policy=TINY_RETRY
        )
        # One counter interval earlier: the first reading is the counters' baseline.
        mapper = TagMapper(mappings, "pi", emit_from=START)
        with client:
            mapped = [
                mapper.map(page)
                for page in client.read_recorded(
                    list(tags["historian_tag"]), START - timedelta(minutes=1), END
                )
            ]
    telemetry = pa.concat_tables([m.telemetry for m in mapped])
    assert all(m.unmapped == [] for m in mapped)
    truth = plant.telemetry(START, END, [machine])
    for signal in ("pieces_good", "pieces_rejected", "machine_state", "pressure", "speed"):
        got, expected = signal_rows(telemetry, machine, signal), signal_rows(truth, machine, signal)
        if signal == "machine_state":  # the plant opens a range with the state then; a historian has changes
            expected = expected.filter(pc.greater(expected["ts"], pa.scalar(START, expected["ts"].type)))
        assert got["ts"].to_pylist() == expected["ts"].to_pylist(), signal
        assert got["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), abs=1e-9), signal
        assert got["text_value"].to_pylist() == expected["text_value"].to_pylist(), signal
    good = signal_rows(telemetry, machine, "pieces_good")
    assert good.num_rows == 120 and np.sum(good["value"].to_numpy()) > 0
    assert set(good["unit"].to_pylist()) == {"pcs"} and set(good["source_system"].to_pylist()) == {"pi"}


def test_aveva_process_tags_come_back_in_engineering_units(plant: SimulatedPlant) -> None:
    mappings = plant.historian_tag_mappings()
    aveva = mappings[mappings["historian_system"] == "aveva"]
    machine = aveva["machine_id"].iloc[0]
    tags = list(aveva[aveva["machine_id"] == machine]["historian_tag"])
    simulator = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"), page_size=500)
    with (
        ServerThread(simulator.app) as server,
        AvevaHistorianClient(server.base_url, BASIC, policy=TINY_RETRY) as client,
    ):
        mapper = TagMapper(mappings, "aveva")
        telemetry = pa.concat_tables(
            [mapper.map(page).telemetry for page in client.read_process_values(tags, START, END)]
        )
    truth = plant.telemetry(START, END, [machine], ["pressure", "speed"])
    for signal in ("pressure", "speed"):
        got, expected = signal_rows(telemetry, machine, signal), signal_rows(truth, machine, signal)
        assert got.num_rows == expected.num_rows > 0
        assert got["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), rel=1e-9)
        assert got["quality"].to_pylist() == expected["quality"].to_pylist()
