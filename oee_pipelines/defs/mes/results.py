"""The materialization a MES/ERP sync shows: the table's standard metadata, the audit counts, and an
asset check that turns PARTIAL (rejected records) or FAILED visibly yellow in the UI."""

from __future__ import annotations

from typing import Any

import dagster as dg

from oee_pipelines.defs.metadata import table_metadata
from oee_pipelines.services.mes_erp.sync import SUCCESS, Landed, SyncOutcome

SYNC_CHECK = "sync_complete"
# The table each synced asset writes, where its name differs (the catalog's name, storage/catalog.py).
SYNC_TABLES = {
    "mes_production_schedules": "production_schedules",
    "mes_order_status_pushback": "mes_order_status_pushes",
    "erp_materials": "materials",
}
REJECTIONS_SHOWN = 20


def sync_check_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SYNC_CHECK,
        asset=asset,
        description="Every record the source sent landed; WARN when the sync is PARTIAL (records rejected).",
    )


def sync_metadata(outcome: SyncOutcome) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(outcome.counts())
    if outcome.rejected:
        shown = outcome.errors_json()[:REJECTIONS_SHOWN]
        metadata["rejected_records"] = dg.MetadataValue.json(shown)
    return metadata


def sync_result(
    asset: str,
    landed: Landed,
    *,
    time_column: str | None = None,
    with_check: bool = True,
) -> dg.MaterializeResult:
    """The materialization of one synced table, with its `sync_complete` check result."""
    metadata = sync_metadata(landed.outcome)
    check = dg.AssetCheckResult(
        check_name=SYNC_CHECK,
        asset_key=asset,
        passed=landed.outcome.status == SUCCESS,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
    return dg.MaterializeResult(
        asset_key=asset,
        metadata=table_metadata(
            landed.data,
            schema=SYNC_TABLES.get(asset, asset),
            time_column=time_column,
            extra={**metadata, **landed.figures},
        ),
        check_results=[check] if with_check else None,
    )


def selected_names(context: dg.AssetExecutionContext) -> set[str]:
    return {key.to_user_string() for key in context.selected_asset_keys}


def check_selected(context: dg.AssetExecutionContext, asset: str) -> bool:
    return dg.AssetCheckKey(dg.AssetKey(asset), SYNC_CHECK) in context.selected_asset_check_keys
