"""Reference templates through the import inbox: the sensor launches one run per file, the asset imports it
all or nothing and moves it to processed/ or rejected/ with its report."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import psycopg

from oee_pipelines.defs.reference.inbox import reference_inbox_sensor, reference_templates
from oee_pipelines.domain.plant_model import parse_plant_model
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines_tests.support.plant_model import example_text


def test_inbox_templates_are_imported_and_moved(clean_database: str, tmp_path: Path) -> None:
    PlantModelService(clean_database).apply(parse_plant_model(example_text()))
    inbox = tmp_path / "inbox"
    (inbox / "machines").mkdir(parents=True)
    good = inbox / "machines" / "new_machines.csv"
    good.write_text("machine_id,line_id,name\nM8,L2,Labeller\n")
    bad = inbox / "machines" / "bad_machines.csv"
    bad.write_text("machine_id,line_id,name\nM9,L9,Ghost\n")
    resources = {
        "warehouse": WarehouseResource(database_url=clean_database),
        "import_inbox": ImportInboxResource(root=str(inbox), org_id="acme"),
    }
    with dg.build_sensor_context(resources=resources) as context:
        result = reference_inbox_sensor(context)
    assert len(result.run_requests) == 2
    for request in result.run_requests:
        run = dg.materialize([reference_templates], resources=resources, run_config=request.run_config)
        assert run.success
    (processed,) = (inbox / "processed").glob("*-new_machines.csv.report.json")
    assert json.loads(processed.read_text())["status"] == "SUCCESS"
    (rejected,) = (inbox / "rejected").glob("*-bad_machines.csv.report.json")
    assert json.loads(rejected.read_text())["errors"] == [
        {"row": 2, "column": "line_id", "value": "L9", "reason": "unknown line 'L9'"}
    ]
    with psycopg.connect(clean_database) as conn:
        assert conn.execute("SELECT id FROM machines WHERE id IN ('M8', 'M9')").fetchall() == [("M8",)]
