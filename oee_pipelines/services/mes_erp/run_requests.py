"""Names of the MES/ERP jobs and the run config they take, without importing Dagster.

The API launches these jobs by name and the demo runs `mes_erp_sync_job`; both build the run config
here from typed values (the window's bounds as datetimes, already parsed at their edge). The run
config carries them as ISO 8601 text, which the assets' config classes (`defs/mes/config.py`) parse
once into a `SyncWindow`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
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


def _instant_text(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def mes_sync_run_config(
    start: datetime | None = None,
    end: datetime | None = None,
    line_id: str | None = None,
    recipe_ids: Sequence[str] = (),
    downloaded_by: str | None = None,
) -> dict[str, Any]:
    """`mes_sync`'s run config; a missing bound is the assets' default (now-1 day, now+7 days)."""
    return _op_config(
        MES_OPERATION,
        {
            "start": _instant_text(start),
            "end": _instant_text(end),
            "line_id": line_id,
            "recipe_ids": list(recipe_ids),
            "downloaded_by": downloaded_by,
        },
    )


def pushback_run_config(work_order_ids: Sequence[str] = ()) -> dict[str, Any]:
    return _op_config(PUSHBACK_OPERATION, {"work_order_ids": list(work_order_ids)})


def demo_window_run_config(first: date, last: date) -> dict[str, Any]:
    """`mes_erp_sync_job` over the demo days [first, last] (the demo's run-config builder)."""
    window = {"start": first.isoformat(), "end": (last + timedelta(days=1)).isoformat()}
    return {
        "ops": {
            MES_OPERATION: {"config": window},
            LABOR_OPERATION: {"config": window},
        }
    }
