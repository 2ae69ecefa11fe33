from __future__ import annotations

import dagster as dg
import psycopg

from oee_pipelines.defs.reference.assets import reference_assets
from oee_pipelines.resources.plant import PlantSimulatorResource
from oee_pipelines.resources.warehouse import WarehouseResource


def test_reference_data_lands_once_and_rerun_changes_nothing(clean_database: str) -> None:
    resources = {
        "warehouse": WarehouseResource(database_url=clean_database),
        "plant": PlantSimulatorResource(),
    }
    first = dg.materialize(reference_assets, resources=resources)
    second = dg.materialize(reference_assets, resources=resources)
    assert first.success and second.success

    def created(result: dg.ExecuteInProcessResult) -> dict[str, int]:
        return {
            m.asset_key.to_user_string(): m.metadata["created"].value
            for m in result.asset_materializations_for_node("machines")
        }

    assert created(first) == {"machines": 16}
    assert created(second) == {"machines": 0}
    with psycopg.connect(clean_database) as conn:
        machines = conn.execute(
            "SELECT count(*), count(DISTINCT line_id) FROM machines WHERE org_id='demo'"
        ).fetchone()
        sites = conn.execute("SELECT count(*) FROM sites").fetchone()[0]
    assert machines == (16, 4)
    assert sites == 2
