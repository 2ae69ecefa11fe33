"""MES ingestion: recipes, work orders and production schedules, and the status push-back.

One sync reads the schedules of the window, then the work orders and recipes they name, and lands
them in foreign-key order (recipes, work orders, schedules), upserted on their natural keys: a
second identical sync creates and updates nothing. A malformed record is rejected (named in the
`mes_schedule_sync` audit row) while the good records land; the sync is then PARTIAL and the
`sync_complete` check warns. Which MES is read is the `mes` section's `system_type`.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.errors import SourceSystemError
from oee_pipelines.connectors.mes import FetchResult, MESConnector
from oee_pipelines.connectors.mes.base import RECIPE_COLUMNS, SCHEDULE_COLUMNS, WORK_ORDER_COLUMNS
from oee_pipelines.connectors.mes.records import RejectedRecord
from oee_pipelines.defs.mes.config import MesSyncConfig, PushbackConfig
from oee_pipelines.defs.mes.results import (
    check_selected,
    failures_audited,
    selected_names,
    sync_check_spec,
    sync_result,
)
from oee_pipelines.defs.mes.sync import (
    ORDER_STATUS,
    SyncOutcome,
    SyncWindow,
    distinct_values,
    fetch_each,
    merge_results,
    new_recipe_versions,
    pushes_needed,
    reject_unknown_references,
)
from oee_pipelines.defs.mes.warehouse_io import (
    SyncContext,
    active_lines,
    existing_ids,
    push_candidates,
    record_pushes,
    record_recipe_downloads,
    record_sync,
    require_known_line,
    stored_recipe_versions,
    upsert_frame,
)
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.warehouse import WarehouseResource

RECIPES, WORK_ORDERS, SCHEDULES = "recipes", "work_orders", "mes_production_schedules"
ENTITIES = {RECIPES: "recipe", WORK_ORDERS: "work_order", SCHEDULES: "production_schedule"}


@dataclass
class MesFetch:
    schedules: FetchResult
    work_orders: FetchResult
    recipes: FetchResult


def fetch_from_mes(
    connector: MESConnector,
    lines: list[str],
    window: SyncWindow,
    *,
    id_prefix: str,
    wanted: set[str],
    extra_recipe_ids: list[str],
    parallel: int,
) -> MesFetch:
    """Read what the selected assets need: schedules of the window, the orders and recipes they name."""
    schedules = FetchResult(pd.DataFrame(columns=list(SCHEDULE_COLUMNS)))
    if wanted != {RECIPES} or not extra_recipe_ids:
        schedules = merge_results(
            [connector.get_production_schedules(line, window.start, window.end) for line in lines],
            SCHEDULE_COLUMNS,
        )
    order_numbers = [
        order_id.removeprefix(id_prefix) for order_id in distinct_values([schedules.frame], "work_order_id")
    ]
    work_orders = FetchResult(pd.DataFrame(columns=list(WORK_ORDER_COLUMNS)))
    if wanted & {WORK_ORDERS, SCHEDULES}:
        work_orders = fetch_each(
            connector.get_work_order,
            order_numbers,
            entity="work_order",
            key_field="work_order_number",
            columns=WORK_ORDER_COLUMNS,
            parallel=parallel,
        )
    recipe_ids = sorted(
        {*distinct_values([schedules.frame, work_orders.frame], "recipe_id"), *extra_recipe_ids}
    )
    recipes = fetch_each(
        connector.download_recipe,
        recipe_ids if RECIPES in wanted else [],
        entity="recipe",
        key_field="recipe_id",
        columns=RECIPE_COLUMNS,
        parallel=parallel,
    )
    return MesFetch(schedules, work_orders, recipes)


def checked_references(
    warehouse: WarehouseResource, result: FetchResult, entity: str, key_column: str, references: dict
) -> FetchResult:
    """Reject rows naming a line, product, recipe or order the warehouse does not hold.

    `references` maps a column to (table, ids landed by this sync).
    """
    for column, (table, landed) in references.items():
        named = set(distinct_values([result.frame], column))
        known = existing_ids(warehouse, table, named - set(landed)) | set(landed)
        result = reject_unknown_references(result, entity, key_column, column, known, table)
    return result


@dg.multi_asset(
    name="mes_sync",
    specs=[
        dg.AssetSpec(
            RECIPES,
            group_name="mes",
            kinds={"postgres"},
            deps=["products", "production_lines"],
            skippable=True,
            description="Recipes downloaded from the MES (ideal cycle times); each new version is "
            "recorded in `recipe_downloads`.",
        ),
        dg.AssetSpec(
            WORK_ORDERS,
            group_name="mes",
            kinds={"postgres"},
            deps=[RECIPES],
            skippable=True,
            description="Work orders named by the MES schedule of the sync window.",
        ),
        dg.AssetSpec(
            SCHEDULES,
            group_name="mes",
            kinds={"postgres"},
            deps=[WORK_ORDERS],
            skippable=True,
            description="The MES production schedule of the sync window (table `production_schedules`).",
        ),
    ],
    check_specs=[sync_check_spec(name) for name in (RECIPES, WORK_ORDERS, SCHEDULES)],
    can_subset=True,
    pool="mes",
    op_tags={"oee/source_system": "mes"},
)
def mes_sync(
    context: dg.AssetExecutionContext, config: MesSyncConfig, mes: MESResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    wanted = selected_names(context)
    window = config.window()
    settings = mes.connection_config()
    require_known_line(warehouse, config.line_id)
    audit = SyncContext(settings.org_id, settings.system_type, config.line_id, window, context.run.run_id)
    with failures_audited(warehouse, audit, [ENTITIES[name] for name in sorted(wanted)]):
        lines = [config.line_id] if config.line_id else active_lines(warehouse, settings.org_id)
        with mes.connector() as connector:
            fetched = fetch_from_mes(
                connector,
                lines,
                window,
                id_prefix=settings.id_prefix,
                wanted=wanted,
                extra_recipe_ids=list(config.recipe_ids),
                parallel=mes.parallel_requests,
            )
        results = _land(context, config, warehouse, fetched, wanted)
        record_sync(warehouse, audit, [outcome for outcome, _ in results.values()])
    for name in (RECIPES, WORK_ORDERS, SCHEDULES):
        if name in results:
            yield results[name][1]


def _land(
    context: dg.AssetExecutionContext,
    config: MesSyncConfig,
    warehouse: WarehouseResource,
    fetched: MesFetch,
    wanted: set[str],
) -> dict[str, tuple[SyncOutcome, dg.MaterializeResult]]:
    """Check references and upsert, in foreign-key order; returns each selected asset's outcome."""
    results: dict[str, tuple[SyncOutcome, dg.MaterializeResult]] = {}
    landed_recipes: list[str] = []
    if RECIPES in wanted:
        recipes = checked_references(
            warehouse,
            fetched.recipes,
            "recipe",
            "id",
            {"product_id": ("products", []), "line_id": ("production_lines", [])},
        )
        versions = stored_recipe_versions(warehouse, list(recipes.frame["id"]))
        downloads = new_recipe_versions(recipes.frame, versions, set(config.recipe_ids))
        results[RECIPES] = _upsert(context, warehouse, RECIPES, recipes, fetched.recipes, ["id"])
        record_recipe_downloads(warehouse, downloads, config.downloaded_by, context.run.run_id)
        landed_recipes = list(recipes.frame["id"])
    landed_orders: list[str] = []
    if WORK_ORDERS in wanted:
        orders = checked_references(
            warehouse,
            fetched.work_orders,
            "work_order",
            "wo_number",
            {
                "product_id": ("products", []),
                "line_id": ("production_lines", []),
                "recipe_id": ("recipes", landed_recipes),
            },
        )
        results[WORK_ORDERS] = _upsert(
            context, warehouse, WORK_ORDERS, orders, fetched.work_orders, ["org_id", "wo_number"]
        )
        landed_orders = list(orders.frame["id"])
    if SCHEDULES in wanted:
        schedules = checked_references(
            warehouse,
            fetched.schedules,
            "production_schedule",
            "external_id",
            {
                "line_id": ("production_lines", []),
                "product_id": ("products", []),
                "recipe_id": ("recipes", landed_recipes),
                "work_order_id": ("work_orders", landed_orders),
            },
        )
        results[SCHEDULES] = _upsert(
            context, warehouse, SCHEDULES, schedules, fetched.schedules, ["org_id", "external_id"]
        )
    return results


