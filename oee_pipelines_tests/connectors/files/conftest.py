"""Fixtures for the import-file readers: files written to a temp folder, and the demo plant's ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from oee_pipelines.domain.imports import ImportReference
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, content: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


@pytest.fixture(scope="module")
def demo_reference() -> ImportReference:
    plant = SimulatedPlant(load_plant_description(), seed=1)
    return ImportReference(
        org_id="demo",
        plant_timezone="Europe/Berlin",
        machine_ids=frozenset(plant.machines()["id"]),
        line_ids=frozenset(plant.lines()["id"]),
        reason_codes=plant.reason_codes(),
        product_ids=frozenset(plant.products()["id"]),
        recipe_ids=frozenset(plant.recipes()["id"]),
    )
