"""Many work orders from the MES REST API read into one frame give what reading each into its own
frame and stacking them gave (`MESConnector.get_work_orders`): rows, dtypes, rejections, order."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.connectors.errors import SourceSystemError
from oee_pipelines.connectors.mes import make_mes_connector
from oee_pipelines.connectors.mes.base import MESConnector
from oee_pipelines.connectors.mes.records import FetchResult
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_simulators import RunningRest

NUMBERS = ["WO-000003", "WO-404", "WO-000001", "WO-000002", "WO-000005", "WO-405", "WO-000004"]


def both_ways(rest_mes: RunningRest, numbers: list[str]) -> tuple[FetchResult, FetchResult]:
    """(one frame for all orders, the per-order frames stacked) for the same numbers."""
    with make_mes_connector(rest_mes.config()) as mes:
        batched = mes.get_work_orders(numbers, parallel=3)
        one_by_one = MESConnector.get_work_orders(mes, numbers, parallel=3)
    return batched, one_by_one


def test_orders_missing_and_malformed_come_out_as_one_by_one(
    rest_mes: RunningRest, source_data: SourceData
) -> None:
    source_data.work_orders[1]["planned_quantity"] = "lots"
    source_data.work_orders[3]["planned_start"] = "next week"
    batched, one_by_one = both_ways(rest_mes, NUMBERS)
    pd.testing.assert_frame_equal(batched.frame, one_by_one.frame)
    assert batched.rejected == one_by_one.rejected
    assert [(r.key, r.field) for r in batched.rejected] == [
        ("WO-404", "work_order_number"),
        ("WO-000002", "planned_quantity"),
        ("WO-405", "work_order_number"),
        ("WO-000004", "planned_start"),
    ]
    assert list(batched.frame["wo_number"]) == ["WO-000003", "WO-000001", "WO-000005"]


@pytest.mark.parametrize(
    "numbers", [[], ["WO-404"], ["WO-404", "WO-000001"]], ids=["none", "only-missing", "first-missing"]
)
def test_edge_batches_have_the_same_shape(rest_mes: RunningRest, numbers: list[str]) -> None:
    batched, one_by_one = both_ways(rest_mes, numbers)
    pd.testing.assert_frame_equal(batched.frame, one_by_one.frame)
    assert batched.rejected == one_by_one.rejected


def test_a_failure_other_than_not_found_fails_the_batch(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.fail_path_contains = "WO-000002"
    rest_mes.simulator.switches.fail_next = 100
    with make_mes_connector(rest_mes.config()) as mes, pytest.raises(SourceSystemError) as raised:
        mes.get_work_orders(["WO-000001", "WO-000002"], parallel=2)
    assert raised.value.status_code == 500
