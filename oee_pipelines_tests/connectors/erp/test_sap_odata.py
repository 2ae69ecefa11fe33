"""The SAP OData connector against the SAP OData simulator on loopback."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from oee_pipelines.connectors.erp import make_erp_connector
from oee_pipelines.connectors.erp import sap_odata as sap_module
from oee_pipelines.connectors.erp.sap_odata import MAX_FILTER_CHARS, ORDER_KEYS_PER_REQUEST, sap_datetime
from oee_pipelines.connectors.errors import SourceAuthError, SourceSystemError
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import LINE
from oee_pipelines_tests.support.mes_simulators import RunningSap


def test_materials_come_through_every_next_page_with_decimal_prices(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_materials()
    assert result.rejected == []
    assert list(result.frame["material_number"]) == [f"RM-{n:03d}" for n in range(1, 6)]
    assert list(result.frame["unit_cost"]) == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])
    assert result.frame["description"].iloc[0] == "Raw material 1"
    assert sap.simulator.switches.requests_seen == 3  # 5 products at 2 per page


def test_labour_costs_are_filtered_by_line_and_dates(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        frame = erp.get_labor_costs(LINE, date(2025, 1, 14), date(2025, 1, 16)).frame
    assert sorted(frame["work_date"]) == [date(2025, 1, 14)] * 2 + [date(2025, 1, 15)] * 2
    assert set(frame["cost_center"]) == {"CC-L001-PROD", "CC-L001-MAINT"}
    assert list(frame["labor_cost"]) == [1020.0] * 4


def test_a_bad_odata_date_rejects_that_record_only(sap: RunningSap, source_data: SourceData) -> None:
    source_data.labor_costs[0]["work_date"] = "/Date(soon)/"
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_labor_costs(LINE, date(2025, 1, 1), date(2025, 2, 1))
    assert [(r.key, r.field) for r in result.rejected] == [("CC-L001-PROD", "work_date")]
    assert len(result.frame) == 5


def test_a_production_order_with_date_and_time_parts(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        order = erp.get_work_order("WO-000002").frame.iloc[0]
    assert str(order["planned_start"]) == "2025-01-13 04:00:00+00:00"
    assert (order["planned_quantity"], order["actual_quantity"], order["status"]) == (1002, 0, "released")


def test_a_batch_over_several_requests_and_pages_returns_exactly_the_asked_orders(
    sap: RunningSap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sap_module, "ORDER_KEYS_PER_REQUEST", 3)
    asked = ["WO-000005", "WO-000001", "WO-000003", "WO-000002", "WO-000004", "WO-000001"]
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_work_orders(asked)
        single = erp.get_work_order("WO-000002").frame
    assert result.rejected == []
    assert list(result.frame["wo_number"]) == [
        "WO-000005",
        "WO-000001",
        "WO-000003",
        "WO-000002",
        "WO-000004",
    ]
    # 3 keys at 2 per page, then 2 keys: 3 list requests, then the single read.
    assert sap.simulator.switches.requests_seen == 4
    batched = result.frame.set_index("wo_number").loc[["WO-000002"]].reset_index()
    assert batched.to_dict("records") == single[list(batched.columns)].to_dict("records")


def test_a_number_sap_does_not_return_is_rejected_by_its_key(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_work_orders(["WO-000001", "WO-404", "WO-000002"])
    assert [(r.entity, r.key, r.field) for r in result.rejected] == [
        ("work_order", "WO-404", "work_order_number")
    ]
    assert list(result.frame["wo_number"]) == ["WO-000001", "WO-000002"]


def test_a_malformed_order_in_a_batch_is_rejected_and_the_others_land(
    sap: RunningSap, source_data: SourceData
) -> None:
    source_data.work_orders[1]["planned_quantity"] = "lots"
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_work_orders([f"WO-{n:06d}" for n in range(1, 6)])
    assert [(r.key, r.field) for r in result.rejected] == [("WO-000002", "planned_quantity")]
    assert list(result.frame["wo_number"]) == ["WO-000001", "WO-000003", "WO-000004", "WO-000005"]


def test_a_500_on_a_later_page_of_a_batch_is_retried(sap: RunningSap) -> None:
    sap.simulator.switches.fail_path_contains = "skiptoken"
    sap.simulator.switches.fail_next = 1
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_work_orders([f"WO-{n:06d}" for n in range(1, 6)])
    assert result.rejected == []
    assert list(result.frame["wo_number"]) == [f"WO-{n:06d}" for n in range(1, 6)]
    assert sap.simulator.switches.fail_next == 0
    assert sap.simulator.switches.requests_seen == 4  # 3 pages plus the retried one


def test_an_empty_batch_asks_nothing(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        result = erp.get_work_orders([])
    assert (len(result.frame), result.rejected) == (0, [])
    assert "wo_number" in result.frame.columns
    assert sap.simulator.switches.requests_seen == 0


def test_batches_keep_the_filter_short() -> None:
    numbers = [f"{n:012d}" for n in range(100)] + ["X" * 500] * 10
    chunks = list(sap_module.order_key_chunks(numbers))
    assert [n for chunk in chunks for n in chunk] == numbers
    assert max(len(chunk) for chunk in chunks) == ORDER_KEYS_PER_REQUEST
    for chunk in chunks:
        odata_filter = " or ".join(f"ManufacturingOrder eq '{n}'" for n in chunk)
        assert len(odata_filter) <= MAX_FILTER_CHARS


def test_the_simulator_refuses_a_filter_it_does_not_understand(sap: RunningSap) -> None:
    url = f"{sap.base_url}/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2"
    response = httpx.get(
        url,
        params={"$filter": "Material eq 'PROD-001'", "$format": "json"},
        auth=("sap-user", "sap-password"),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "/IWBEP/CM_MGW_RT/022"


def test_push_back_fetches_a_csrf_token_and_confirms_only_the_difference(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        assert erp.update_order_status("WO-000001", "in_progress", 400) is True
        assert erp.update_order_status("WO-000001", "in_progress", 400) is False
        sap.simulator.expire_csrf_tokens()
        assert erp.update_order_status("WO-000001", "completed", 1001) is True
        order = erp.get_work_order("WO-000001").frame.iloc[0]
    assert [
        (c["ConfirmationYieldQuantity"], c["FinalConfirmationType"]) for c in sap.simulator.confirmations
    ] == [
        ("400", ""),
        ("601", "X"),
    ]
    assert (order["status"], order["actual_quantity"]) == ("completed", 1001)


def test_a_post_without_csrf_token_is_refused(sap: RunningSap) -> None:
    url = f"{sap.base_url}/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"
    response = httpx.post(url, json={"OrderID": "WO-000001"}, auth=("sap-user", "sap-password"))
    assert (response.status_code, response.headers["x-csrf-token"]) == (403, "Required")
    assert sap.simulator.confirmations == []


def test_the_sap_error_body_becomes_the_reason(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp, pytest.raises(SourceSystemError) as failure:
        erp.get_work_order("WO-404")
    assert failure.value.status_code == 404
    assert failure.value.reason == "CO/017: Order WO-404 does not exist"


def test_refused_credentials_are_an_auth_error_without_retry(sap: RunningSap) -> None:
    config = sap.config(credentials={"username": "sap-user", "password": "expired"})
    with make_erp_connector(config) as erp, pytest.raises(SourceAuthError):
        erp.get_materials()
    assert sap.simulator.switches.requests_seen == 1


def test_production_variance_of_yield_and_materials(sap: RunningSap) -> None:
    with make_erp_connector(sap.config()) as erp:
        erp.update_order_status("WO-000001", "completed", 991)
        frame = erp.get_production_variance("WO-000001").frame.set_index("item")
    assert frame.loc["yield", "variance_quantity"] == -10.0
    assert frame.loc["RM-001", "variance_quantity"] == pytest.approx(20.5)
    assert frame.loc["RM-001", "variance_pct"] == pytest.approx(2.05)


def test_sap_date_and_time_parts_join_or_stay_unreadable() -> None:
    assert sap_datetime("/Date(1736726400000)/", "PT05H30M00S") == "2025-01-13T05:30:00+00:00"
    assert sap_datetime("/Date(1736726400000)/", "5:30") == "/Date(1736726400000)/ 5:30"
    assert sap_datetime(None, "PT05H30M00S") is None
