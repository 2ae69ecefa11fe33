"""Production variance per work order from the ERP, per UTC day of the orders' planned start.

The work is the MES/ERP service's (`services/mes_erp/consumption.py`): the ERP's yield and component
variance of each order the warehouse holds for the day replaces that day's rows, so a re-run of a day
changes nothing. It runs in the daily OEE job before the data mart, which values it per work order.
"""

import dagster as dg

from oee_pipelines.defs.mes.assets import WORK_ORDERS
from oee_pipelines.defs.mes.consumption import not_configured
from oee_pipelines.defs.mes.results import sync_check_spec, sync_result
from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.oee.assets import OEE_GROUP
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.consumption import PRODUCTION_VARIANCE, sync_production_variance
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.services.source_systems import ERP


@dg.asset(
    name=PRODUCTION_VARIANCE,
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    group_name=OEE_GROUP,
    owners=owners_of(OEE_GROUP),
    kinds={"postgres"},
    metadata=column_schema(PRODUCTION_VARIANCE),
    deps=[WORK_ORDERS],
    pool=ERP,
    check_specs=[sync_check_spec(PRODUCTION_VARIANCE)],
    description="Planned against actual per work order from the ERP: the yield (pieces) and each "
    "component, with the variance and its percentage, for the orders whose planned start is on the day "
    "(table `production_variance`).",
)
def production_variance(
    context: dg.AssetExecutionContext, erp: ERPResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    skipped = not_configured(PRODUCTION_VARIANCE, erp)
    if skipped is not None:
        context.log.info(str(skipped.metadata))
        return skipped
    window = context.partition_time_window
    landed = sync_production_variance(
        warehouse,
        erp.connector,
        erp.connection_config(),
        SyncWindow(window.start, window.end),
        context.run.run_id,
        parallel=erp.parallel_requests,
    )
    context.log.info(f"{PRODUCTION_VARIANCE}: {landed.outcome.counts()} {landed.figures}")
    return sync_result(PRODUCTION_VARIANCE, landed, time_column="planned_start")
