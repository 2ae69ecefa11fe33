"""Every resource, bound once. Values come from the environment at load time (never at import)."""

import os

import dagster as dg

from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.historian import HistorianResource, historian_resource_settings
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.mes import MESResource, raw_connector_sections, resource_settings
from oee_pipelines.resources.plant import PlantSimulatorResource
from oee_pipelines.resources.published import PublishedFilesResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.settings import Settings


def env_or_default(name: str, default: str | None) -> str | dg.EnvVar | None:
    """An EnvVar when the variable is set (so the UI shows its name, not a secret), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    raw = raw_connector_sections()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(
                database_url=env_or_default("OEE_DATABASE_URL", None),
                data_dir=str(settings.data_dir),
            ),
            "lake": LakeResource(root=env_or_default("OEE_LAKE_ROOT", settings.lake_root)),
            "published_files": PublishedFilesResource(
                root=env_or_default("OEE_PUBLISHED_DIR", str(settings.published_dir))
            ),
            "plant": PlantSimulatorResource(
                plant_file=env_or_default("OEE_PLANT_FILE", None),
                seed=settings.simulator_seed,
            ),
            "mes": MESResource(
                **resource_settings(settings.connectors.get("mes") or {}, raw.get("mes") or {})
            ),
            "iot": IoTBufferResource(buffer_dir=str(settings.iot_buffer_dir), org_id=settings.org_id),
            "erp": ERPResource(
                **resource_settings(settings.connectors.get("erp") or {}, raw.get("erp") or {})
            ),
            "historian": HistorianResource(
                **historian_resource_settings(
                    settings.connectors.get("historian") or {}, raw.get("historian") or {}
                )
            ),
        }
    )
