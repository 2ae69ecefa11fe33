"""The MES sync: recipes, work orders and production schedules of a window, and the status push-back.

One sync reads the schedules of the window, then the work orders and recipes they name, and lands
them in foreign-key order (recipes, work orders, schedules), upserted on their natural keys: a
second identical sync creates and updates nothing. A malformed record, or one naming a line,
product, recipe or order the warehouse lacks, is rejected (named in the `mes_schedule_sync` audit
row) while the good records land; the sync is then PARTIAL. The products the recipes name and
their ideal cycle times are master data: `master_data.py` upserts them before the recipes land.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.errors import SourceSystemError
from oee_pipelines.connectors.mes import FetchResult, MESConnector, SourceConnectionConfig
from oee_pipelines.connectors.mes.base import RECIPE_COLUMNS, SCHEDULE_COLUMNS, WORK_ORDER_COLUMNS
from oee_pipelines.connectors.mes.records import RejectedRecord
from oee_pipelines.services.mes_erp.master_data import upsert_master_data_from_recipes
from oee_pipelines.services.mes_erp.schedules import (
    PRODUCTION_SCHEDULES,
    SCHEDULE_KEY,
    land_production_schedules,
)
from oee_pipelines.services.mes_erp.store import (
    SyncContext,
    Warehouse,
    active_lines,
    checked_references,
    failures_audited,
    push_candidates,
    record_pushes,
    record_recipe_downloads,
    record_sync,
    require_known_line,
    stored_recipe_versions,
    upsert_frame,
)
from oee_pipelines.services.mes_erp.sync import (
    ORDER_STATUS,
    Landed,
    SyncOutcome,
    distinct_values,
    fetch_each,
    merge_results,
    new_recipe_versions,
    pushes_needed,
)
from oee_pipelines.services.mes_erp.window import SyncWindow

# The tables a MES sync fills, in foreign-key order, with their audit entity and natural key.
RECIPES, WORK_ORDERS, SCHEDULES = "recipes", "work_orders", PRODUCTION_SCHEDULES
ENTITIES = {RECIPES: "recipe", WORK_ORDERS: "work_order", SCHEDULES: "production_schedule"}
KEYS = {RECIPES: ["id"], WORK_ORDERS: ["org_id", "wo_number"], SCHEDULES: SCHEDULE_KEY}


@dataclass(frozen=True)
class MesSyncRequest:
    """What one sync lands: `tables` (a subset of RECIPES, WORK_ORDERS, SCHEDULES) of the window."""

    window: SyncWindow
    tables: frozenset[str]
    run_id: str
    line_id: str | None = None
    recipe_ids: tuple[str, ...] = ()
    downloaded_by: str = "dagster"


@dataclass
class MesFetch:
    schedules: FetchResult
    work_orders: FetchResult
    recipes: FetchResult


def sync_mes(
    warehouse: Warehouse,
    connect: Callable[[], MESConnector],
    source: SourceConnectionConfig,
    request: MesSyncRequest,
    *,
    parallel: int = 8,
) -> dict[str, Landed]:
    """Fetch and land the requested tables; one audit row per table (FAILED rows if it raises).

    An unknown `line_id` is refused before the MES is asked anything.
    """
    require_known_line(warehouse, request.line_id)
    audit = SyncContext(source.org_id, source.system_type, request.line_id, request.window, request.run_id)
    with failures_audited(warehouse, audit, [ENTITIES[table] for table in sorted(request.tables)]):
        lines = [request.line_id] if request.line_id else active_lines(warehouse, source.org_id)
        with connect() as connector:
            fetched = fetch_from_mes(
                connector,
                lines,
                request.window,
                id_prefix=source.id_prefix,
                tables=request.tables,
                extra_recipe_ids=list(request.recipe_ids),
                parallel=parallel,
            )
        landed = _land(warehouse, request, fetched)
        record_sync(warehouse, audit, [result.outcome for result in landed.values()])
    return landed


def fetch_from_mes(
    connector: MESConnector,
    lines: Sequence[str],
    window: SyncWindow,
    *,
    id_prefix: str,
    tables: Collection[str],
    extra_recipe_ids: Sequence[str],
    parallel: int,
) -> MesFetch:
    """Read what the requested tables need: schedules of the window, the orders and recipes they name."""
    schedules = FetchResult(pd.DataFrame(columns=list(SCHEDULE_COLUMNS)))
    if set(tables) != {RECIPES} or not extra_recipe_ids:
        schedules = merge_results(
            [connector.get_production_schedules(line, window.start, window.end) for line in lines],
            SCHEDULE_COLUMNS,
        )
    order_numbers = [
        order_id.removeprefix(id_prefix) for order_id in distinct_values([schedules.frame], "work_order_id")
    ]
    work_orders = FetchResult(pd.DataFrame(columns=list(WORK_ORDER_COLUMNS)))
    if set(tables) & {WORK_ORDERS, SCHEDULES}:
        work_orders = connector.get_work_orders(order_numbers, parallel=parallel)
    recipe_ids = sorted(
        {*distinct_values([schedules.frame, work_orders.frame], "recipe_id"), *extra_recipe_ids}
    )
    recipes = fetch_each(
        connector.download_recipe,
        recipe_ids if RECIPES in tables else [],
        entity="recipe",
        key_field="recipe_id",
        columns=RECIPE_COLUMNS,
        parallel=parallel,
    )
    return MesFetch(schedules, work_orders, recipes)


def _land(warehouse: Warehouse, request: MesSyncRequest, fetched: MesFetch) -> dict[str, Landed]:
    """Check references and upsert, in foreign-key order; returns each requested table's outcome."""
    landed: dict[str, Landed] = {}
    landed_recipes: list[str] = []
    if RECIPES in request.tables:
        recipes = checked_references(
            warehouse, fetched.recipes, "recipe", "id", {"line_id": ("production_lines", [])}
        )
        master_data = upsert_master_data_from_recipes(warehouse, recipes.frame)
        recipes = checked_references(warehouse, recipes, "recipe", "id", {"product_id": ("products", [])})
        versions = stored_recipe_versions(warehouse, list(recipes.frame["id"]))
        downloads = new_recipe_versions(recipes.frame, versions, set(request.recipe_ids))
        landed[RECIPES] = _upsert(warehouse, RECIPES, recipes, fetched.recipes)
        landed[RECIPES].figures.update(master_data.figures())
        record_recipe_downloads(warehouse, downloads, request.downloaded_by, request.run_id)
        landed_recipes = list(recipes.frame["id"])
    landed_orders: list[str] = []
    if WORK_ORDERS in request.tables:
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
        landed[WORK_ORDERS] = _upsert(warehouse, WORK_ORDERS, orders, fetched.work_orders)
        landed_orders = list(orders.frame["id"])
    if SCHEDULES in request.tables:
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
        landed[SCHEDULES] = _upsert(warehouse, SCHEDULES, schedules, fetched.schedules)
    return landed


