"""`get_operator_assignments`: the MES REST and SOAP connectors against their simulators on loopback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from oee_pipelines.connectors.mes import MESConnector, make_mes_connector
from oee_pipelines.connectors.mes.base import OPERATOR_ASSIGNMENT_COLUMNS
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_operators import DAY, assignment, sample_assignments
from oee_pipelines_tests.support.mes_simulators import RunningRest, RunningSoap


@pytest.fixture
def source_data() -> SourceData:
    return SourceData.from_records(operator_assignments=sample_assignments())


def _connector(request: pytest.FixtureRequest, protocol: str) -> MESConnector:
    running = request.getfixturevalue(f"{protocol}_mes")
    return make_mes_connector(running.config())


@pytest.mark.parametrize("protocol", ["rest", "soap"])
def test_assignments_of_a_day_come_with_the_frame_columns(
    request: pytest.FixtureRequest, protocol: str
) -> None:
    with _connector(request, protocol) as mes:
        result = mes.get_operator_assignments(DAY, DAY + timedelta(days=1))

    assert result.rejected == []
    assert list(result.frame.columns) == list(OPERATOR_ASSIGNMENT_COLUMNS)
    frame = result.frame.sort_values(["start_time", "operator_id"])
    assert list(frame["operator_id"]) == ["OP-0004", "OP-0001", "OP-0002", "OP-0003"]
    first = frame.iloc[0]
    assert (first["org_id"], first["operator_name"], first["role"], first["line_id"], first["shift_id"]) == (
        "demo",
        "Operator 4",
        "machine_operator",
        "LINE-001",
        "SHIFT-3",
    )
    assert first["shift_date"] == date(2025, 1, 12)  # the night shift started the day before
    assert str(frame["start_time"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["source_system"]) == {"custom_rest" if protocol == "rest" else "soap"}


@pytest.mark.parametrize("protocol", ["rest", "soap"])
def test_only_assignments_overlapping_the_window_are_served(
    request: pytest.FixtureRequest, protocol: str
) -> None:
    late_shift = (DAY + timedelta(hours=15), DAY + timedelta(hours=16))
    with _connector(request, protocol) as mes:
        result = mes.get_operator_assignments(*late_shift)
    assert list(result.frame["operator_id"]) == ["OP-0003"]


@pytest.mark.parametrize("protocol", ["rest", "soap"])
def test_a_malformed_assignment_is_rejected_by_name_the_others_come_through(
    request: pytest.FixtureRequest, protocol: str, source_data: SourceData
) -> None:
    source_data.operator_assignments[1] = assignment(2, 1, role=None)
    source_data.operator_assignments[2] = assignment(3, 2, end_time=DAY + timedelta(hours=14))
    with _connector(request, protocol) as mes:
        result = mes.get_operator_assignments(DAY, DAY + timedelta(days=1))
    assert sorted(result.frame["operator_id"]) == ["OP-0001", "OP-0004"]
    assert sorted((r.key, r.field) for r in result.rejected) == [("OP-0002", "role"), ("OP-0003", "end_time")]


def test_rest_assignments_come_through_every_page(rest_mes: RunningRest) -> None:
    with make_mes_connector(rest_mes.config(page_size=2)) as mes:
        result = mes.get_operator_assignments(DAY - timedelta(days=1), DAY + timedelta(days=2))
    assert len(result.frame) == 4
    # 4 records at 2 per page: 2 pages, plus the one token request.
    assert rest_mes.simulator.switches.requests_seen == 3


def test_soap_config_is_the_contract(soap_mes: RunningSoap) -> None:
    with make_mes_connector(soap_mes.config()) as mes:
        assert len(mes.get_operator_assignments(DAY, DAY + timedelta(days=1)).frame) == 4
