"""The warehouse side of a MES/ERP sync: the audit trail (`mes_schedule_sync`), recipe downloads,
push-back bookkeeping, the synced tables' upserts, and the lookups the sync needs (active lines,
ids that already exist).

`Warehouse` is what the service needs of the warehouse; the Dagster `WarehouseResource` is one.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.connectors.mes.records import FetchResult
from oee_pipelines.services.mes_erp.sync import SyncOutcome, distinct_values, reject_unknown_references
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.storage.bulk_load import UpsertCounts, copy_arrow, upsert_arrow


class Warehouse(Protocol):
    """Connections, frame queries and keyed upserts (the Dagster `WarehouseResource` provides them)."""

    def url(self) -> str: ...

    def connect(self) -> AbstractContextManager[psycopg.Connection]: ...

    def query_frame(
        self, query: str | sql.Composable, params: Sequence[Any] | dict[str, Any] = ()
    ) -> pd.DataFrame: ...

    def upsert(self, table: str, data: pa.Table, key_columns: Sequence[str]) -> UpsertCounts: ...


@dataclass(frozen=True)
class SyncContext:
    """Who synced what: the audit row's fixed columns."""

    org_id: str
    system: str
    line_id: str | None
    window: SyncWindow | None
    run_id: str


def record_sync(warehouse: Warehouse, context: SyncContext, outcomes: Sequence[SyncOutcome]) -> None:
    """One `mes_schedule_sync` row per entity synced."""
    window_start = context.window.start if context.window else None
    window_end = context.window.end if context.window else None
    with warehouse.connect() as conn:
        for outcome in outcomes:
            conn.execute(
                """INSERT INTO mes_schedule_sync (org_id, mes_system, entity, line_id, range_start, range_end,
                       records_fetched, records_created, records_updated, records_rejected, sync_status,
                       error_message, errors, dagster_run_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)""",
                (
                    context.org_id, context.system, outcome.entity, context.line_id, window_start,
                    window_end, outcome.fetched, outcome.created, outcome.updated, len(outcome.rejected),
                    outcome.status, outcome.error, json.dumps(outcome.errors_json()), context.run_id,
                ),
            )  # fmt: skip


def record_failure(
    warehouse: Warehouse, context: SyncContext, entities: Sequence[str], error: BaseException
) -> None:
    """FAILED rows for every entity of a sync that raised, with the error; best effort."""
    message = f"{type(error).__name__}: {error}"
    record_sync(warehouse, context, [SyncOutcome(entity, error=message) for entity in entities])


@contextmanager
def failures_audited(warehouse: Warehouse, context: SyncContext, entities: Sequence[str]) -> Iterator[None]:
    """A sync that raises still leaves FAILED audit rows naming the error, then raises on."""
    try:
        yield
    except Exception as error:
        record_failure(warehouse, context, entities, error)
        raise


def active_lines(warehouse: Warehouse, org_id: str) -> list[str]:
    frame = warehouse.query_frame(
        "SELECT id FROM production_lines WHERE org_id = %s AND is_active ORDER BY id", (org_id,)
    )
    return [str(v) for v in frame["id"]]


def require_known_line(warehouse: Warehouse, line_id: str | None) -> None:
    """A sync asked for one line must name a line the warehouse holds (its audit rows refer to it)."""
    if line_id and not existing_ids(warehouse, "production_lines", [line_id]):
        raise ValueError(f"line_id {line_id!r} is not in production_lines (load the reference data first)")


def existing_ids(warehouse: Warehouse, table: str, ids: Collection[str]) -> set[str]:
    """Which of `ids` are in `table` already."""
    if not ids:
        return set()
    query = sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table))
    return {str(v) for v in warehouse.query_frame(query, (list(ids),))["id"]}


def checked_references(
    warehouse: Warehouse,
    result: FetchResult,
    entity: str,
    key_column: str,
    references: Mapping[str, tuple[str, Collection[str]]],
) -> FetchResult:
    """Reject rows naming a line, product, recipe or order the warehouse does not hold.

    `references` maps a column to (table, ids landed by this sync). The warehouse is asked once, for
    every table at a time.
    """
    asked: dict[str, set[str]] = {}
    for column, (table, landed) in references.items():
        asked.setdefault(table, set()).update(set(distinct_values([result.frame], column)) - set(landed))
    stored = stored_ids(warehouse, asked)
    for column, (table, landed) in references.items():
        known = stored[table] | set(landed)
        result = reject_unknown_references(result, entity, key_column, column, known, table)
    return result


