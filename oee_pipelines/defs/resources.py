"""Every resource, bound once. Values come from the environment at load time (never at import).

The connector configuration comes typed from `Settings.sources` (read once by `config/connectors.py`);
a credential written as exactly `${NAME}` is bound as `dg.EnvVar("NAME")`, so the Dagster UI shows the
variable's name, never the secret.
"""

import os
from typing import Any, TypeVar

import dagster as dg

from oee_pipelines.config.connectors import Connection, HistorianConfig, SourceSystemConfig
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.historian import HistorianResource, HistorianServerConfig
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.plant import PlantModelResource
from oee_pipelines.resources.published import PublishedFilesResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.settings import Settings

Default = TypeVar("Default", str, None)


def env_or_default(name: str, default: Default) -> Default | dg.EnvVar:
    """An EnvVar when the variable is set (so the UI shows its name, not a secret), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def _with_env_vars(fields: dict[str, Any], connection: Connection) -> dict[str, Any]:
    """`fields` with each credential written as `${NAME}` replaced by `dg.EnvVar("NAME")`."""
    return {**fields, **{name: dg.EnvVar(var) for name, var in connection.credential_env_vars.items()}}


def source_system_fields(config: SourceSystemConfig | None) -> dict[str, Any]:
    """`MESResource` / `ERPResource` fields of a `mes` / `erp` section ({} when there is none)."""
    if config is None:
        return {}
    return _with_env_vars(config.resource_fields(), config.connection)


def historian_fields(config: HistorianConfig | None) -> dict[str, Any]:
    """`HistorianResource` fields of the `historian` section: its enabled servers, and which are off."""
    if config is None:
        return {}
    enabled = config.enabled_servers()
    fields: dict[str, Any] = {
        **config.options,
        "config_origin": config.origin,
        "disabled_systems": sorted(set(config.servers) - set(enabled)),
    }
    for system, server in enabled.items():
        fields[system] = HistorianServerConfig(**_with_env_vars(server.server_fields(), server.connection))
    return fields


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    sources = settings.sources
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
            "plant_model_file": PlantModelResource(model_file=env_or_default("OEE_PLANT_MODEL_FILE", None)),
            "mes": MESResource(**source_system_fields(sources.mes)),
            "iot": IoTBufferResource(buffer_dir=str(settings.iot_buffer_dir), org_id=settings.org_id),
            "erp": ERPResource(**source_system_fields(sources.erp)),
            "historian": HistorianResource(**historian_fields(sources.historian)),
        }
    )
