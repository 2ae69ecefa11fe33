"""The MES REST connector against the MES REST simulator on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError, SourceSystemError
from oee_pipelines.connectors.mes import make_mes_connector
from oee_pipelines.connectors.mes.records import RejectedRecord
from oee_pipelines.simulator.servers.mes_rest import MesRestSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import DAY, LINE, schedule
from oee_pipelines_tests.support.mes_simulators import RunningRest

NEXT_DAY = DAY + timedelta(days=1)


def test_schedules_come_through_every_page_with_mapped_fields(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config(page_size=2)) as mes:
        result = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert result.rejected == []
    assert list(result.frame["external_id"]) == [f"SCH-{n:03d}" for n in range(1, 6)]
    assert list(result.frame["work_order_id"]) == [f"WO-{n:06d}" for n in range(1, 6)]  # from OrderNumber
    assert list(result.frame["planned_quantity"]) == [1001, 1002, 1003, 1004, 1005]  # from TargetQuantity
    assert set(result.frame["product_id"]) == {"PROD-001"}  # from MaterialNumber
    assert str(result.frame["planned_start"].dtype) == "datetime64[ns, UTC]"
    # 5 records at 2 per page: 3 schedule pages, plus the one token request.
    assert rest_mes.simulator.switches.requests_seen == 4


def test_other_field_names_are_configuration(source_data: SourceData) -> None:
    names = {"work_order_number": "OrderNo", "planned_quantity": "Qty", "product_id": "Article"}
    simulator = MesRestSimulator(source_data, field_names=names)
    with ServerThread(simulator.app) as server:
        config = RunningRest(simulator, server.base_url).config(field_mappings=names)
        with make_mes_connector(config) as mes:
            order = mes.get_work_order("WO-000003").frame.iloc[0]
    assert (order["wo_number"], order["planned_quantity"], order["product_id"]) == (
        "WO-000003",
        1003,
        "PROD-001",
    )


def test_without_the_mapping_the_records_are_rejected_naming_the_field(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config(field_mappings={})) as mes:
        result = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert result.frame.empty
    assert {r.field for r in result.rejected} == {"planned_quantity"}


def test_a_malformed_record_is_rejected_with_key_and_field_the_others_come_through(
    rest_mes: RunningRest, source_data: SourceData
) -> None:
    source_data.schedules[1] = schedule(2, planned_quantity="lots")
    source_data.schedules[3] = schedule(4, planned_start="yesterday-ish")
    with make_mes_connector(rest_mes.config()) as mes:
        result = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert list(result.frame["external_id"]) == ["SCH-001", "SCH-003", "SCH-005"]
    assert [(r.key, r.field) for r in result.rejected] == [
        ("SCH-002", "planned_quantity"),
        ("SCH-004", "planned_start"),
    ]
    assert all(isinstance(r, RejectedRecord) and r.entity == "production_schedule" for r in result.rejected)


def test_an_end_before_the_start_is_rejected(rest_mes: RunningRest, source_data: SourceData) -> None:
    source_data.schedules[0] = schedule(1, planned_end=DAY + timedelta(hours=1))  # starts at 02:00
    with make_mes_connector(rest_mes.config()) as mes:
        result = mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert [(r.key, r.field) for r in result.rejected] == [("SCH-001", "planned_end")]
    assert len(result.frame) == 4


def test_a_500_is_retried_then_succeeds(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.fail_next = 2
    with make_mes_connector(rest_mes.config(auth_type="basic")) as mes:
        result = mes.get_work_order("WO-000001")
    assert list(result.frame["wo_number"]) == ["WO-000001"]
    assert rest_mes.simulator.switches.requests_seen == 3


def test_a_429_is_retried_after_retry_after(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.throttle_next = 1
    rest_mes.simulator.switches.retry_after_seconds = 0
    with make_mes_connector(rest_mes.config(auth_type="api_key")) as mes:
        assert len(mes.download_recipe("RCP-001").frame) == 1
    assert rest_mes.simulator.switches.requests_seen == 2


def test_a_slow_server_times_out_into_a_typed_error(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.latency_seconds = 0.5
    config = rest_mes.config(auth_type="basic", timeout_seconds=0.1, retry_attempts=2)
    with make_mes_connector(config) as mes, pytest.raises(SourceSystemError) as failure:
        mes.get_work_order("WO-000001")
    assert (failure.value.system, failure.value.call) == ("mes_rest", "get_work_order")
    assert "gave up after 2 attempts" in failure.value.reason


def test_a_malformed_body_is_a_source_data_error(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.malformed_next = 1
    with (
        make_mes_connector(rest_mes.config(auth_type="basic")) as mes,
        pytest.raises(SourceDataError) as failure,
    ):
        mes.get_production_schedules(LINE, DAY, NEXT_DAY)
    assert failure.value.call == "get_production_schedules"


def test_refused_credentials_are_an_auth_error_without_retry(rest_mes: RunningRest) -> None:
    rest_mes.simulator.switches.reject_auth = True
    with make_mes_connector(rest_mes.config(auth_type="basic")) as mes, pytest.raises(SourceAuthError):
        mes.get_work_order("WO-000001")
    assert rest_mes.simulator.switches.requests_seen == 1


def test_a_wrong_client_secret_fails_at_the_token_endpoint(rest_mes: RunningRest) -> None:
    config = rest_mes.config(credentials={"client_id": "oee-client", "client_secret": "wrong"})
    with make_mes_connector(config) as mes, pytest.raises(SourceAuthError) as failure:
        mes.get_work_order("WO-000001")
    assert failure.value.call == "fetch OAuth2 token"
    assert rest_mes.simulator.token_requests == 1


def test_the_oauth2_token_is_cached_and_fetched_again_once_after_a_401(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config()) as mes:
        mes.get_work_order("WO-000001")
        mes.download_recipe("RCP-001")
        assert rest_mes.simulator.token_requests == 1
        rest_mes.simulator.revoke_tokens()
        assert list(mes.get_work_order("WO-000002").frame["wo_number"]) == ["WO-000002"]
    assert rest_mes.simulator.token_requests == 2


def test_an_expired_token_is_fetched_again(source_data: SourceData) -> None:
    simulator = MesRestSimulator(source_data, token_lifetime_seconds=0)
    with (
        ServerThread(simulator.app) as server,
        make_mes_connector(RunningRest(simulator, server.base_url).config()) as mes,
    ):
        mes.get_work_order("WO-000001")
        mes.get_work_order("WO-000002")
    assert simulator.token_requests == 2


def test_status_push_back_changes_the_order_and_a_repeat_sends_nothing(
    rest_mes: RunningRest, source_data: SourceData
) -> None:
    with make_mes_connector(rest_mes.config()) as mes:
        assert mes.update_order_status("WO-000002", "completed", 998) is True
        assert mes.update_order_status("WO-000002", "completed", 998) is False
        order = mes.get_work_order("WO-000002").frame.iloc[0]
    assert (order["status"], order["actual_quantity"]) == ("completed", 998)
    assert [(u.work_order_number, u.status, u.actual_quantity) for u in source_data.status_updates] == [
        ("WO-000002", "completed", 998)
    ]


def test_an_unknown_work_order_is_a_typed_error_naming_the_call(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config()) as mes, pytest.raises(SourceSystemError) as failure:
        mes.get_work_order("WO-999999")
    assert (failure.value.status_code, failure.value.call) == (404, "get_work_order")


def test_material_consumption_of_an_order(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config()) as mes:
        frame = mes.get_material_consumption(LINE, "WO-000001").frame
    assert list(frame["material_number"]) == ["RM-001", "RM-002", "RM-003"]
    assert list(frame["consumed_quantity"]) == [1020.5] * 3
