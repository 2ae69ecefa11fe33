"""The ERP sync: the material master and labour costs per line and day.

Both are upserted on their natural keys (a second identical sync changes nothing) and audited in
`mes_schedule_sync` like the MES entities. Which ERP is read (`sap_odata`, `oracle_ebs`) is the
connector the caller passes: `system_type` of the `erp` configuration section.
"""

from __future__ import annotations

from collections.abc import Callable

from oee_pipelines.connectors.erp import ERPConnector
from oee_pipelines.connectors.erp.base import LABOR_COST_COLUMNS
from oee_pipelines.connectors.mes import SourceConnectionConfig
from oee_pipelines.services.mes_erp.store import (
    SyncContext,
    Warehouse,
    active_lines,
    existing_ids,
    failures_audited,
    record_sync,
    require_known_line,
    upsert_frame,
)
from oee_pipelines.services.mes_erp.sync import Landed, SyncOutcome, merge_results, reject_unknown_references
from oee_pipelines.services.mes_erp.window import SyncWindow

MATERIAL, LABOR_COST = "material", "labor_cost"


def sync_materials(
    warehouse: Warehouse, connect: Callable[[], ERPConnector], source: SourceConnectionConfig, run_id: str
) -> Landed:
    """The ERP's material master into `materials`, upserted on material number."""
    audit = SyncContext(source.org_id, source.system_type, None, None, run_id)
    with failures_audited(warehouse, audit, [MATERIAL]):
        with connect() as connector:
            fetched = connector.get_materials()
        data, counts = upsert_frame(warehouse, "materials", fetched.frame, ["org_id", "material_number"])
        outcome = SyncOutcome(
            MATERIAL,
            fetched=len(fetched.frame) + len(fetched.rejected),
            created=counts.created,
            updated=counts.updated,
            rejected=fetched.rejected,
        )
        record_sync(warehouse, audit, [outcome])
    return Landed(outcome, data)


def sync_labor_costs(
    warehouse: Warehouse,
    connect: Callable[[], ERPConnector],
    source: SourceConnectionConfig,
    window: SyncWindow,
    run_id: str,
    line_id: str | None = None,
) -> Landed:
    """Labour per line, cost centre and day of the window's days into `labor_costs`.

    `line_id` limits the sync to one line (default every active line); an unknown line is refused
    before the ERP is asked anything.
    """
    require_known_line(warehouse, line_id)
    audit = SyncContext(source.org_id, source.system_type, line_id, window, run_id)
    with failures_audited(warehouse, audit, [LABOR_COST]):
        lines = [line_id] if line_id else active_lines(warehouse, source.org_id)
        with connect() as connector:
            fetched = merge_results(
                [connector.get_labor_costs(line, window.first_day, window.end_day) for line in lines],
                LABOR_COST_COLUMNS,
            )
        known_lines = existing_ids(warehouse, "production_lines", set(fetched.frame["line_id"]))
        checked = reject_unknown_references(
            fetched, LABOR_COST, "cost_center", "line_id", known_lines, "production_lines"
        )
        data, counts = upsert_frame(
            warehouse, "labor_costs", checked.frame, ["org_id", "line_id", "cost_center", "work_date"]
        )
        outcome = SyncOutcome(
            LABOR_COST,
            fetched=len(fetched.frame) + len(fetched.rejected),
            created=counts.created,
            updated=counts.updated,
            rejected=checked.rejected,
        )
        record_sync(warehouse, audit, [outcome])
    return Landed(outcome, data)
