"""The SAP OData simulator: `d.results`, `__next` with `$skiptoken`, string decimals, `/Date()/`."""

from __future__ import annotations

import httpx

from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapODataSimulator
from oee_pipelines_tests.support.mes_samples import sample_source_data

AUTH = ("sap-user", "sap-password")


def test_a_collection_page_links_to_the_next_with_a_skiptoken() -> None:
    simulator = SapODataSimulator(sample_source_data(), max_page_size=2)
    with ServerThread(simulator.app) as server:
        url = f"{server.base_url}/sap/opu/odata/sap/ZOEE_LABOR_COST_SRV/LaborCostSet"
        params = {"$filter": "ProductionLine eq 'LINE-001'", "$format": "json"}
        first = httpx.get(url, params=params, auth=AUTH).json()["d"]
        second = httpx.get(first["__next"], auth=AUTH).json()["d"]
        bad_filter = httpx.get(url, params={"$filter": "LaborCost gt 3"}, auth=AUTH)
    assert first["results"][0]["LaborHours"] == "24.00"
    assert first["results"][0]["WorkDate"] == "/Date(1736726400000)/"
    assert "%24skiptoken=2" in first["__next"] and "ProductionLine" in first["__next"]
    assert len(second["results"]) == 2
    assert bad_filter.status_code == 400
    assert bad_filter.json()["error"]["message"]["value"] == "Invalid filter expression: LaborCost gt 3"