def stored_ids(warehouse: Warehouse, ids: Mapping[str, Collection[str]]) -> dict[str, set[str]]:
    """`existing_ids` of several tables in one query: for each table, which of its `ids` it holds."""
    asked = [(table, list(table_ids)) for table, table_ids in ids.items() if table_ids]
    stored: dict[str, set[str]] = {table: set() for table in ids}
    if not asked:
        return stored
    each = sql.SQL("SELECT {} AS n, id::text AS id FROM {} WHERE id = ANY(%s)")
    query = sql.SQL(" UNION ALL ").join(
        each.format(sql.Literal(n), sql.Identifier(table)) for n, (table, _) in enumerate(asked)
    )
    frame = warehouse.query_frame(query, [table_ids for _, table_ids in asked])
    for n, value in zip(frame["n"], frame["id"], strict=True):
        stored[asked[n][0]].add(str(value))
    return stored


def stored_recipe_versions(warehouse: Warehouse, recipe_ids: Collection[str]) -> dict[str, str]:
    if not recipe_ids:
        return {}
    frame = warehouse.query_frame("SELECT id, version FROM recipes WHERE id = ANY(%s)", (list(recipe_ids),))
    return dict(zip(frame["id"], frame["version"], strict=True))


def upsert_frame(
    warehouse: Warehouse, table: str, frame: pd.DataFrame, key_columns: Sequence[str]
) -> tuple[pa.Table, UpsertCounts]:
    """Upsert a connector's frame on `key_columns`; returns the Arrow rows sent and the counts.

    `bulk_load.upsert_arrow`, as `Warehouse.upsert`: the staging rows go as binary COPY where they can.
    """
    data = pa.Table.from_pandas(frame, preserve_index=False)
    with warehouse.connect() as conn:
        return data, upsert_arrow(conn, table, data, key_columns)


def record_recipe_downloads(
    warehouse: Warehouse, recipes: pd.DataFrame, downloaded_by: str, run_id: str
) -> int:
    """A `recipe_downloads` row per recipe (its version as downloaded); returns rows written."""
    rows = pa.table(
        {
            "org_id": pa.array(recipes["org_id"], pa.string()),
            "mes_recipe_id": pa.array(recipes["id"], pa.string()),
            "local_recipe_id": pa.array(recipes["id"], pa.string()),
            "recipe_version": pa.array(recipes["version"], pa.string()),
            "downloaded_by": pa.array([downloaded_by] * len(recipes), pa.string()),
            "dagster_run_id": pa.array([run_id] * len(recipes), pa.string()),
        }
    )
    with warehouse.connect() as conn:
        return copy_arrow(conn, "recipe_downloads", rows)


def push_candidates(warehouse: Warehouse, org_id: str, system: str) -> pd.DataFrame:
    """Completed work orders of this MES with their quantity and what was last pushed for them.

    The quantity is the good pieces the OEE stage counted for the order, else the order's own
    `actual_quantity` (until `oee_snapshots` holds the order).
    """
    return warehouse.query_frame(
        """SELECT w.id AS work_order_id, w.wo_number, w.status,
                  COALESCE(s.good_pieces, w.actual_quantity) AS actual_quantity,
                  p.status AS pushed_status, p.actual_quantity AS pushed_quantity
           FROM work_orders w
           LEFT JOIN (SELECT work_order_id, sum(good_pieces)::integer AS good_pieces FROM oee_snapshots
                      WHERE org_id = %(org)s AND work_order_id IS NOT NULL GROUP BY work_order_id) s
             ON s.work_order_id = w.id
           LEFT JOIN mes_order_status_pushes p ON p.org_id = w.org_id AND p.work_order_id = w.id
           WHERE w.org_id = %(org)s AND w.status = 'completed' AND w.source_system = %(system)s
           ORDER BY w.wo_number""",
        {"org": org_id, "system": system},
    )


def record_pushes(warehouse: Warehouse, org_id: str, system: str, pushed: pd.DataFrame, run_id: str) -> None:
    """Remember what the MES now holds for each pushed order, so the next run skips it."""
    count = len(pushed)
    rows = pa.table(
        {
            "org_id": pa.array([org_id] * count, pa.string()),
            "work_order_id": pa.array(pushed["work_order_id"], pa.string()),
            "mes_system": pa.array([system] * count, pa.string()),
            "status": pa.array(pushed["status"], pa.string()),
            "actual_quantity": pa.array(pushed["actual_quantity"].astype("Int64"), pa.int32()),
            "pushed_at": pa.array([datetime.now(UTC)] * count, pa.timestamp("us", tz="UTC")),
            "dagster_run_id": pa.array([run_id] * count, pa.string()),
        }
    )
    warehouse.upsert("mes_order_status_pushes", rows, ["org_id", "work_order_id"])
