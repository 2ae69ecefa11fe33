"""The Oracle EBS connector against the Oracle EBS (ISG REST) simulator on loopback."""

from __future__ import annotations

from datetime import date

import pytest

from oee_pipelines.connectors.erp import make_erp_connector
from oee_pipelines.connectors.errors import SourceDataError, SourceSystemError
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import LINE
from oee_pipelines_tests.support.mes_simulators import RunningOracle


def test_items_labour_and_requirements(oracle: RunningOracle) -> None:
    with make_erp_connector(oracle.config()) as erp:
        materials = erp.get_materials().frame
        labour = erp.get_labor_costs(LINE, date(2025, 1, 13), date(2025, 1, 14)).frame
        consumption = erp.get_inventory_consumption("WO-000001").frame
    assert list(materials["unit_cost"]) == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])
    assert list(labour["work_date"]) == [date(2025, 1, 13)] * 2
    assert list(consumption["consumed_quantity"]) == [1020.5] * 3


def test_a_malformed_item_is_rejected_the_others_come_through(
    oracle: RunningOracle, source_data: SourceData
) -> None:
    source_data.materials[4]["base_unit"] = None
    with make_erp_connector(oracle.config()) as erp:
        result = erp.get_materials()
    assert [(r.key, r.field) for r in result.rejected] == [("RM-005", "base_unit")]
    assert len(result.frame) == 4


def test_status_push_back_and_a_repeat_sends_nothing(oracle: RunningOracle, source_data: SourceData) -> None:
    with make_erp_connector(oracle.config()) as erp:
        assert erp.update_order_status("WO-000003", "completed", 1000) is True
        assert erp.update_order_status("WO-000003", "completed", 1000) is False
        order = erp.get_work_order("WO-000003").frame.iloc[0]
    assert (order["status"], order["actual_quantity"]) == ("completed", 1000)
    assert len(source_data.status_updates) == 1


def test_an_api_error_in_the_output_parameters_is_a_typed_error(oracle: RunningOracle) -> None:
    with make_erp_connector(oracle.config()) as erp, pytest.raises(SourceSystemError) as failure:
        erp.get_work_order("WO-404")
    assert (failure.value.system, failure.value.call) == ("oracle_ebs", "GET_WORK_ORDER")
    assert failure.value.reason == "WIP_ENTITY_NOT_FOUND: Job WO-404 does not exist"


def test_an_isg_service_fault_body_becomes_the_reason(oracle: RunningOracle) -> None:
    config = oracle.config(service_options={"service_alias": "oee_erp"})
    with make_erp_connector(config) as erp, pytest.raises(SourceSystemError) as failure:
        erp._call("GET_BOM", {})
    assert failure.value.status_code == 404
    assert failure.value.reason == "ISG_OPERATION_NOT_FOUND: Operation GET_BOM is not deployed"


def test_a_throttled_then_truncated_answer(oracle: RunningOracle) -> None:
    oracle.simulator.switches.throttle_next = 1
    oracle.simulator.switches.retry_after_seconds = 0
    with make_erp_connector(oracle.config()) as erp:
        assert len(erp.get_materials().frame) == 5
        oracle.simulator.switches.malformed_next = 1
        with pytest.raises(SourceDataError):
            erp.get_materials()
