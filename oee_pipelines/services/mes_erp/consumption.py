"""Material consumption (from the MES) and production variance (from the ERP) of the work orders of
UTC days: seed 002's "inventory consumption tracking" and "production variance reporting".

This module is the only writer of `material_consumption` and `production_variance` (sql/051). A day's
orders are those the warehouse holds with `planned_start` on that UTC day (landed by the MES sync).
For each, the MES's `get_material_consumption` and the ERP's `get_production_variance` are read, and
the rows of those days' orders are replaced in one transaction: a re-run of a day changes nothing, an
order the source no longer lists loses its rows, and an order whose planned start moved to another
day moves with it (rows are keyed by order and material, never by day). An order the source does not
have (HTTP 404 or a `NOT_FOUND` fault), a malformed record or a material listed twice for one order is
rejected by name in the `mes_schedule_sync` audit row (PARTIAL); any other failure fails the sync and
leaves the earlier rows in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from psycopg import sql

from oee_pipelines.connectors.erp import ERPConnector
from oee_pipelines.connectors.erp.base import VARIANCE_COLUMNS, YIELD_ITEM
from oee_pipelines.connectors.mes import FetchResult, MESConnector, SourceConnectionConfig
from oee_pipelines.connectors.mes.base import CONSUMPTION_COLUMNS
from oee_pipelines.connectors.mes.records import RejectedRecord
from oee_pipelines.services.mes_erp.store import SyncContext, Warehouse, failures_audited, record_sync
from oee_pipelines.services.mes_erp.sync import Landed, SyncOutcome, fetch_each
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.storage.bulk_load import replace_rows

MATERIAL_CONSUMPTION, PRODUCTION_VARIANCE = "material_consumption", "production_variance"
ORDER_COLUMNS = ["work_order_id", "wo_number", "line_id", "planned_start"]
MATERIAL_CONSUMPTION_COLUMNS = [
    "org_id", "work_order_id", "wo_number", "line_id", "planned_start", "material_number",
    "planned_quantity", "consumed_quantity", "base_unit", "source_system", "dagster_run_id",
]  # fmt: skip
PRODUCTION_VARIANCE_COLUMNS = [
    "org_id", "work_order_id", "wo_number", "line_id", "planned_start", "item", "item_type", "unit",
    "planned_quantity", "actual_quantity", "variance_quantity", "variance_pct", "source_system",
    "dagster_run_id",
]  # fmt: skip
YIELD, MATERIAL = "yield", "material"

_TEXT, _NUMBER, _TIME = pa.string(), pa.float64(), pa.timestamp("us", tz="UTC")
_TYPES = {"planned_start": _TIME} | {
    name: _NUMBER
    for name in (
        "planned_quantity",
        "consumed_quantity",
        "actual_quantity",
        "variance_quantity",
        "variance_pct",
    )
}


def orders_starting_between(
    warehouse: Warehouse, org_id: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """The organization's work orders with `planned_start` in [start, end) (`ORDER_COLUMNS`)."""
    return warehouse.query_frame(
        """SELECT id AS work_order_id, wo_number, line_id, planned_start FROM work_orders
           WHERE org_id = %s AND planned_start >= %s AND planned_start < %s ORDER BY wo_number""",
        (org_id, start, end),
    )


def sync_material_consumption(
    warehouse: Warehouse,
    connect: Callable[[], MESConnector],
    source: SourceConnectionConfig,
    window: SyncWindow,
    run_id: str,
    *,
    parallel: int = 8,
) -> Landed:
    """The MES's consumption of the orders starting in `window` into `material_consumption`."""
    audit = SyncContext(source.org_id, source.system_type, None, window, run_id)
    with failures_audited(warehouse, audit, [MATERIAL_CONSUMPTION]):
        orders = orders_starting_between(warehouse, source.org_id, window.start, window.end)
        lines = dict(zip(orders["wo_number"], orders["line_id"], strict=True))
        with connect() as connector:
            fetched = fetch_each(
                lambda number: connector.get_material_consumption(lines[number], number),
                list(lines),
                entity=MATERIAL_CONSUMPTION,
                key_field="work_order_number",
                columns=CONSUMPTION_COLUMNS,
                parallel=parallel,
            )
        checked = unique_per_order(fetched, MATERIAL_CONSUMPTION, "material_number")
        rows = consumption_rows(checked.frame, orders, source, run_id)
        return _replace(warehouse, audit, MATERIAL_CONSUMPTION, rows, orders, window, fetched, checked)


def sync_production_variance(
    warehouse: Warehouse,
    connect: Callable[[], ERPConnector],
    source: SourceConnectionConfig,
    window: SyncWindow,
    run_id: str,
    *,
    parallel: int = 8,
) -> Landed:
    """The ERP's yield and component variance of the orders starting in `window` into
    `production_variance`."""
    audit = SyncContext(source.org_id, source.system_type, None, window, run_id)
    with failures_audited(warehouse, audit, [PRODUCTION_VARIANCE]):
        orders = orders_starting_between(warehouse, source.org_id, window.start, window.end)
        with connect() as connector:
            fetched = fetch_each(
                connector.get_production_variance,
                list(orders["wo_number"]),
                entity=PRODUCTION_VARIANCE,
                key_field="work_order_number",
                columns=VARIANCE_COLUMNS,
                parallel=parallel,
            )
        checked = unique_per_order(fetched, PRODUCTION_VARIANCE, "item")
        rows = variance_rows(checked.frame, orders, source, run_id)
        return _replace(warehouse, audit, PRODUCTION_VARIANCE, rows, orders, window, fetched, checked)


