"""Names of the MES/ERP jobs and the run config they take, without importing Dagster.

The API launches these jobs by name and the demo runs `mes_erp_sync_job`; both build the run config
here, so they pass the window the same way the assets read it (`defs/mes/config.py`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

MES_ERP_SYNC_JOB = "mes_erp_sync_job"
MES_SCHEDULE_SYNC_JOB = "mes_schedule_sync_job"
MES_RECIPE_DOWNLOAD_JOB = "mes_recipe_download_job"
MES_ORDER_STATUS_JOB = "mes_order_status_job"
ERP_MATERIALS_SYNC_JOB = "erp_materials_sync_job"
MES_OPERATION = "mes_sync"
PUSHBACK_OPERATION = "mes_order_status_pushback"
LABOR_OPERATION = "labor_costs"


def _op_config(operation: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {operation: {"config": {k: v for k, v in values.items() if v not in (None, [])}}}}


def mes_sync_run_config(
    start: str | None = None,
    end: str | None = None,
    line_id: str | None = None,
    recipe_ids: list[str] | None = None,
    downloaded_by: str | None = None,
) -> dict[str, Any]:
    return _op_config(
        MES_OPERATION,
        {
            "start": start,
            "end": end,
            "line_id": line_id,
            "recipe_ids": recipe_ids or [],
            "downloaded_by": downloaded_by,
        },
    )


def pushback_run_config(work_order_ids: list[str] | None = None) -> dict[str, Any]:
    return _op_config(PUSHBACK_OPERATION, {"work_order_ids": work_order_ids or []})


def demo_window_run_config(first: date, last: date) -> dict[str, Any]:
    """`mes_erp_sync_job` over the demo days [first, last] (the demo's run-config builder)."""
    window = {"start": first.isoformat(), "end": (last + timedelta(days=1)).isoformat()}
    return {
        "ops": {
            MES_OPERATION: {"config": window},
            LABOR_OPERATION: {"config": window},
        }
    }
