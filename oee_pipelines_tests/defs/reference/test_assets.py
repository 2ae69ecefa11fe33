from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg

from oee_pipelines.defs.reference.assets import plant_model
from oee_pipelines.resources.plant import PlantModelResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines_tests.support.plant_model import EXAMPLE_FILE


def test_plant_model_lands_once_and_rerun_changes_nothing(clean_database: str) -> None:
    resources = {
        "warehouse": WarehouseResource(database_url=clean_database),
        "plant_model_file": PlantModelResource(model_file=str(EXAMPLE_FILE)),
    }
    first = dg.materialize([plant_model], resources=resources)
    second = dg.materialize([plant_model], resources=resources)
    assert first.success and second.success

    def machine_figures(result: dg.ExecuteInProcessResult) -> dict[str, object]:
        (machines,) = [
            m
            for m in result.asset_materializations_for_node("plant_model")
            if m.asset_key.path == ["machines"]
        ]
        return {key: machines.metadata[key].value for key in ("created", "unchanged")}

    assert machine_figures(first) == {"created": 3, "unchanged": 0}
    assert machine_figures(second) == {"created": 0, "unchanged": 3}
    (model,) = [
        m
        for m in second.asset_materializations_for_node("plant_model")
        if m.asset_key.path == ["plant_model"]
    ]
    assert model.metadata["rows_changed"].value == 0
    assert model.metadata["organizations"].value == "acme"
    with psycopg.connect(clean_database) as conn:
        machines = conn.execute(
            "SELECT count(*), count(DISTINCT line_id) FROM machines WHERE org_id='acme'"
        ).fetchone()
    assert machines == (3, 2)


def test_without_a_file_the_current_model_is_reported(clean_database: str, tmp_path: Path) -> None:
    resources = {
        "warehouse": WarehouseResource(database_url=clean_database),
        "plant_model_file": PlantModelResource(model_file=str(EXAMPLE_FILE)),
    }
    assert dg.materialize([plant_model], resources=resources).success
    resources["plant_model_file"] = PlantModelResource()
    result = dg.materialize([plant_model], resources=resources)
    (model,) = [
        m
        for m in result.asset_materializations_for_node("plant_model")
        if m.asset_key.path == ["plant_model"]
    ]
    assert model.metadata["rows_per_table"].value["machines"] == 3
    assert "rows_changed" not in model.metadata
