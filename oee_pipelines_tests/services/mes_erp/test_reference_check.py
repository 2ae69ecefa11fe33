"""`store.checked_references` asks the warehouse once for every referenced table, and rejects exactly
the rows naming an id that is neither stored nor landed by the same sync."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.connectors.mes.records import FetchResult, RejectedRecord
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.store import checked_references
from oee_pipelines.services.mes_erp.sync import reject_unknown_references
from oee_pipelines.storage.bulk_load import UpsertCounts


class CountingWarehouse:
    """The real warehouse (`WarehouseResource`), counting the queries it answers."""

    def __init__(self, url: str) -> None:
        self.warehouse = WarehouseResource(database_url=url)
        self.queries: list[str | sql.Composable] = []

    def url(self) -> str:
        return self.warehouse.url()

    def connect(self) -> AbstractContextManager[psycopg.Connection]:
        return self.warehouse.connect()

    def query_frame(
        self, query: str | sql.Composable, params: Sequence[Any] | dict[str, Any] = ()
    ) -> pd.DataFrame:
        self.queries.append(query)
        return self.warehouse.query_frame(query, params)

    def upsert(self, table: str, data: pa.Table, key_columns: Sequence[str]) -> UpsertCounts:
        return self.warehouse.upsert(table, data, key_columns)


def orders() -> FetchResult:
    frame = pd.DataFrame(
        {
            "wo_number": ["WO-1", "WO-2", "WO-3", "WO-4", "WO-5"],
            "product_id": ["PROD-001", "PROD-NEW", "PROD-GONE", "PROD-001", None],
            "line_id": ["LINE-001", "LINE-001", "LINE-001", "LINE-GONE", "LINE-001"],
            "recipe_id": [None, "R-LANDED", None, None, "R-GONE"],
        }
    )
    already = RejectedRecord("work_order", "WO-0", "planned_start", "unreadable")
    return FetchResult(frame, [already])


REFERENCES = {
    "product_id": ("products", ["PROD-NEW"]),
    "line_id": ("production_lines", []),
    "recipe_id": ("recipes", ["R-LANDED"]),
}


def one_table_at_a_time(warehouse_url: str, fetched: FetchResult) -> FetchResult:
    """The check as it was: one query per referenced table, on the rows the previous one kept."""
    result = fetched
    with psycopg.connect(warehouse_url) as conn:
        for column, (table, landed) in REFERENCES.items():
            named = sorted(set(result.frame[column].dropna()) - set(landed))
            query = sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table))
            known = {row[0] for row in conn.execute(query, (named,))} | set(landed)
            result = reject_unknown_references(result, "work_order", "wo_number", column, known, table)
    return result


def test_one_query_for_every_table_rejects_what_one_query_per_table_did(warehouse_url: str) -> None:
    warehouse = CountingWarehouse(warehouse_url)

    checked = checked_references(warehouse, orders(), "work_order", "wo_number", REFERENCES)

    assert len(warehouse.queries) == 1
    expected = one_table_at_a_time(warehouse_url, orders())
    pd.testing.assert_frame_equal(checked.frame, expected.frame)
    assert checked.rejected == expected.rejected
    assert list(checked.frame["wo_number"]) == ["WO-1", "WO-2"]
    assert [(r.key, r.field, r.reason) for r in checked.rejected] == [
        ("WO-0", "planned_start", "unreadable"),
        ("WO-3", "product_id", "PROD-GONE is not in products"),
        ("WO-4", "line_id", "LINE-GONE is not in production_lines"),
        ("WO-5", "recipe_id", "R-GONE is not in recipes"),
    ]


def test_nothing_to_look_up_asks_nothing_and_keeps_every_row(warehouse_url: str) -> None:
    warehouse = CountingWarehouse(warehouse_url)
    frame = pd.DataFrame({"wo_number": ["WO-1", "WO-2"], "product_id": ["PROD-NEW", None]}, index=[4, 7])

    checked = checked_references(
        warehouse, FetchResult(frame), "work_order", "wo_number", {"product_id": ("products", ["PROD-NEW"])}
    )

    assert warehouse.queries == []
    assert checked.rejected == []
    # Every row kept, renumbered from 0 as a filtered frame would be.
    pd.testing.assert_frame_equal(checked.frame, frame.reset_index(drop=True))