TABLES = {RECIPES: "recipes", WORK_ORDERS: "work_orders", SCHEDULES: "production_schedules"}
TIME_COLUMNS = {WORK_ORDERS: "planned_start", SCHEDULES: "planned_start"}


def _upsert(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    asset: str,
    checked: FetchResult,
    fetched: FetchResult,
    key_columns: list[str],
) -> tuple[SyncOutcome, dg.MaterializeResult]:
    data, counts = upsert_frame(warehouse, TABLES[asset], checked.frame, key_columns)
    outcome = SyncOutcome(
        ENTITIES[asset],
        fetched=len(fetched.frame) + len(fetched.rejected),
        created=counts.created,
        updated=counts.updated,
        rejected=checked.rejected,
    )
    context.log.info(f"{asset}: {outcome.counts()}")
    result = sync_result(
        asset,
        outcome,
        data,
        time_column=TIME_COLUMNS.get(asset),
        with_check=check_selected(context, asset),
    )
    return outcome, result


@dg.asset(
    name="mes_order_status_pushback",
    group_name="mes",
    kinds={"postgres"},
    deps=[WORK_ORDERS],
    pool="mes",
    op_tags={"oee/source_system": "mes"},
    check_specs=[sync_check_spec("mes_order_status_pushback")],
    description="Completed work orders' status and good quantity sent back to the MES; only what "
    "differs from the last push is sent, so a second run sends nothing new.",
)
def mes_order_status_pushback(
    context: dg.AssetExecutionContext, config: PushbackConfig, mes: MESResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = mes.connection_config()
    audit = SyncContext(settings.org_id, settings.system_type, None, None, context.run.run_id)
    with failures_audited(warehouse, audit, [ORDER_STATUS]):
        needed = pushes_needed(push_candidates(warehouse, settings.org_id, settings.system_type))
        if config.work_order_ids:
            needed = needed[needed["work_order_id"].isin(config.work_order_ids)].reset_index(drop=True)
        with mes.connector() as connector:
            sent, current, rejected = _push(connector, needed)
        pushed = needed[needed["wo_number"].isin(sent + current)]
        record_pushes(warehouse, settings.org_id, settings.system_type, pushed, context.run.run_id)
        outcome = SyncOutcome(ORDER_STATUS, fetched=len(needed), updated=len(sent), rejected=rejected)
        record_sync(warehouse, audit, [outcome])
    context.log.info(f"order status push-back: {len(sent)} sent, {len(current)} already current")
    data = pa.Table.from_pandas(pushed, preserve_index=False)
    return sync_result(
        "mes_order_status_pushback", outcome, data, extra={"sent": len(sent), "already_current": len(current)}
    )


def _push(connector: MESConnector, needed: pd.DataFrame) -> tuple[list[str], list[str], list[RejectedRecord]]:
    """Send each order; returns (sent, already held by the MES, refused)."""
    sent: list[str] = []
    current: list[str] = []
    rejected: list[RejectedRecord] = []
    for order in needed.itertuples(index=False):
        quantity = None if pd.isna(order.actual_quantity) else int(order.actual_quantity)
        try:
            changed = connector.update_order_status(order.wo_number, order.status, quantity)
        except (SourceSystemError, ValueError) as error:
            rejected.append(RejectedRecord(ORDER_STATUS, order.wo_number, "status", str(error)))
            continue
        (sent if changed else current).append(order.wo_number)
    return sent, current, rejected
