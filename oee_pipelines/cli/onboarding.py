"""The demo's onboarding step: the simulated plant joins the warehouse the way a real plant does.

The simulator writes its plant model file and two reference-data templates (`simulator/onboarding.py`).
`oee demo` points `OEE_PLANT_MODEL_FILE` at the file before it loads the definitions; this step runs
`reference_data_job`, whose `plant_model` asset applies the file through the plant model service (the
same path as `oee plant apply FILE`; the UI shows what it applied), and imports the templates like
`oee import FILE --type reason_codes|sensor_ranges` (docs/onboarding.md). Nothing of the simulator
reaches the plant tables any other way.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import dagster as dg

from oee_pipelines.cli.dagster_home import QUIET_LOGS
from oee_pipelines.services.plant.templates import ReferenceImporter
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.onboarding import write_plant_model, write_reference_templates
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.storage.warehouse import resolve_database_url

ONBOARDING_FOLDER = "onboarding"
PLANT_MODEL_FILE = "plant_model.yaml"
PLANT_MODEL_VARIABLE = "OEE_PLANT_MODEL_FILE"
# The Dagster names the step runs (defined in `defs/reference/`, looked up by name).
REFERENCE_JOB, PLANT_MODEL_ASSET = "reference_data_job", "plant_model"


def demo_plant_model_file(settings: Settings) -> Path:
    """Where the demo keeps the simulated plant's model file (re-apply it with `oee plant apply`)."""
    return settings.data_dir / ONBOARDING_FOLDER / PLANT_MODEL_FILE


def write_demo_plant_model(settings: Settings) -> Path:
    plant = SimulatedPlant(load_plant_description(settings.plant_file), seed=settings.simulator_seed)
    return write_plant_model(plant, demo_plant_model_file(settings))


def import_reference_template(database_url: str, path: Path, kind: str, org_id: str) -> int:
    """Import one reference-data template; the number of rows it changed (SystemExit when refused)."""
    outcome = ReferenceImporter(database_url).import_file(path, kind, org_id=org_id)
    if not outcome.landed:
        reasons = "; ".join(f"row {e['row']} {e['column']}: {e['reason']}" for e in outcome.errors[:5])
        raise SystemExit(f"oee demo: the {kind} template {path} was refused: {reasons}")
    return outcome.report.changed if outcome.report else 0


def run_plant_onboarding(
    definitions: dg.Definitions, instance: dg.DagsterInstance, first: date, last: date
) -> None:
    """The demo step: `reference_data_job` applies the plant model file; then the templates."""
    settings = Settings.from_env()
    started = time.monotonic()
    result = definitions.resolve_job_def(REFERENCE_JOB).execute_in_process(
        instance=instance, run_config=QUIET_LOGS
    )
    if not result.success:
        raise SystemExit(f"oee demo: {REFERENCE_JOB} failed (run {result.run_id}); see the Dagster UI")
    [applied] = [
        m
        for m in result.asset_materializations_for_node(PLANT_MODEL_ASSET)
        if m.asset_key.path == [PLANT_MODEL_ASSET]
    ]
    changed = applied.metadata["rows_changed"].value if "rows_changed" in applied.metadata else 0
    print(
        f"applied plant model {os.environ.get(PLANT_MODEL_VARIABLE)}: {changed} rows changed  "
        f"({REFERENCE_JOB} in {time.monotonic() - started:.1f} s, run {result.run_id[:8]})"
    )
    url = resolve_database_url(settings)
    plant = SimulatedPlant(load_plant_description(settings.plant_file), seed=settings.simulator_seed)
    org_id = plant.description.organization_id
    for kind, template in write_reference_templates(plant, demo_plant_model_file(settings).parent).items():
        changed = import_reference_template(url, template, kind, org_id)
        print(f"imported {kind} template {template.name}: {changed} rows changed")
