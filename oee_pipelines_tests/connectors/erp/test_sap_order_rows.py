"""The column-at-a-time reading of SAP production orders gives exactly what the record-by-record
parser gives: the same frame (values and dtypes) and the same rejections, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from oee_pipelines.connectors.erp import sap_odata
from oee_pipelines.connectors.mes.base import WORK_ORDER
from oee_pipelines.connectors.mes.records import RowContext, build_result
from oee_pipelines.simulator.servers.sap_odata import _production_order

CONTEXT = RowContext("demo", "SAP-", "sap_odata")
START = datetime(2025, 1, 13, 6, 30, 15, tzinfo=UTC)


def wire_order(n: int, **changes: Any) -> dict[str, Any]:
    """A production order as the SAP simulator sends it, with `changes` to its wire fields."""
    order = _production_order(
        {
            "work_order_number": f"WO-{n:06d}",
            "line_id": "LINE-001",
            "product_id": "PROD-001",
            "recipe_id": "RCP-001" if n % 2 else None,
            "planned_quantity": 1000 + n,
            "actual_quantity": n % 7,
            "status": ("planned", "released", "in_progress", "completed", "cancelled")[n % 5],
            "planned_start": START + timedelta(minutes=n),
            "planned_end": START + timedelta(minutes=n + 95),
        }
    )
    return {**order, **changes}


# Each: wire fields changed on one order, all of which the record-by-record parser must decide.
ODD_ORDERS: list[dict[str, Any]] = [
    {"TotalQuantity": "lots"},
    {"TotalQuantity": " 12.000 "},
    {"TotalQuantity": "12.500"},
    {"TotalQuantity": "-3.000"},
    {"TotalQuantity": 17},
    {"TotalQuantity": "1e3"},
    {"TotalQuantity": ""},
    {"TotalQuantity": None},
    {"MfgOrderConfirmedYieldQty": None},
    {"MfgOrderConfirmedYieldQty": "   "},
    {"MfgOrderConfirmedYieldQty": "4."},
    {"ManufacturingOrder": None},
    {"ManufacturingOrder": "  WO-PADDED "},
    {"Material": ""},
    {"Material": 5},
    {"ProductionLine": "   "},
    {"ProductionVersion": ""},
    {"ProductionVersion": "  "},
    {"ProductionVersion": " RCP-002"},
    {"ProductionVersion": 7},
    {"MfgOrderPlannedStartDate": "/Date(soon)/"},
    {"MfgOrderPlannedStartDate": "/Date(1736748000000+0100)/"},
    {"MfgOrderPlannedStartDate": " /Date(1736748000000)/"},
    {"MfgOrderPlannedStartDate": "/Date(-86400000)/"},
    {"MfgOrderPlannedStartDate": "/Date(9999999999999)/"},
    {"MfgOrderPlannedStartDate": None},
    {"MfgOrderPlannedStartTime": "PT25H61M61S"},
    {"MfgOrderPlannedStartTime": "PT1H2M3S"},
    {"MfgOrderPlannedStartTime": "06:30"},
    {"MfgOrderPlannedEndTime": None},
    {"MfgOrderPlannedEndDate": "/Date(1736640000000)/"},  # ends before it starts
    {"OrderIsDeleted": True},
    {"OrderIsReleased": 0, "OrderIsPartiallyConfirmed": "yes"},
]


def record_by_record(orders: list[dict[str, Any]]) -> Any:
    return build_result([sap_odata._order_record(order) for order in orders], WORK_ORDER, CONTEXT)


def test_plain_orders_read_column_wise_equal_the_record_parser() -> None:
    orders = [wire_order(n) for n in range(200)]
    fast, slow = sap_odata.order_rows(orders, CONTEXT), record_by_record(orders)
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.rejected == slow.rejected == []
    assert str(fast.frame["planned_start"].iloc[1]) == "2025-01-13 06:31:15+00:00"


@pytest.mark.parametrize("changes", ODD_ORDERS, ids=[str(c) for c in ODD_ORDERS])
def test_an_odd_order_among_plain_ones_is_read_or_rejected_as_before(changes: dict[str, Any]) -> None:
    orders = [wire_order(1), wire_order(2, **changes), wire_order(3)]
    fast, slow = sap_odata.order_rows(orders, CONTEXT), record_by_record(orders)
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.rejected == slow.rejected


def test_all_odd_orders_together_and_an_empty_page() -> None:
    orders = [wire_order(n, **changes) for n, changes in enumerate(ODD_ORDERS)] + [{}]
    fast, slow = sap_odata.order_rows(orders, CONTEXT), record_by_record(orders)
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.rejected == slow.rejected
    assert len(fast.rejected) > 10  # the cases above do reject
    empty_fast, empty_slow = sap_odata.order_rows([], CONTEXT), record_by_record([])
    pd.testing.assert_frame_equal(empty_fast.frame, empty_slow.frame)
