"""Material consumption per work order from the MES, per UTC day of the orders' planned start.

The work is the MES/ERP service's (`services/mes_erp/consumption.py`): it reads the consumption of
each order the warehouse holds for the day and replaces that day's rows, so a re-run of a day changes
nothing. It runs in the daily OEE job before the data mart, which values it per work order.
"""

import dagster as dg

from oee_pipelines.defs.mes.assets import WORK_ORDERS
from oee_pipelines.defs.mes.results import SYNC_CHECK, sync_check_spec, sync_result
from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.oee.assets import OEE_GROUP
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions
from oee_pipelines.resources.mes import MESResource, SourceSystemResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.consumption import MATERIAL_CONSUMPTION, sync_material_consumption
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.services.source_systems import MES


def not_configured(asset: str, system: SourceSystemResource) -> dg.MaterializeResult | None:
    """The result of a day asset whose source system is not configured (or disabled): nothing read."""
    if system.is_configured and system.enabled:
        return None
    note = f"no {system.section.upper()} configured (or `{system.section}.enabled: false`): nothing read"
    return dg.MaterializeResult(
        asset_key=asset,
        metadata={"source_system": note},
        check_results=[dg.AssetCheckResult(check_name=SYNC_CHECK, asset_key=asset, passed=True)],
    )


@dg.asset(
    name=MATERIAL_CONSUMPTION,
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    group_name=OEE_GROUP,
    owners=owners_of(OEE_GROUP),
    kinds={"postgres"},
    metadata=column_schema(MATERIAL_CONSUMPTION),
    deps=[WORK_ORDERS],
    pool=MES,
    check_specs=[sync_check_spec(MATERIAL_CONSUMPTION)],
    description="Material consumed per work order and material (planned and consumed quantity, unit), "
    "from the MES, for the orders whose planned start is on the day (table `material_consumption`).",
)
def material_consumption(
    context: dg.AssetExecutionContext, mes: MESResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    skipped = not_configured(MATERIAL_CONSUMPTION, mes)
    if skipped is not None:
        context.log.info(str(skipped.metadata))
        return skipped
    window = context.partition_time_window
    landed = sync_material_consumption(
        warehouse,
        mes.connector,
        mes.connection_config(),
        SyncWindow(window.start, window.end),
        context.run.run_id,
        parallel=mes.parallel_requests,
    )
    context.log.info(f"{MATERIAL_CONSUMPTION}: {landed.outcome.counts()} {landed.figures}")
    return sync_result(MATERIAL_CONSUMPTION, landed, time_column="planned_start")
