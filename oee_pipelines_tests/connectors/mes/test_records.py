"""Pure pieces of the MES/ERP connectors: field parsing, rejection, push-back decisions, config."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.connectors.erp import make_erp_connector
from oee_pipelines.connectors.mes import SourceConnectionConfig, make_mes_connector
from oee_pipelines.connectors.mes.base import WORK_ORDER
from oee_pipelines.connectors.mes.records import (
    OrderStatus,
    RowContext,
    build_result,
    parse_count,
    parse_timestamp,
    rename_fields,
    status_push_needed,
)
from oee_pipelines_tests.support.mes_samples import work_order

CONTEXT = RowContext(org_id="demo", id_prefix="ACME-", source_system="custom_rest")


def test_a_push_is_needed_only_when_the_source_holds_something_else() -> None:
    current = OrderStatus("in_progress", 400)
    assert status_push_needed(current, OrderStatus("in_progress", 400)) is False
    assert status_push_needed(current, OrderStatus("in_progress", 450)) is True
    assert status_push_needed(current, OrderStatus("completed", 400)) is True


def test_a_push_of_an_unknown_status_or_negative_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="on_hold"):
        status_push_needed(OrderStatus("released", None), OrderStatus("on_hold", 1))
    with pytest.raises(ValueError, match="negative"):
        status_push_needed(OrderStatus("released", None), OrderStatus("completed", -1))


def test_source_quantities_and_times_in_their_usual_shapes() -> None:
    assert [parse_count(v) for v in (7, "7", "7.000")] == [7, 7, 7]
    with pytest.raises(ValueError):
        parse_count("7.5")
    expected = pd.Timestamp("2025-01-13 05:00", tz="UTC")
    assert parse_timestamp("/Date(1736744400000)/") == expected
    assert parse_timestamp("2025-01-13T06:00:00+01:00") == expected
    assert parse_timestamp("2025-01-13T05:00:00") == expected


def test_good_records_become_warehouse_rows_and_bad_ones_are_named() -> None:
    records = [work_order(1), work_order(2, status="paused"), {**work_order(3), "line_id": None}]
    result = build_result(records, WORK_ORDER, CONTEXT)
    assert list(result.frame["id"]) == ["ACME-WO-000001"]
    assert list(result.frame["wo_number"]) == ["WO-000001"]
    assert [(r.key, r.field) for r in result.rejected] == [("WO-000002", "status"), ("WO-000003", "line_id")]
    assert "paused" in result.rejected[0].reason


def test_field_mappings_rename_source_names_to_ours() -> None:
    renamed = rename_fields({"OrderNumber": "WO-1", "other": 1}, {"work_order_number": "OrderNumber"})
    assert renamed == {"work_order_number": "WO-1", "other": 1}


def test_the_system_type_chooses_the_implementation() -> None:
    base = {"base_url": "http://127.0.0.1:9", "credentials": {"username": "u", "password": "p"}}
    kinds = {}
    for system_type, factory in (
        ("custom_rest", make_mes_connector),
        ("soap", make_mes_connector),
        ("sap_odata", make_erp_connector),
        ("oracle_ebs", make_erp_connector),
    ):
        with factory(SourceConnectionConfig.from_mapping({**base, "system_type": system_type})) as connector:
            kinds[system_type] = type(connector).__name__
    assert kinds == {
        "custom_rest": "RestMESConnector",
        "soap": "SoapMESConnector",
        "sap_odata": "SapODataConnector",
        "oracle_ebs": "OracleEbsConnector",
    }
    with pytest.raises(ValueError, match="sap_me"):
        make_mes_connector(SourceConnectionConfig.from_mapping({**base, "system_type": "sap_me"}))


def test_an_unknown_setting_is_named() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        SourceConnectionConfig.from_mapping({"system_type": "soap", "base_url": "x", "client_secret": "s"})
