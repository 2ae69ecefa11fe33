"""Historian harness: small exact point sources for the client tests, and the demo plant's PI and AVEVA
historians on loopback with a warehouse holding a few of their tag mappings (the historian asset and
API tests).

Mapped: MACHINE-001's five PI tags (state, two cumulative counters, pressure, speed) and MACHINE-009's
two AVEVA tags; MACHINE-001's speed tag is mapped but inactive.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from oee_pipelines.connectors.historian.points import HistorianCredentials
from oee_pipelines.connectors.http import RetryPolicy
from oee_pipelines.resources.historian import HistorianResource, HistorianServerConfig
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import (
    HistorianLogin,
    InMemoryPointSource,
    PointArrays,
    PointSource,
)
from oee_pipelines.simulator.servers.runtime import FaultSwitches, ServerThread

T0 = datetime(2025, 1, 6, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
SECOND_US = 1_000_000
TINY_RETRY = RetryPolicy(
    attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.01, timeout_seconds=10
)
BASIC = HistorianCredentials(username="historian-user", password="historian-password")


def numeric_points(seconds: list[int], quality: list[int] | None = None) -> PointArrays:
    ts = np.array([T0_US + s * SECOND_US for s in seconds], np.int64)
    values = np.arange(len(seconds), dtype=np.float64) + 0.5
    return PointArrays(ts, values, np.array(quality or [100] * len(seconds), np.int16))


def exact_source() -> InMemoryPointSource:
    """FLOW: 25 values, five of them at second 10 (a paging boundary at maxCount 12 falls among them);
    STATE: digital states; BAD: good, system state, error object, questionable, substituted."""
    flow_seconds = list(range(10)) + [10] * 5 + list(range(11, 21))
    states = PointArrays(
        np.array([T0_US, T0_US + 60 * SECOND_US, T0_US + 90 * SECOND_US], np.int64),
        np.array([1.0, 0.0, 1.0]),
        np.array([100, 100, 100], np.int16),
        np.array(["RUNNING", "BRK-MECH", "RUNNING"], dtype=object),
    )
    bad = PointArrays(
        np.array([T0_US + s * SECOND_US for s in range(5)], np.int64),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        np.array([100, 0, 0, 50, 75], np.int16),
        np.array([None, "I/O Timeout", None, None, None], dtype=object),
    )
    return InMemoryPointSource({"FLOW": numeric_points(flow_seconds), "STATE": states, "BAD": bad})


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


def demo_plant() -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(), seed=42)


@contextmanager
def running_historians(plant: SimulatedPlant) -> Iterator[Historians]:
    """The plant's PI and AVEVA simulators on loopback, stopped afterwards."""
    pi = PiWebApiSimulator(PointSource.from_plant(plant, "pi"), switches=FaultSwitches())
    aveva = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"))
    with ServerThread(pi.app) as pi_server, ServerThread(aveva.app) as aveva_server:
        yield Historians(pi, aveva, pi_server.base_url, aveva_server.base_url)


def map_tags(clean_database: str, plant: SimulatedPlant) -> WarehouseResource:
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
