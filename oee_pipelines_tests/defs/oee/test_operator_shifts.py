"""`operator_shifts`: the day's crews from the MES (the simulated MES REST server), idempotently; and a
plant without a MES (spreadsheets only): no operator rows, and the OEE chain still runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from oee_pipelines.defs.oee.assets import operator_shifts
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.plant_days import LoadedPlant, materialize_days

WEDNESDAY, THURSDAY = date(2025, 1, 15), date(2025, 1, 16)
CREW_KEYS = """SELECT operator_id, line_id, shift_id, shift_date, role, start_time, end_time
               FROM operator_shifts ORDER BY start_time, line_id, operator_id"""


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _forget_operators(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM operator_shifts")
        conn.execute("DELETE FROM operators")


@pytest.fixture
def wednesday(plant_days, clean_database: str) -> LoadedPlant:
    """The demo plant's Wednesday, without the operator context the harness loads."""
    loaded = plant_days(WEDNESDAY, WEDNESDAY, ["machine_state", "pieces_good", "pieces_rejected"])
    _forget_operators(clean_database)
    return loaded


@pytest.fixture
def mes(wednesday: LoadedPlant) -> Iterator[MESResource]:
    """The simulated MES REST server over the demo plant's week, and the resource that reaches it."""
    start = datetime(2025, 1, 13, tzinfo=UTC)
    simulator = MesRestSimulator(SourceData.from_plant(wednesday.plant, start, start + timedelta(days=7)))
    credentials = MesRestCredentials()
    with ServerThread(simulator.app) as server:
        yield MESResource(
            system_type="custom_rest",
            base_url=server.base_url,
            auth_type="oauth2",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            field_mappings=dict(SEED_FIELD_NAMES),
            timeout_seconds=5.0,
        )


def test_a_day_lands_who_ran_each_line_from_the_mes_once(
    wednesday: LoadedPlant, mes: MESResource, clean_database: str
) -> None:
    resources = {"warehouse": WarehouseResource(database_url=clean_database), "mes": mes}
    first = dg.materialize([operator_shifts], partition_key=WEDNESDAY.isoformat(), resources=resources)
    landed = _rows(clean_database, CREW_KEYS)
    second = dg.materialize([operator_shifts], partition_key=WEDNESDAY.isoformat(), resources=resources)

    assert first.success and second.success
    # Exactly the crews the plant lists for the shifts overlapping the day (the night before's too).
    expected = wednesday.plant.operator_shifts(WEDNESDAY.isoformat(), THURSDAY.isoformat())
    assert sorted((r[0], r[1], r[2], r[3]) for r in landed) == sorted(
        zip(
            expected["operator_id"],
            expected["line_id"],
            expected["shift_id"],
            [date.fromisoformat(str(d)) for d in expected["shift_date"]],
            strict=True,
        )
    )
    assert min(r[5] for r in landed) < datetime(2025, 1, 15, tzinfo=UTC)  # the night shift from Tuesday
    # The roster comes from the same feed: every operator named, with the MES's name and role.
    roster = wednesday.plant.operators().set_index("id")
    named = _rows(clean_database, "SELECT id, name, role FROM operators ORDER BY id")
    assert [r[0] for r in named] == sorted({r[0] for r in landed})
    assert all((name, role) == tuple(roster.loc[op, ["name", "role"]]) for op, name, role in named)
    # The re-run replaces the day's rows with the same rows.
    assert _rows(clean_database, CREW_KEYS) == landed
    metadata = second.asset_materializations_for_node("operator_shifts")[0].metadata
    assert (metadata["created"].value, metadata["removed"].value, metadata["sync_status"].value) == (
        0,
        0,
        "SUCCESS",
    )


def test_without_a_mes_the_oee_chain_runs_with_no_operator_context(
    wednesday: LoadedPlant, clean_database: str
) -> None:
    result = materialize_days(wednesday, WEDNESDAY, WEDNESDAY)

    assert result.success
    assert _rows(clean_database, "SELECT count(*) FROM operator_shifts") == [(0,)]
    metadata = result.asset_materializations_for_node("operator_shifts")[0].metadata
    assert metadata["operator_context"].value == "no MES configured"
    assert _rows(clean_database, "SELECT count(*) FROM oee_snapshots") == [(16 * 96,)]
    reports = _rows(clean_database, "SELECT operator_ids FROM shift_reports")
    assert reports and all(not ids for (ids,) in reports)
