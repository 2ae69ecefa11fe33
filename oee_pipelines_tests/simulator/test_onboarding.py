"""The simulated plant's model file: the contract's keys only, the simulator's own ids, every address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.domain.plant_model import parse_plant_model, to_tables
from oee_pipelines.domain.tag_mapping import TagMapper
from oee_pipelines.simulator.events import STATE_NAMES
from oee_pipelines.simulator.onboarding import STATE_SET, write_plant_model
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.registry import PI_STATE_NAMES
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import PointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import BASIC, TINY_RETRY

TOP_LEVEL = {
    "version",
    "organization",
    "reason_codes",
    "products",
    "sites",
    "iot_sensors",
    "historian_tags",
    "state_sets",
}


def written_model(tmp_path: Path) -> tuple[SimulatedPlant, dict]:
    plant = SimulatedPlant(load_plant_description())
    path = write_plant_model(plant, tmp_path / "plant.yaml")
    return plant, yaml.safe_load(path.read_text())


def test_the_model_names_every_entity_of_the_simulated_plant_by_its_own_id(tmp_path: Path) -> None:
    plant, model = written_model(tmp_path)
    assert set(model) == TOP_LEVEL and model["version"] == 1
    assert model["organization"] == {"id": "demo", "name": "Demo Manufacturing"}
    sites = model["sites"]
    assert [s["id"] for s in sites] == list(plant.sites()["id"])
    assert [s["timezone"] for s in sites] == ["Europe/Berlin", "America/Chicago"]
    lines = [line for site in sites for line in site["lines"]]
    machines = [machine for line in lines for machine in line["machines"]]
    assert [line["id"] for line in lines] == list(plant.lines()["id"])
    assert [m["id"] for m in machines] == list(plant.machines()["id"])
    shifts = [shift for site in sites for shift in site["shifts"]]
    assert [s["id"] for s in shifts] == list(plant.shifts()["id"])
    night = shifts[2]
    assert (night["start"], night["end"], night["weekdays"]) == ("22:00", "06:00", [1, 2, 3, 4, 5])
    assert {p["id"]: p["ideal_cycle_time_seconds"] for p in model["products"]} == {
        "PROD-001": 1.5,
        "PROD-002": 2.0,
        "PROD-003": 1.0,
        "PROD-004": 6.0,
    }
    assert {r["code"] for r in model["reason_codes"]} == set(plant.reason_codes()["code"])
    ranges = sum(len(m["sensor_ranges"]) for m in machines)
    assert ranges == len(plant.sensor_range_config())


def test_every_historian_tag_and_sensor_the_sources_serve_is_mapped(tmp_path: Path) -> None:
    plant, model = written_model(tmp_path)
    mappings = plant.historian_tag_mappings()
    assert [t["tag"] for t in model["historian_tags"]] == list(mappings["historian_tag"])
    counters = [t for t in model["historian_tags"] if t.get("counter")]
    assert {(t["counter"], t["rollover"]) for t in counters} == {("cumulative", 65536.0)}
    states = [t for t in model["historian_tags"] if t["signal"] == "machine_state"]
    assert len(states) == 16 and {t["state_set"] for t in states} == {STATE_SET}
    [state_set] = model["state_sets"]
    running = {s["name"]: s["running"] for s in state_set["states"]}
    assert running.pop("Running") is True and not any(running.values())
    reasons = {s["name"]: s.get("reason_code") for s in state_set["states"] if not s["running"]}
    assert reasons["Mechanical breakdown"] == "BRK-MECH" and set(reasons.values()) == set(STATE_NAMES) - {
        "RUNNING"
    }
    sensors = plant.iot_sensors()
    assert [s["sensor_id"] for s in model["iot_sensors"]] == list(sensors["sensor_id"])
    http = [s for s in model["iot_sensors"] if s["protocol"] == "HTTP"]
    assert all("mqtt_topic" not in s and s["polling_interval_seconds"] == 10 for s in http)


def test_the_file_is_plain_yaml_with_quoted_local_times(tmp_path: Path) -> None:
    plant = SimulatedPlant(load_plant_description())
    text = write_plant_model(plant, tmp_path / "plant.yaml").read_text()
    assert 'start: "22:00"' in text and 'end: "06:00"' in text
    assert "&id" not in text and "*id" not in text  # no YAML anchors


def test_the_plant_model_parser_accepts_the_file(tmp_path: Path) -> None:
    plant = SimulatedPlant(load_plant_description())
    model = parse_plant_model(write_plant_model(plant, tmp_path / "plant.yaml").read_text())
    tables = to_tables(model)
    assert len(tables["machines"]) == 16 and len(tables["historian_tag_mappings"]) == 80


def test_the_pi_servers_state_names_come_back_through_the_state_set_as_the_plants_states(
    tmp_path: Path,
) -> None:
    """The demo's PI server writes `Running` / `Mechanical breakdown`...; the model's state set maps
    them back to exactly the plant's machine_state rows (value and reason code)."""
    plant = SimulatedPlant(load_plant_description())
    tables = to_tables(parse_plant_model(write_plant_model(plant, tmp_path / "plant.yaml").read_text()))
    mappings = pd.DataFrame(tables["historian_tag_mappings"])
    machine, start = "MACHINE-001", datetime(2025, 1, 7, 6, tzinfo=UTC)
    end = start + timedelta(hours=6)
    [tag] = mappings[(mappings["machine_id"] == machine) & (mappings["signal_type"] == "machine_state")][
        "historian_tag"
    ]
    source = PointSource.from_plant(plant, "pi", state_names=PI_STATE_NAMES)
    assert {"Running", "Mechanical breakdown"} <= set(
        source.points(tag, start, start + timedelta(days=1)).text_value
    )
    with ServerThread(PiWebApiSimulator(source).app) as server:
        client = PiWebApiClient(server.base_url + "/piwebapi", "PISRV01", BASIC, policy=TINY_RETRY)
        mapper = TagMapper(mappings, "pi", state_names=pd.DataFrame(tables["state_name_mappings"]))
        with client:
            pages = [mapper.map(page) for page in client.read_recorded([tag], start, end)]
    got = pa.concat_tables([page.telemetry for page in pages]).sort_by("ts")
    truth = plant.telemetry(start, end, [machine], ["machine_state"])
    truth = truth.filter(pc.greater(truth["ts"], pa.scalar(start, truth["ts"].type)))  # changes only
    assert got.num_rows == truth.num_rows > 10
    assert got["text_value"].to_pylist() == truth["text_value"].to_pylist()
    assert got["value"].to_pylist() == truth["value"].to_pylist()
