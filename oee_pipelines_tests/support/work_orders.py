"""Work orders as the SAP connector maps them, for the bulk-load upsert tests (storage/test_upsert_*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

START = datetime(2025, 1, 13, 6, tzinfo=UTC)
KEY = ["org_id", "wo_number"]
ORDERS_AS_STORED = """SELECT id, org_id, wo_number, product_id, recipe_id, line_id, planned_quantity,
                          actual_quantity, status, planned_start, planned_end, actual_start, actual_end,
                          source_system
                   FROM work_orders ORDER BY id"""


def orders(count: int, quantity_offset: int = 0, **columns: Any) -> pa.Table:
    """`count` orders WO-000000... (planned quantity 1000 + n + `quantity_offset`); `columns` replace some."""
    numbers = [f"WO-{n:06d}" for n in range(count)]
    data: dict[str, Any] = {
        "id": pa.array(numbers),
        "org_id": pa.array(["demo"] * count),
        "wo_number": pa.array(numbers),
        "product_id": pa.array(["PROD-001"] * count),
        "recipe_id": pa.array([None] * count, pa.null()),
        "line_id": pa.array(["LINE-001"] * count),
        "planned_quantity": pa.array([1000 + n + quantity_offset for n in range(count)], pa.int64()),
        "actual_quantity": pa.array([None if n % 3 == 0 else n for n in range(count)], pa.int64()),
        "status": pa.array(["released"] * count),
        "planned_start": pa.array(
            [START + timedelta(minutes=n) for n in range(count)], pa.timestamp("ns", tz="UTC")
        ),
        "planned_end": pa.array(
            [START + timedelta(minutes=n + 90) for n in range(count)], pa.timestamp("ns", tz="UTC")
        ),
        "source_system": pa.array(["sap_odata"] * count),
    }
    data.update(columns)
    return pa.table(data)