def _upsert(warehouse: Warehouse, table: str, checked: FetchResult, fetched: FetchResult) -> Landed:
    if table == SCHEDULES:
        data = pa.Table.from_pandas(checked.frame, preserve_index=False)
        with warehouse.connect() as conn:
            counts = land_production_schedules(conn, data)
    else:
        data, counts = upsert_frame(warehouse, table, checked.frame, KEYS[table])
    outcome = SyncOutcome(
        ENTITIES[table],
        fetched=len(fetched.frame) + len(fetched.rejected),
        created=counts.created,
        updated=counts.updated,
        rejected=checked.rejected,
    )
    return Landed(outcome, data)


@dataclass
class PushResult:
    """A status push-back: its audit outcome, the orders the MES now holds, what was sent."""

    outcome: SyncOutcome
    pushed: pd.DataFrame
    sent: list[str]
    already_current: list[str]


def push_order_statuses(
    warehouse: Warehouse,
    connect: Callable[[], MESConnector],
    source: SourceConnectionConfig,
    run_id: str,
    work_order_ids: Collection[str] = (),
) -> PushResult:
    """Send completed orders' status and good quantity where it differs from the last push.

    `work_order_ids` limits the push to those orders (default every completed order of this MES).
    """
    audit = SyncContext(source.org_id, source.system_type, None, None, run_id)
    with failures_audited(warehouse, audit, [ORDER_STATUS]):
        needed = pushes_needed(push_candidates(warehouse, source.org_id, source.system_type))
        if work_order_ids:
            needed = needed[needed["work_order_id"].isin(list(work_order_ids))].reset_index(drop=True)
        with connect() as connector:
            sent, current, rejected = _push(connector, needed)
        pushed = needed[needed["wo_number"].isin(sent + current)]
        record_pushes(warehouse, source.org_id, source.system_type, pushed, run_id)
        outcome = SyncOutcome(ORDER_STATUS, fetched=len(needed), updated=len(sent), rejected=rejected)
        record_sync(warehouse, audit, [outcome])
    return PushResult(outcome, pushed, sent, current)


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
