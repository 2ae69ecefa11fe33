"""The ERP job the API launches: the material master sync."""

from __future__ import annotations

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.services.mes_erp.run_requests import ERP_MATERIALS_SYNC_JOB
from oee_pipelines.services.source_systems import ERP, source_system_tags

erp_materials_sync_job = dg.define_asset_job(
    ERP_MATERIALS_SYNC_JOB,
    selection=dg.AssetSelection.assets("erp_materials"),
    tags=source_system_tags(ERP),
    description="Sync the material master from the ERP.",
    executor_def=LIGHT_JOB_EXECUTOR,  # one step of seconds
)
