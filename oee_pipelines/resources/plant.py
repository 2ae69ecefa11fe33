"""The simulated plant as a source system: reference data until the MES/ERP connectors take over."""

from functools import cache
from pathlib import Path

import dagster as dg

from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description


@cache
def _plant(plant_file: str | None, seed: int) -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(Path(plant_file) if plant_file else None), seed=seed)


class PlantSimulatorResource(dg.ConfigurableResource):
    """The deterministic demo plant (`plant_file` unset: the packaged demo plant)."""

    plant_file: str | None = None
    seed: int = 42

    def plant(self) -> SimulatedPlant:
        return _plant(self.plant_file, self.seed)
