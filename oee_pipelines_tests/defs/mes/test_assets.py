"""The MES sync against a real MES simulator and the real warehouse: upserts, rejects, audit, push-back."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from oee_pipelines.defs.mes.assets import mes_order_status_pushback, mes_sync
from oee_pipelines.services.mes_erp.run_requests import mes_sync_run_config, pushback_run_config
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import work_order
from oee_pipelines_tests.support.mes_sources import WINDOW, RunningSources, rows

SYNCED = ("recipes", "work_orders", "mes_production_schedules")


def sync(sources: RunningSources, url: str, mes: str = "rest", **config: Any) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [mes_sync],
        resources=sources.resources(url, mes),
        run_config=mes_sync_run_config(**{**WINDOW, **config}),
    )
    assert result.success
    return result


def counts(result: dg.ExecuteInProcessResult, figure: str) -> dict[str, Any]:
    return {
        m.asset_key.to_user_string(): m.metadata[figure].value
        for m in result.asset_materializations_for_node("mes_sync")
    }


def audit_rows(url: str, entity: str) -> list[tuple]:
    return rows(
        url,
        """SELECT mes_system, records_fetched, records_created, records_updated, records_rejected,
                  sync_status, errors, dagster_run_id
           FROM mes_schedule_sync WHERE entity = %s ORDER BY sync_id""",
        (entity,),
    )


def test_second_identical_sync_creates_and_updates_nothing(
    sources: RunningSources, warehouse_url: str
) -> None:
    first = sync(sources, warehouse_url)
    second = sync(sources, warehouse_url)

    assert counts(first, "created") == {"recipes": 1, "work_orders": 5, "mes_production_schedules": 5}
    assert counts(second, "created") == dict.fromkeys(SYNCED, 0)
    assert counts(second, "updated") == dict.fromkeys(SYNCED, 0)
    assert counts(second, "sync_status") == dict.fromkeys(SYNCED, "SUCCESS")
    assert rows(warehouse_url, "SELECT count(*) FROM production_schedules")[0][0] == 5
    schedules = audit_rows(warehouse_url, "production_schedule")
    assert [(r[0], r[1], r[2], r[3], r[5], r[7]) for r in schedules] == [
        ("custom_rest", 5, 5, 0, "SUCCESS", first.run_id),
        ("custom_rest", 5, 0, 0, "SUCCESS", second.run_id),
    ]
    # The recipe's version was new once, so it was recorded as downloaded once.
    assert rows(warehouse_url, "SELECT local_recipe_id, recipe_version FROM recipe_downloads") == [
        ("RCP-001", "3.2")
    ]


def test_changed_schedule_is_updated_not_duplicated(
    sources: RunningSources, source_data: SourceData, warehouse_url: str
) -> None:
    sync(sources, warehouse_url)
    source_data.schedules[1]["planned_quantity"] = 4242

    changed = sync(sources, warehouse_url)

    assert counts(changed, "updated")["mes_production_schedules"] == 1
    assert counts(changed, "created")["mes_production_schedules"] == 0
    assert rows(
        warehouse_url,
        """SELECT count(*), max(planned_quantity) FILTER (WHERE external_id = 'SCH-002')
           FROM production_schedules""",
    ) == [(5, 4242)]


def test_malformed_record_is_rejected_by_key_and_field_while_the_rest_lands(
    sources: RunningSources, source_data: SourceData, warehouse_url: str
) -> None:
    source_data.schedules[2]["planned_quantity"] = "lots"  # a word where the MES sends a number

    result = sync(sources, warehouse_url)

    assert counts(result, "sync_status")["mes_production_schedules"] == "PARTIAL"
    checks = {c.asset_key.to_user_string(): c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"recipes": True, "work_orders": True, "mes_production_schedules": False}
    landed = rows(warehouse_url, "SELECT external_id FROM production_schedules ORDER BY external_id")
    assert [r[0] for r in landed] == ["SCH-001", "SCH-002", "SCH-004", "SCH-005"]
    [audit] = audit_rows(warehouse_url, "production_schedule")
    assert audit[1:6] == (5, 4, 0, 1, "PARTIAL")
    [error] = audit[6]
    assert (error["key"], error["field"]) == ("SCH-003", "planned_quantity")


def test_reference_the_warehouse_lacks_is_rejected_naming_it(
    sources: RunningSources, source_data: SourceData, warehouse_url: str
) -> None:
    source_data.schedules[0]["product_id"] = "PROD-999"

    result = sync(sources, warehouse_url)

    assert counts(result, "rejected")["mes_production_schedules"] == 1
    [audit] = audit_rows(warehouse_url, "production_schedule")
    [error] = audit[6]
    assert (error["key"], error["field"], error["reason"]) == (
        "SCH-001",
        "product_id",
        "PROD-999 is not in products",
    )


def test_unknown_line_is_refused_before_anything_is_read(sources: RunningSources, warehouse_url: str) -> None:
    result = dg.materialize(
        [mes_sync],
        resources=sources.resources(warehouse_url),
        run_config=mes_sync_run_config(**WINDOW, line_id="LINE-999"),
        raise_on_error=False,
    )

    assert not result.success
    assert "LINE-999" in str(result.get_step_failure_events()[0].step_failure_data.error)
    assert sources.mes_rest.switches.requests_seen == 0


def test_which_mes_is_read_is_configuration(sources: RunningSources, warehouse_url: str) -> None:
    result = sync(sources, warehouse_url, mes="soap")

    assert counts(result, "created") == {"recipes": 1, "work_orders": 5, "mes_production_schedules": 5}
    assert rows(warehouse_url, "SELECT DISTINCT source_system FROM work_orders") == [("soap",)]


def test_recipe_download_by_id_is_recorded_with_its_version(
    sources: RunningSources, warehouse_url: str
) -> None:
    result = dg.materialize(
        [mes_sync],
        selection=["recipes"],
        resources=sources.resources(warehouse_url),
        run_config=mes_sync_run_config(recipe_ids=["RCP-001"], downloaded_by="api:tester"),
    )

    assert result.success
    assert rows(warehouse_url, "SELECT count(*) FROM work_orders") == [(0,)]
    assert rows(
        warehouse_url,
        "SELECT mes_recipe_id, local_recipe_id, recipe_version, downloaded_by FROM recipe_downloads",
    ) == [("RCP-001", "RCP-001", "3.2", "api:tester")]


def test_unreachable_mes_fails_the_run_with_a_failed_audit_row(
    sources: RunningSources, warehouse_url: str
) -> None:
    sources.mes_rest.switches.fail_next = 100

    result = dg.materialize(
        [mes_sync],
        resources=sources.resources(warehouse_url),
        run_config=mes_sync_run_config(**WINDOW),
        raise_on_error=False,
    )

    assert not result.success
    statuses = rows(
        warehouse_url, "SELECT entity, sync_status, error_message FROM mes_schedule_sync ORDER BY entity"
    )
    assert [(entity, status) for entity, status, _ in statuses] == [
        ("production_schedule", "FAILED"),
        ("recipe", "FAILED"),
        ("work_order", "FAILED"),
    ]
    assert "HTTP 500" in statuses[0][2]


def add_snapshot(url: str, work_order_id: str, good_pieces: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO oee_snapshots (org_id, machine_id, line_id, work_order_id, snapshot_time,
                   window_start, good_pieces, total_pieces)
               VALUES ('demo', 'MACHINE-001', 'LINE-001', %s, '2025-01-13T06:15Z', '2025-01-13T06:00Z',
                       %s, %s)""",
            (work_order_id, good_pieces, good_pieces),
        )


