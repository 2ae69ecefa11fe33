"""The ERP sync against a real SAP OData simulator and the real warehouse."""

from __future__ import annotations

import dagster as dg

from oee_pipelines.defs.erp.assets import erp_materials, labor_costs
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_sources import RunningSources, rows

LABOR_WINDOW = {"ops": {"labor_costs": {"config": {"start": "2025-01-13", "end": "2025-01-16"}}}}


def materialize(sources: RunningSources, url: str, asset: dg.AssetsDefinition, **kwargs: object) -> dict:
    result = dg.materialize([asset], resources=sources.resources(url), **kwargs)  # type: ignore[arg-type]
    assert result.success
    [materialization] = result.asset_materializations_for_node(asset.op.name)
    return {name: value.value for name, value in materialization.metadata.items()}


def test_material_master_lands_once(sources: RunningSources, warehouse_url: str) -> None:
    first = materialize(sources, warehouse_url, erp_materials)
    second = materialize(sources, warehouse_url, erp_materials)

    assert (first["created"], first["sync_status"]) == (5, "SUCCESS")
    assert (second["created"], second["updated"]) == (0, 0)
    assert rows(warehouse_url, "SELECT count(*), min(source_system) FROM materials") == [(5, "sap_odata")]
    assert rows(warehouse_url, "SELECT entity, records_created FROM mes_schedule_sync ORDER BY sync_id") == [
        ("material", 5),
        ("material", 0),
    ]


def test_labor_costs_of_the_window_with_a_malformed_record_rejected(
    sources: RunningSources, source_data: SourceData, warehouse_url: str
) -> None:
    source_data.labor_costs[1]["labor_hours"] = "many"

    metadata = materialize(sources, warehouse_url, labor_costs, run_config=LABOR_WINDOW)

    assert (metadata["created"], metadata["rejected"], metadata["sync_status"]) == (5, 1, "PARTIAL")
    [(errors,)] = rows(warehouse_url, "SELECT errors FROM mes_schedule_sync WHERE entity = 'labor_cost'")
    assert [(e["key"], e["field"]) for e in errors] == [("CC-L001-PROD", "labor_hours")]
    assert rows(warehouse_url, "SELECT count(DISTINCT work_date) FROM labor_costs") == [(3,)]
