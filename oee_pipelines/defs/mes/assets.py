"""MES ingestion: recipes, work orders and production schedules, and the status push-back.

The work is the MES/ERP service's (`services/mes_erp/mes.py`): one sync of the window lands the
selected tables upserted on their natural keys, rejects malformed records by name, and audits each
table in `mes_schedule_sync`. These assets read the run config and the resources, call the
service, and show its outcome; the `sync_complete` check warns when a sync is PARTIAL. Which MES
is read is the `mes` section's `system_type`.
"""

from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from oee_pipelines.defs.mes.config import MesSyncConfig, PushbackConfig
from oee_pipelines.defs.mes.results import check_selected, selected_names, sync_check_spec, sync_result
from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp import mes as mes_service
from oee_pipelines.services.mes_erp.run_requests import PUSHBACK_OPERATION
from oee_pipelines.services.mes_erp.sync import Landed
from oee_pipelines.services.source_systems import MES

RECIPES, WORK_ORDERS, SCHEDULES = "recipes", "work_orders", "mes_production_schedules"
# Each asset's table in the service.
TABLES = {
    RECIPES: mes_service.RECIPES,
    WORK_ORDERS: mes_service.WORK_ORDERS,
    SCHEDULES: mes_service.SCHEDULES,
}
TIME_COLUMNS = {WORK_ORDERS: "planned_start", SCHEDULES: "planned_start"}


@dg.multi_asset(
    name="mes_sync",
    specs=[
        dg.AssetSpec(
            RECIPES,
            group_name="mes",
            owners=owners_of("mes"),
            kinds={"postgres"},
            metadata=column_schema("recipes"),
            deps=["products", "production_lines"],
            skippable=True,
            description="Recipes downloaded from the MES (ideal cycle times); each new version is "
            "recorded in `recipe_downloads`. The products they name and their cycle times are added "
            "where the plant model does not define them.",
        ),
        dg.AssetSpec(
            WORK_ORDERS,
            group_name="mes",
            owners=owners_of("mes"),
            kinds={"postgres"},
            metadata=column_schema("work_orders"),
            deps=[RECIPES],
            skippable=True,
            description="Work orders named by the MES schedule of the sync window.",
        ),
        dg.AssetSpec(
            SCHEDULES,
            group_name="mes",
            owners=owners_of("mes"),
            kinds={"postgres"},
            metadata=column_schema("production_schedules"),
            deps=[WORK_ORDERS],
            skippable=True,
            description="The MES production schedule of the sync window (table `production_schedules`).",
        ),
    ],
    check_specs=[sync_check_spec(name) for name in (RECIPES, WORK_ORDERS, SCHEDULES)],
    can_subset=True,
    pool=MES,
)
def mes_sync(
    context: dg.AssetExecutionContext, config: MesSyncConfig, mes: MESResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    wanted = selected_names(context)
    request = mes_service.MesSyncRequest(
        window=config.window(),
        tables=frozenset(TABLES[name] for name in wanted),
        run_id=context.run.run_id,
        line_id=config.line_id,
        recipe_ids=tuple(config.recipe_ids),
        downloaded_by=config.downloaded_by,
    )
    landed = mes_service.sync_mes(
        warehouse, mes.connector, mes.connection_config(), request, parallel=mes.parallel_requests
    )
    for name in (RECIPES, WORK_ORDERS, SCHEDULES):
        if TABLES[name] in landed:
            result = landed[TABLES[name]]
            context.log.info(f"{name}: {result.outcome.counts()}")
            yield sync_result(
                name,
                result,
                time_column=TIME_COLUMNS.get(name),
                with_check=check_selected(context, name),
            )


@dg.asset(
    name=PUSHBACK_OPERATION,
    group_name="mes",
    owners=owners_of("mes"),
    kinds={"postgres"},
    metadata=column_schema("mes_order_status_pushes"),
    deps=[WORK_ORDERS],
    pool=MES,
    check_specs=[sync_check_spec(PUSHBACK_OPERATION)],
    description="Completed work orders' status and good quantity sent back to the MES; only what "
    "differs from the last push is sent, so a second run sends nothing new.",
)
def mes_order_status_pushback(
    context: dg.AssetExecutionContext, config: PushbackConfig, mes: MESResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    push = mes_service.push_order_statuses(
        warehouse, mes.connector, mes.connection_config(), context.run.run_id, config.work_order_ids
    )
    sent, current = len(push.sent), len(push.already_current)
    context.log.info(f"order status push-back: {sent} sent, {current} already current")
    data = pa.Table.from_pandas(push.pushed, preserve_index=False)
    landed = Landed(push.outcome, data, {"sent": sent, "already_current": current})
    return sync_result(PUSHBACK_OPERATION, landed)
