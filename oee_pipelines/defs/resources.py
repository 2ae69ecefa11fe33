"""Every resource, bound once. Values come from the environment at load time (never at import)."""

import os

import dagster as dg

from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.plant import PlantSimulatorResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.settings import Settings


def env_or_default(name: str, default: str | None) -> str | dg.EnvVar | None:
    """An EnvVar when the variable is set (so the UI shows its name, not a secret), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(
                database_url=env_or_default("OEE_DATABASE_URL", None),
                data_dir=str(settings.data_dir),
            ),
            "lake": LakeResource(root=env_or_default("OEE_LAKE_ROOT", settings.lake_root)),
            "plant": PlantSimulatorResource(
                plant_file=env_or_default("OEE_PLANT_FILE", None),
                seed=settings.simulator_seed,
            ),
        }
    )
