"""ERP ingestion: the material master and labour costs per line and day.

The work is the MES/ERP service's (`services/mes_erp/erp.py`): both are upserted on their natural
keys and audited in `mes_schedule_sync` like the MES entities. Which ERP is read (`sap_odata` or
`oracle_ebs`) is the `erp` section's `system_type`.
"""

import dagster as dg

from oee_pipelines.defs.mes.config import SyncWindowConfig
from oee_pipelines.defs.mes.results import sync_check_spec, sync_result
from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp import erp as erp_service
from oee_pipelines.services.source_systems import ERP


@dg.asset(
    name="erp_materials",
    group_name="erp",
    owners=owners_of("erp"),
    kinds={"postgres"},
    metadata=column_schema("materials"),
    deps=["organizations"],
    pool=ERP,
    check_specs=[sync_check_spec("erp_materials")],
    description="The ERP material master (table `materials`), upserted on material number.",
)
def erp_materials(
    context: dg.AssetExecutionContext, erp: ERPResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    landed = erp_service.sync_materials(warehouse, erp.connector, erp.connection_config(), context.run.run_id)
    context.log.info(f"erp_materials: {landed.outcome.counts()}")
    return sync_result("erp_materials", landed)


@dg.asset(
    name="labor_costs",
    group_name="erp",
    owners=owners_of("erp"),
    kinds={"postgres"},
    metadata=column_schema("labor_costs"),
    deps=["production_lines"],
    pool=ERP,
    check_specs=[sync_check_spec("labor_costs")],
    description="Labour hours and cost per line, cost centre and day from the ERP (the window's days).",
)
def labor_costs(
    context: dg.AssetExecutionContext,
    config: SyncWindowConfig,
    erp: ERPResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    landed = erp_service.sync_labor_costs(
        warehouse,
        erp.connector,
        erp.connection_config(),
        config.window(),
        context.run.run_id,
        line_id=config.line_id,
    )
    context.log.info(f"labor_costs: {landed.outcome.counts()}")
    return sync_result("labor_costs", landed)
