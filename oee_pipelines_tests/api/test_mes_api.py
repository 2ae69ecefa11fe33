"""MES endpoints: runs on a real dagster-webserver that syncs from a real MES simulator, requested
through the warehouse queue (the default) or launched over GraphQL (`OEE_API_RUN_LAUNCH=graphql`)."""

from __future__ import annotations

import dagster as dg
from fastapi.testclient import TestClient

from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines_tests.support.mes_api import (
    api_key,
    client,
    configured,
    finished_status,
    module_sources,
    sensor_tick,
)
from oee_pipelines_tests.support.mes_sources import rows

__all__ = ["client", "configured", "module_sources"]


def test_schedule_sync_launches_a_run_that_lands_the_schedule(
    client: TestClient, clean_database: str
) -> None:
    headers = api_key(clean_database)

    response = client.post(
        "/api/mes/schedules/sync/",
        json={"line_id": "LINE-001", "start_date": "2025-01-13", "end_date": "2025-01-13"},
        headers=headers,
    )

    assert response.status_code == 202, response.text
    launched = response.json()
    assert launched["job_name"] == "mes_schedule_sync_job"
    assert launched["status_url"] == f"/api/mes/runs/{launched['run_id']}"
    # The 202 stands on a committed request; until the sensor starts its run, the status says so.
    assert rows(clean_database, "SELECT id::text, org_id, job_name, run_id FROM api_run_requests") == [
        (launched["run_id"], "demo", "mes_schedule_sync_job", None)
    ]
    assert client.get(launched["status_url"], headers=headers).json()["status"] == "REQUESTED"
    assert finished_status(client, launched["status_url"], headers) == "SUCCESS"
    dagster_run_id = client.get(launched["status_url"], headers=headers).json()["dagster_run_id"]
    assert rows(clean_database, "SELECT count(*) FROM production_schedules WHERE line_id = 'LINE-001'") == [
        (5,)
    ]
    assert rows(
        clean_database, "SELECT entity, sync_status, dagster_run_id FROM mes_schedule_sync ORDER BY entity"
    ) == [(entity, "SUCCESS", dagster_run_id) for entity in ("production_schedule", "recipe", "work_order")]
    # The next tick records the run on the request and starts nothing more.
    with dg.DagsterInstance.get() as instance:
        assert not sensor_tick(instance, clean_database).run_requests
    assert rows(clean_database, "SELECT run_id FROM api_run_requests") == [(dagster_run_id,)]
    # Another organization neither sees the run nor may sync this MES.
    other = api_key(clean_database, "other")
    assert client.get(launched["status_url"], headers=other).status_code == 404
    assert client.post("/api/mes/schedules/sync/", json={}, headers=other).status_code == 403


def test_graphql_mode_launches_on_the_webserver_at_once(client: TestClient, clean_database: str) -> None:
    client.app.state.services.settings = ApiSettings(run_launch="graphql")  # type: ignore[attr-defined]
    headers = api_key(clean_database)

    response = client.post("/api/mes/recipes/download/", json={"recipe_ids": ["RCP-001"]}, headers=headers)

    assert response.status_code == 202, response.text
    assert rows(clean_database, "SELECT count(*) FROM api_run_requests") == [(0,)]
    assert finished_status(client, response.json()["status_url"], headers) == "SUCCESS"
    assert (
        client.get(response.json()["status_url"], headers=headers).json()["dagster_run_id"]
        == (response.json()["run_id"])
    )
    assert rows(
        clean_database, "SELECT local_recipe_id, recipe_version, downloaded_by FROM recipe_downloads"
    ) == [("RCP-001", "3.2", "api:tester")]


def test_requests_are_checked_before_anything_is_launched(client: TestClient, clean_database: str) -> None:
    headers = api_key(clean_database)

    unknown_line = client.post("/api/mes/schedules/sync/", json={"line_id": "LINE-999"}, headers=headers)
    reversed_window = client.post(
        "/api/mes/schedules/sync/",
        json={"start_date": "2025-01-14", "end_date": "2025-01-12"},
        headers=headers,
    )
    no_key = client.post("/api/mes/orders/update/", json={})
    no_recipes = client.post("/api/mes/recipes/download/", json={"recipe_ids": []}, headers=headers)

    assert (unknown_line.status_code, unknown_line.json()["parameter"]) == (404, "line_id")
    assert (reversed_window.status_code, reversed_window.json()["parameter"]) == (422, "end_date")
    assert no_key.status_code == 401
    assert (no_recipes.status_code, no_recipes.json()["parameter"]) == (422, "recipe_ids")


def test_unreachable_dagster_is_a_503_naming_it_in_graphql_mode(
    client: TestClient, clean_database: str
) -> None:
    client.app.state.services.settings = ApiSettings(run_launch="graphql")  # type: ignore[attr-defined]
    client.app.state.dagster_runs = DagsterRuns("http://127.0.0.1:9/graphql", timeout_seconds=2)  # type: ignore[attr-defined]

    response = client.post("/api/mes/orders/update/", json={}, headers=api_key(clean_database))

    assert response.status_code == 503
    assert "127.0.0.1:9" in response.json()["detail"]


def test_a_queued_request_needs_no_webserver_and_its_status_waits_for_one(
    client: TestClient, clean_database: str
) -> None:
    client.app.state.dagster_runs = DagsterRuns("http://127.0.0.1:9/graphql", timeout_seconds=2)  # type: ignore[attr-defined]
    headers = api_key(clean_database)

    launched = client.post("/api/mes/orders/update/", json={}, headers=headers)
    status = client.get(launched.json()["status_url"], headers=headers)

    assert launched.status_code == 202, launched.text
    assert rows(clean_database, "SELECT job_name, requested_by FROM api_run_requests") == [
        ("mes_order_status_job", "api:tester")
    ]
    assert status.status_code == 503
    assert "127.0.0.1:9" in status.json()["detail"]
