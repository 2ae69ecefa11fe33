"""Operator context from the MES: `sync_operator_shifts` lands the roster and who ran each line on each
shift, from the simulated MES (REST and SOAP), idempotently; and the one writer of schedules."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.operators import OperatorShiftsLanded, sync_operator_shifts
from oee_pipelines.services.mes_erp.schedules import land_production_schedules
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_operators import DAY, assignment, sample_assignments, seed_shifts
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_sources import RunningSources, rows

WINDOW = SyncWindow(DAY, DAY + timedelta(days=1))
SHIFT_ROWS = """SELECT operator_id, line_id, shift_id, shift_date::text, role, start_time::text
                FROM operator_shifts ORDER BY start_time, operator_id"""


@pytest.fixture
def source_data() -> SourceData:
    data = sample_source_data()
    data.operator_assignments = sample_assignments()
    return data


@pytest.fixture
def with_shifts(warehouse_url: str) -> str:
    seed_shifts(warehouse_url)
    return warehouse_url


def sync(sources: RunningSources, url: str, mes: str = "rest") -> OperatorShiftsLanded:
    resource = sources.resources(url, mes=mes)["mes"]
    warehouse = WarehouseResource(database_url=url)
    return sync_operator_shifts(warehouse, resource.connector, resource.connection_config(), WINDOW, "run-1")


def test_a_day_lands_the_crews_and_the_roster_once(sources: RunningSources, with_shifts: str) -> None:
    first = sync(sources, with_shifts)
    second = sync(sources, with_shifts)

    assert rows(with_shifts, SHIFT_ROWS) == [
        ("OP-0004", "LINE-001", "SHIFT-3", "2025-01-12", "machine_operator", "2025-01-12 22:00:00+00"),
        ("OP-0001", "LINE-001", "SHIFT-1", "2025-01-13", "shift_lead", "2025-01-13 06:00:00+00"),
        ("OP-0002", "LINE-001", "SHIFT-1", "2025-01-13", "machine_operator", "2025-01-13 06:00:00+00"),
        ("OP-0003", "LINE-001", "SHIFT-2", "2025-01-13", "machine_operator", "2025-01-13 14:00:00+00"),
    ]
    assert rows(with_shifts, "SELECT id, org_id, name, role FROM operators ORDER BY id") == [
        ("OP-0001", "demo", "Operator 1", "shift_lead"),
        ("OP-0002", "demo", "Operator 2", "machine_operator"),
        ("OP-0003", "demo", "Operator 3", "machine_operator"),
        ("OP-0004", "demo", "Operator 4", "machine_operator"),
    ]
    assert (first.outcome.status, first.outcome.fetched, first.outcome.created) == ("SUCCESS", 4, 4)
    assert first.operators_created == 4
    # The same window again: the same rows, nothing new.
    assert (second.outcome.created, second.removed, second.operators_created, second.operators_updated) == (
        0,
        0,
        0,
        0,
    )
    assert rows(with_shifts, "SELECT count(*) FROM operator_shifts") == [(4,)]
    assert (
        rows(
            with_shifts,
            "SELECT entity, sync_status, records_fetched FROM mes_schedule_sync "
            "WHERE entity = 'operator_assignment'",
        )
        == [("operator_assignment", "SUCCESS", 4)] * 2
    )


def test_soap_lands_the_same_rows(sources: RunningSources, with_shifts: str) -> None:
    landed = sync(sources, with_shifts, mes="soap")
    assert landed.outcome.created == 4
    assert len(rows(with_shifts, SHIFT_ROWS)) == 4


def test_a_change_in_the_mes_replaces_the_windows_rows(
    sources: RunningSources, source_data: SourceData, with_shifts: str
) -> None:
    sync(sources, with_shifts)
    del source_data.operator_assignments[1]  # OP-0002 no longer on the early shift
    source_data.operator_assignments[0]["operator_name"] = "Operator One"

    again = sync(sources, with_shifts)

    assert (again.removed, again.operators_updated) == (1, 1)
    assert [r[0] for r in rows(with_shifts, SHIFT_ROWS)] == ["OP-0004", "OP-0001", "OP-0003"]
    assert rows(with_shifts, "SELECT name FROM operators WHERE id = 'OP-0001'") == [("Operator One",)]


def test_an_unknown_line_or_shift_is_rejected_by_name(
    sources: RunningSources, source_data: SourceData, with_shifts: str
) -> None:
    source_data.operator_assignments += [
        assignment(5, 1, line_id="LINE-999"),
        assignment(6, 1, shift_id="SHIFT-9"),
    ]
    landed = sync(sources, with_shifts)
    assert landed.outcome.status == "PARTIAL"
    assert sorted((r.key, r.field, r.reason) for r in landed.outcome.rejected) == [
        ("OP-0005", "line_id", "LINE-999 is not in production_lines"),
        ("OP-0006", "shift_id", "SHIFT-9 is not in shifts"),
    ]
    assert len(rows(with_shifts, SHIFT_ROWS)) == 4


def test_production_schedules_have_one_writer_upserting_on_the_natural_key(warehouse_url: str) -> None:
    start = DAY + timedelta(hours=6)
    row = pa.table(
        {
            "org_id": ["demo"],
            "external_id": ["IMP-1"],
            "line_id": ["LINE-001"],
            "planned_start": pa.array([start], pa.timestamp("us", tz="UTC")),
            "planned_end": pa.array([start + timedelta(hours=8)], pa.timestamp("us", tz="UTC")),
            "planned_quantity": pa.array([100], pa.int32()),
            "source_system": ["import"],
        }
    )
    warehouse = WarehouseResource(database_url=warehouse_url)
    with warehouse.connect() as conn:
        first = land_production_schedules(conn, row)
    with warehouse.connect() as conn:
        second = land_production_schedules(conn, row)
    assert (first.created, second.created, second.updated, second.unchanged) == (1, 0, 0, 1)
    assert rows(warehouse_url, "SELECT external_id, source_system FROM production_schedules") == [
        ("IMP-1", "import")
    ]
