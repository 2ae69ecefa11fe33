"""The seed's four configuration files (URLs on the simulated plant's fixed ports) drive the MES, ERP,
historian and IoT paths: each resource built from them fetches from the simulated system.

The simulated systems listen on 8701-8706 (`simulator/serve.py`), which is also where `oee demo`
starts them, so the same folder works as `OEE_CONFIG_DIR` for the demo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import dagster as dg
import pytest

from oee_pipelines.defs.resources import historian_fields, source_system_fields
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.historian import HistorianResource
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.services.iot.sources import mqtt_settings, poll_endpoints
from oee_pipelines.settings import Settings
from oee_pipelines.simulator import registry
from oee_pipelines.simulator.description import load_plant_description
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.serve import SimulatedSources
from oee_pipelines_tests.support.seed_config import SECRETS, SEED_CONFIG

# The plant's systems on the ports the seed's files name; the wait for them counts in the timeout.
pytestmark = [pytest.mark.usefixtures("simulated_plant_ports"), pytest.mark.timeout(2700)]

DAY = datetime(2025, 1, 14, tzinfo=UTC)
Resource = TypeVar("Resource", bound=dg.ConfigurableResource)


def initialized(resource: Resource) -> Resource:
    """The resource as a run gets it: credentials bound as `EnvVar` read from the environment."""
    return resource.process_config_and_initialize()


@pytest.fixture(scope="module")
def plant() -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(None), seed=42)


@pytest.fixture
def running(plant: SimulatedPlant) -> Iterator[SimulatedSources]:
    with SimulatedSources(plant, DAY - timedelta(days=1), DAY + timedelta(days=2)) as sources:
        yield sources


@pytest.fixture
def settings(running: SimulatedSources) -> Iterator[Settings]:
    assert running.base_urls()["mes_rest"] == "http://127.0.0.1:8701"  # the ports the files name
    saved = {name: os.environ.get(name) for name in SECRETS}
    os.environ.update(SECRETS)  # the secrets the files reference, as a deployment sets them
    try:
        yield Settings.from_env({**os.environ, "OEE_CONFIG_DIR": str(SEED_CONFIG)})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_mes_file_drives_the_mes_resource(settings: Settings, plant: SimulatedPlant) -> None:
    line_id = plant.lines()["id"].iloc[0]
    with initialized(MESResource(**source_system_fields(settings.sources.mes))).connector() as mes:
        schedules = mes.get_production_schedules(line_id, DAY, DAY + timedelta(days=1))
    assert not schedules.frame.empty
    assert set(schedules.frame["line_id"]) == {line_id}


def test_the_erp_file_drives_the_erp_resource(settings: Settings) -> None:
    with initialized(ERPResource(**source_system_fields(settings.sources.erp))).connector() as erp:
        materials = erp.get_materials()
    assert not materials.frame.empty


@pytest.mark.parametrize("system", ["pi", "aveva"])
def test_the_historian_file_drives_both_historians(
    settings: Settings, plant: SimulatedPlant, system: str
) -> None:
    tags = [
        name
        for machine in plant.layout.machines
        for signal in registry.HISTORIAN_SIGNALS
        for tag, name in [registry.historian_tag(machine, signal)]
        if tag.system == system
    ]
    assert tags, f"the simulated plant has no {system} tags"
    historian = initialized(HistorianResource(**historian_fields(settings.sources.historian)))
    with historian.reader(system) as reader:
        pages = list(reader.read_points(tags[:2], DAY, DAY + timedelta(hours=1)))
    assert sum(page.num_rows for page in pages) > 0


def test_the_iot_file_gives_the_ingester_and_the_poller_their_settings(settings: Settings) -> None:
    broker = mqtt_settings(settings.sources.iot)
    assert broker is not None
    assert (broker.broker_host, broker.broker_port) == ("127.0.0.1", 1883)
    iot = settings.sources.iot
    assert iot is not None and iot.mqtt is not None and broker.topics == iot.mqtt.topics
    (endpoint,) = poll_endpoints(settings.sources.iot)
    assert (endpoint.url, endpoint.sensor_id, endpoint.machine_id) == (
        "http://127.0.0.1:8707/sensors/ENV_01",
        "ENV_01",
        "MACHINE-001",
    )