def push_back(sources: RunningSources, url: str, **config: Any) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [mes_order_status_pushback],
        resources=sources.resources(url),
        run_config=pushback_run_config(**config),
    )
    assert result.success
    return result


def test_pushback_sends_completed_orders_once(
    sources: RunningSources, source_data: SourceData, warehouse_url: str
) -> None:
    source_data.work_orders[0].update(work_order(1, status="completed"))
    source_data.work_orders[1].update(work_order(2, status="completed", actual_quantity=500))
    sync(sources, warehouse_url)
    add_snapshot(warehouse_url, "WO-000001", 950)

    first = push_back(sources, warehouse_url)
    second = push_back(sources, warehouse_url)

    # WO-000001 gets the OEE stage's good pieces; WO-000002's quantity the MES already holds.
    assert [(u.work_order_number, u.status, u.actual_quantity) for u in source_data.status_updates] == [
        ("WO-000001", "completed", 950)
    ]
    [first_metadata] = first.asset_materializations_for_node("mes_order_status_pushback")
    assert (first_metadata.metadata["sent"].value, first_metadata.metadata["already_current"].value) == (1, 1)
    [second_metadata] = second.asset_materializations_for_node("mes_order_status_pushback")
    assert (second_metadata.metadata["sent"].value, second_metadata.metadata["fetched"].value) == (0, 0)
    audit = audit_rows(warehouse_url, "order_status")
    assert [(r[1], r[3], r[5]) for r in audit] == [(2, 1, "SUCCESS"), (0, 0, "SUCCESS")]

    # The OEE stage counts more good pieces later: the new quantity is pushed.
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("UPDATE oee_snapshots SET good_pieces = good_pieces + 50")
    push_back(sources, warehouse_url)
    assert source_data.status_updates[-1].actual_quantity == 1000
