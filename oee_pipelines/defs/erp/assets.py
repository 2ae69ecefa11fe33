"""ERP ingestion: the material master and labour costs per line and day.

Both are upserted on their natural keys (a second identical sync changes nothing) and audited in
`mes_schedule_sync` like the MES entities. Which ERP is read is the `erp` section's `system_type`.
"""

import dagster as dg

from oee_pipelines.connectors.erp.base import LABOR_COST_COLUMNS
from oee_pipelines.defs.mes.config import SyncWindowConfig
from oee_pipelines.defs.mes.results import failures_audited, sync_check_spec, sync_result
from oee_pipelines.defs.mes.sync import SyncOutcome, merge_results, reject_unknown_references
from oee_pipelines.defs.mes.warehouse_io import (
    SyncContext,
    active_lines,
    existing_ids,
    record_sync,
    require_known_line,
    upsert_frame,
)
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.warehouse import WarehouseResource

MATERIAL, LABOR_COST = "material", "labor_cost"


@dg.asset(
    name="erp_materials",
    group_name="erp",
    kinds={"postgres"},
    deps=["organizations"],
    pool="erp",
    op_tags={"oee/source_system": "erp"},
    check_specs=[sync_check_spec("erp_materials")],
    description="The ERP material master (table `materials`), upserted on material number.",
)
def erp_materials(
    context: dg.AssetExecutionContext, erp: ERPResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = erp.connection_config()
    audit = SyncContext(settings.org_id, settings.system_type, None, None, context.run.run_id)
    with failures_audited(warehouse, audit, [MATERIAL]):
        with erp.connector() as connector:
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
    context.log.info(f"erp_materials: {outcome.counts()}")
    return sync_result("erp_materials", outcome, data)


@dg.asset(
    name="labor_costs",
    group_name="erp",
    kinds={"postgres"},
    deps=["production_lines"],
    pool="erp",
    op_tags={"oee/source_system": "erp"},
    check_specs=[sync_check_spec("labor_costs")],
    description="Labour hours and cost per line, cost centre and day from the ERP (the window's days).",
)
def labor_costs(
    context: dg.AssetExecutionContext,
    config: SyncWindowConfig,
    erp: ERPResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    window = config.window()
    settings = erp.connection_config()
    require_known_line(warehouse, config.line_id)
    audit = SyncContext(settings.org_id, settings.system_type, config.line_id, window, context.run.run_id)
    with failures_audited(warehouse, audit, [LABOR_COST]):
        lines = [config.line_id] if config.line_id else active_lines(warehouse, settings.org_id)
        with erp.connector() as connector:
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
    context.log.info(f"labor_costs: {outcome.counts()}")
    return sync_result("labor_costs", outcome, data)
