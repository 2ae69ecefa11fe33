"""Fixtures over `support/historian.py` for the historian asset tests (their conftest) and the
historian API tests (imported into the test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines_tests.support.historian import Historians, demo_plant, map_tags, running_historians


@pytest.fixture(scope="session")
def plant() -> SimulatedPlant:
    return demo_plant()


@pytest.fixture
def historians(plant: SimulatedPlant) -> Iterator[Historians]:
    with running_historians(plant) as running:
        yield running


@pytest.fixture
def mapped_warehouse(clean_database: str, plant: SimulatedPlant) -> WarehouseResource:
    """The plant's reference rows and the tag mappings of one PI and one AVEVA machine."""
    return map_tags(clean_database, plant)
