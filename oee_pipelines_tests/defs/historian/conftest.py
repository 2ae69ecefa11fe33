"""The demo plant's PI and AVEVA historians on loopback, a warehouse holding a few of their tag mappings,
and the resources `historian_points` runs with.

Mapped: MACHINE-001's five PI tags (state, two cumulative counters, pressure, speed) and MACHINE-009's
two AVEVA tags; MACHINE-001's speed tag is mapped but inactive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from oee_pipelines.resources.historian import HistorianResource, HistorianServerConfig
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import HistorianLogin, PointSource
from oee_pipelines.simulator.servers.runtime import FaultSwitches, ServerThread

PI_MACHINE, AVEVA_MACHINE = "MACHINE-001", "MACHINE-009"
INACTIVE_TAG = "SITE-01.L001.M001.Speed"
REFERENCE_TABLES = {
    "organizations": ["id"],
    "sites": ["id"],
    "production_lines": ["id"],
    "machines": ["id"],
}


@dataclass
class Historians:
    pi: PiWebApiSimulator
    aveva: AvevaHistorianSimulator
    pi_url: str
    aveva_url: str

    def resource(self, **overrides: Any) -> HistorianResource:
        login = HistorianLogin()
        credentials = {"username": login.username, "password": login.password, "concurrency": 2}
        settings: dict[str, Any] = {
            "pi": HistorianServerConfig(
                base_url=self.pi_url + "/piwebapi", data_server="PISRV01", max_count=5_000, **credentials
            ),
            "aveva": HistorianServerConfig(base_url=self.aveva_url, **credentials),
            "retry_attempts": 2,
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.01,
            "timeout_seconds": 20,
        }
        return HistorianResource(**{**settings, **overrides})


@pytest.fixture(scope="session")
def plant() -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(), seed=42)


@pytest.fixture
def historians(plant: SimulatedPlant) -> Iterator[Historians]:
    pi = PiWebApiSimulator(PointSource.from_plant(plant, "pi"), switches=FaultSwitches())
    aveva = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"))
    with ServerThread(pi.app) as pi_server, ServerThread(aveva.app) as aveva_server:
        yield Historians(pi, aveva, pi_server.base_url, aveva_server.base_url)


@pytest.fixture
def mapped_warehouse(clean_database: str, plant: SimulatedPlant) -> WarehouseResource:
    """The plant's reference rows and the tag mappings of one PI and one AVEVA machine."""
    warehouse = WarehouseResource(database_url=clean_database)
    frames = {
        "organizations": plant.organizations(),
        "sites": plant.sites(),
        "production_lines": plant.lines(),
    }
    frames["machines"] = plant.machines()
    for table, keys in REFERENCE_TABLES.items():
        warehouse.upsert(table, pa.Table.from_pandas(frames[table], preserve_index=False), keys)
    mappings = plant.historian_tag_mappings()
    chosen = mappings[mappings["machine_id"].isin([PI_MACHINE, AVEVA_MACHINE])].copy()
    chosen.loc[chosen["historian_tag"] == INACTIVE_TAG, "is_active"] = False
    warehouse.upsert(
        "historian_tag_mappings",
        pa.Table.from_pandas(chosen, preserve_index=False),
        ["org_id", "historian_system", "historian_tag"],
    )
    return warehouse


@pytest.fixture
def lake(tmp_path: Path) -> LakeResource:
    return LakeResource(root=str(tmp_path / "lake"))
