"""The MES/ERP jobs: the 15-minute sync of everything, and one job per API action
(`services/mes_erp/run_requests.py` names them and builds their run config)."""

from __future__ import annotations

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.defs.mes.assets import RECIPES, SCHEDULES, WORK_ORDERS
from oee_pipelines.services.mes_erp.run_requests import (
    MES_ERP_SYNC_JOB,
    MES_ORDER_STATUS_JOB,
    MES_RECIPE_DOWNLOAD_JOB,
    MES_SCHEDULE_SYNC_JOB,
    PUSHBACK_OPERATION,
)
from oee_pipelines.services.source_systems import MES, source_system_tags

# Every MES job's runs queue under the MES's run limit. The full sync also calls the ERP: a run has
# one tag value, so it queues as MES, and its ERP steps take the `erp` pool's slots.
# Every MES job is light (the full sync: four steps of seconds, one after the other), so each passes
# `executor_def=LIGHT_JOB_EXECUTOR`: its steps run in the run's process (defs/executor.py).
MES_RUN_TAGS = source_system_tags(MES)

mes_erp_sync_job = dg.define_asset_job(
    MES_ERP_SYNC_JOB,
    selection=dg.AssetSelection.groups("mes", "erp"),
    tags=MES_RUN_TAGS,
    executor_def=LIGHT_JOB_EXECUTOR,
    description="Sync recipes, work orders and schedules from the MES, push completed orders back, "
    "and sync materials and labour costs from the ERP.",
)
mes_schedule_sync_job = dg.define_asset_job(
    MES_SCHEDULE_SYNC_JOB,
    selection=dg.AssetSelection.assets(RECIPES, WORK_ORDERS, SCHEDULES),
    tags=MES_RUN_TAGS,
    executor_def=LIGHT_JOB_EXECUTOR,
    description="Sync the MES schedule of a window with its work orders and recipes.",
)
mes_recipe_download_job = dg.define_asset_job(
    MES_RECIPE_DOWNLOAD_JOB,
    selection=dg.AssetSelection.assets(RECIPES),
    tags=MES_RUN_TAGS,
    executor_def=LIGHT_JOB_EXECUTOR,
    description="Download recipes from the MES (by id, or those the window's schedule names).",
)
mes_order_status_job = dg.define_asset_job(
    MES_ORDER_STATUS_JOB,
    selection=dg.AssetSelection.assets(PUSHBACK_OPERATION),
    tags=MES_RUN_TAGS,
    executor_def=LIGHT_JOB_EXECUTOR,
    description="Push completed work orders' status and quantity back to the MES.",
)
