"""ERP endpoints: the material sync launched on a real dagster-webserver; labour costs from the warehouse."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from oee_pipelines_tests.support.mes_api import api_key, client, configured, finished_status, module_sources
from oee_pipelines_tests.support.mes_sources import rows

__all__ = ["client", "configured", "module_sources"]


def test_material_sync_launches_a_run_that_lands_the_materials(
    client: TestClient, clean_database: str
) -> None:
    headers = api_key(clean_database)

    response = client.post("/api/erp/materials/sync/", headers=headers)

    assert response.status_code == 202, response.text
    assert response.json()["job_name"] == "erp_materials_sync_job"
    assert finished_status(client, response.json()["status_url"], headers) == "SUCCESS"
    assert rows(clean_database, "SELECT count(*), min(source_system) FROM materials") == [(5, "sap_odata")]


def add_labor(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO labor_costs (org_id, line_id, cost_center, work_date, labor_hours, hourly_rate,
                   labor_cost, source_system) VALUES
               ('demo', 'LINE-001', 'CC-L001-PROD', '2025-10-05', 24, 42.5, 1020, 'sap_odata'),
               ('demo', 'LINE-001', 'CC-L001-MAINT', '2025-10-05', 3, 42.5, 127.5, 'sap_odata'),
               ('demo', 'LINE-001', 'CC-L001-PROD', '2025-10-06', 8, 42.5, 340, 'sap_odata')"""
        )


def test_labor_costs_of_one_line_and_day(client: TestClient, clean_database: str) -> None:
    add_labor(clean_database)
    headers = api_key(clean_database)

    response = client.get(
        "/api/erp/labor/", params={"line_id": "LINE-001", "date": "2025-10-05"}, headers=headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["cost_center"] for e in body["entries"]] == ["CC-L001-MAINT", "CC-L001-PROD"]
    assert (float(body["total_hours"]), float(body["total_cost"])) == (27.0, 1147.5)


def test_labor_costs_are_scoped_to_the_callers_organization(client: TestClient, clean_database: str) -> None:
    add_labor(clean_database)
    other = api_key(clean_database, "other")

    foreign = client.get(
        "/api/erp/labor/", params={"line_id": "LINE-001", "date": "2025-10-05"}, headers=other
    )
    bad_date = client.get(
        "/api/erp/labor/", params={"line_id": "LINE-001", "date": "5 Oct"}, headers=api_key(clean_database)
    )

    assert (foreign.status_code, foreign.json()["parameter"]) == (404, "line_id")
    assert (bad_date.status_code, bad_date.json()["parameter"]) == (422, "date")
