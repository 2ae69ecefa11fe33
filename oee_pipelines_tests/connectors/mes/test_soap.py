"""The MES SOAP connector (zeep) against the MES SOAP simulator and its WSDL on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError
from oee_pipelines.connectors.mes import make_mes_connector
from oee_pipelines.connectors.mes.soap import SoapFaultError
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import DAY, LINE, work_order
from oee_pipelines_tests.support.mes_simulators import RunningSoap

NEXT_DAY = DAY + timedelta(days=1)


def test_soap_round_trip_of_every_operation(soap_mes: RunningSoap, source_data: SourceData) -> None:
    with make_mes_connector(soap_mes.config()) as mes:
        schedules = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
        order = mes.get_work_order("WO-000004").frame.iloc[0]
        recipe = mes.download_recipe("RCP-001").frame.iloc[0]
        consumption = mes.get_material_consumption(LINE, "WO-000001").frame
        assert mes.update_order_status("WO-000004", "in_progress", 500) is True
        assert mes.update_order_status("WO-000004", "in_progress", 500) is False
    assert list(schedules.frame["planned_quantity"]) == [1001, 1002, 1003, 1004, 1005]
    assert (order["wo_number"], order["planned_quantity"], order["status"]) == ("WO-000004", 1004, "released")
    assert (recipe["ideal_cycle_time_s"], recipe["parameters"]) == (1.5, '{"ideal_rate_ppm": 40.0}')
    assert list(consumption["planned_quantity"]) == [1000.0] * 3
    assert [(u.status, u.actual_quantity) for u in source_data.status_updates] == [("in_progress", 500)]
    assert source_data.work_order("WO-000004") == {
        **work_order(4),
        "status": "in_progress",
        "actual_quantity": 500,
    }


def test_a_soap_fault_is_a_typed_error_and_not_retried(soap_mes: RunningSoap) -> None:
    with make_mes_connector(soap_mes.config()) as mes:
        mes.download_recipe("RCP-001")  # loads the WSDL first
        seen_before = soap_mes.simulator.switches.requests_seen
        with pytest.raises(SoapFaultError) as failure:
            mes.get_work_order("WO-999999")
    assert (failure.value.fault_code, failure.value.call, failure.value.system) == (
        "NOT_FOUND",
        "GetWorkOrder",
        "mes_soap",
    )
    assert "WO-999999 not found" in failure.value.reason
    assert soap_mes.simulator.switches.requests_seen == seen_before + 1


def test_an_invalid_status_push_is_refused_by_a_fault(soap_mes: RunningSoap) -> None:
    with make_mes_connector(soap_mes.config()) as mes, pytest.raises(ValueError, match="on_hold"):
        mes.update_order_status("WO-000001", "on_hold", 1)


def test_a_plain_500_is_still_retried(soap_mes: RunningSoap) -> None:
    soap_mes.simulator.switches.fail_next = 2
    with make_mes_connector(soap_mes.config()) as mes:
        assert list(mes.get_work_order("WO-000001").frame["wo_number"]) == ["WO-000001"]


def test_a_malformed_soap_record_is_rejected_the_others_come_through(
    soap_mes: RunningSoap, source_data: SourceData
) -> None:
    source_data.schedules[2]["planned_quantity"] = -5
    with make_mes_connector(soap_mes.config()) as mes:
        result = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert [(r.key, r.field) for r in result.rejected] == [("SCH-003", "planned_quantity")]
    assert len(result.frame) == 4


def test_a_truncated_soap_answer_is_a_source_data_error(soap_mes: RunningSoap) -> None:
    with make_mes_connector(soap_mes.config()) as mes:
        mes.download_recipe("RCP-001")
        soap_mes.simulator.switches.malformed_next = 1
        with pytest.raises(SourceDataError) as failure:
            mes.get_work_order("WO-000001")
    assert failure.value.call == "GetWorkOrder"


def test_refused_soap_credentials_are_an_auth_error(soap_mes: RunningSoap) -> None:
    config = soap_mes.config(credentials={"username": "mes-user", "password": "wrong"})
    with make_mes_connector(config) as mes, pytest.raises(SourceAuthError):
        mes.get_work_order("WO-000001")
    assert soap_mes.simulator.switches.requests_seen == 1
