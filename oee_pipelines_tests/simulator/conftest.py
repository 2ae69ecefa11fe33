"""Fixtures for the simulator tests: the demo plant and a writer for edited plant descriptions."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description

MONDAY = "2025-01-13"  # a working week: Monday 13 to Friday 17 January 2025, weekend 18-19


@pytest.fixture(scope="session")
def plant() -> SimulatedPlant:
    """The packaged demo plant, shared: its answers must not depend on what was asked before."""
    return SimulatedPlant(load_plant_description(), seed=42)


@pytest.fixture
def fresh_plant() -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(), seed=42)


@pytest.fixture
def demo_yaml() -> dict[str, Any]:
    text = resources.files("oee_pipelines.simulator").joinpath("demo_plant.yaml").read_text()
    return yaml.safe_load(text)


@pytest.fixture
def write_plant(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "plant.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