def unique_per_order(fetched: FetchResult, entity: str, item_column: str) -> FetchResult:
    """Reject every record of an (order, item) the source listed more than once: which one holds
    is not knowable, and summing postings could double a planned quantity."""
    frame = fetched.frame
    if frame.empty:
        return fetched
    repeated = frame.duplicated(["wo_number", item_column], keep=False)
    rejected = [
        RejectedRecord(entity, f"{number}/{item}", item_column, "listed more than once for the order")
        for number, item in frame.loc[repeated, ["wo_number", item_column]]
        .drop_duplicates()
        .itertuples(index=False)
    ]
    return FetchResult(frame.loc[~repeated].reset_index(drop=True), [*fetched.rejected, *rejected])


def consumption_rows(
    consumption: pd.DataFrame, orders: pd.DataFrame, source: SourceConnectionConfig, run_id: str
) -> pd.DataFrame:
    """`material_consumption` rows: the connector's records with the warehouse's order id, line and
    planned start (the day the rows belong to)."""
    frame = _with_orders(consumption, orders, CONSUMPTION_COLUMNS)
    frame["line_id"] = frame["line_id"].where(frame["line_id"].notna(), frame["order_line_id"])
    return _finish(frame, source, run_id, MATERIAL_CONSUMPTION_COLUMNS, "material_number")


def variance_rows(
    variance: pd.DataFrame, orders: pd.DataFrame, source: SourceConnectionConfig, run_id: str
) -> pd.DataFrame:
    """`production_variance` rows: the yield row and one row per component of each order."""
    frame = _with_orders(variance, orders, VARIANCE_COLUMNS)
    frame["line_id"] = frame["order_line_id"]
    frame["item_type"] = [YIELD if item == YIELD_ITEM else MATERIAL for item in frame["item"]]
    return _finish(frame, source, run_id, PRODUCTION_VARIANCE_COLUMNS, "item")


def _with_orders(fetched: pd.DataFrame, orders: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The fetched rows of the orders asked for, with the warehouse's id, line and planned start."""
    if "wo_number" not in fetched.columns:  # nothing fetched (every order rejected, or none asked)
        fetched = pd.DataFrame(columns=list(columns))
    frame = fetched.drop(columns=["work_order_id", "org_id"], errors="ignore")
    return frame.merge(orders.rename(columns={"line_id": "order_line_id"}), on="wo_number", how="inner")


def _finish(
    frame: pd.DataFrame, source: SourceConnectionConfig, run_id: str, columns: list[str], item: str
) -> pd.DataFrame:
    frame = frame.assign(org_id=source.org_id, source_system=source.system_type, dagster_run_id=run_id)
    return frame[columns].sort_values(["wo_number", item]).reset_index(drop=True)


def _arrow(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Table:
    arrays = [
        pa.array(
            [None if pd.isna(value) else value for value in frame[name]]
            if name != "planned_start"
            else pd.to_datetime(frame[name], utc=True),
            _TYPES.get(name, _TEXT),
        )
        for name in columns
    ]
    return pa.Table.from_arrays(arrays, names=list(columns))


def _replace(
    warehouse: Warehouse,
    audit: SyncContext,
    table: str,
    rows: pd.DataFrame,
    orders: pd.DataFrame,
    window: SyncWindow,
    fetched: FetchResult,
    checked: FetchResult,
) -> Landed:
    """Replace the rows of the window's orders (and of any order landing now) in one transaction.

    The audit counts compare with what was there: rows new to the table are created, rows whose
    figures changed are updated, so a re-run of an unchanged day creates and updates nothing.
    """
    item = "material_number" if table == MATERIAL_CONSUMPTION else "item"
    data = _arrow(rows, rows.columns)
    where = sql.SQL("org_id = %s AND ((planned_start >= %s AND planned_start < %s) OR wo_number = ANY(%s))")
    params = (audit.org_id, window.start, window.end, list(orders["wo_number"]))
    compared = [name for name in rows.columns if name not in ("org_id", "dagster_run_id")]
    key = (compared.index("wo_number"), compared.index(item))
    with warehouse.connect() as conn:
        with conn.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT {} FROM {} WHERE ").format(
                    sql.SQL(", ").join(map(sql.Identifier, compared)), sql.Identifier(table)
                )
                + where,
                params,
            )
            before = {(r[key[0]], r[key[1]]): _comparable(r) for r in cursor.fetchall()}
        replace_rows(conn, table, data, where, params)
    after = {
        (r[key[0]], r[key[1]]): _comparable(r) for r in rows[compared].itertuples(index=False, name=None)
    }
    outcome = SyncOutcome(
        table,
        fetched=len(fetched.frame) + len(fetched.rejected),
        created=len(after.keys() - before.keys()),
        updated=sum(1 for row_key, values in after.items() if before.get(row_key, values) != values),
        rejected=checked.rejected,
    )
    record_sync(warehouse, audit, [outcome])
    figures = {"work_orders": len(orders), "rows_removed": len(before.keys() - after.keys())}
    return Landed(outcome, data, figures)


def _comparable(row: Sequence[object]) -> tuple[object, ...]:
    """A row's values as plain, rounded values, so the warehouse's and the source's compare equal."""
    values: list[object] = []
    for value in row:
        if isinstance(value, (int, float, Decimal)):
            values.append(None if pd.isna(value) else round(float(value), 3))
        elif value is None or value is pd.NaT:
            values.append(None)
        elif isinstance(value, (datetime, pd.Timestamp)):
            values.append(pd.Timestamp(value).isoformat())
        else:
            values.append(str(value))
    return tuple(values)
