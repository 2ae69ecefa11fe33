"""Reference-data templates dropped into the import inbox, one folder per template type
(`<inbox>/machines/`, `<inbox>/shifts/`, `<inbox>/products_cycle_times/`, `<inbox>/reason_codes/`,
`<inbox>/sensor_ranges/`, `<inbox>/tag_mappings/`, `<inbox>/state_sets/`, `<inbox>/iot_sensors/`).

`reference_inbox_sensor` launches one `reference_template_job` run per new file content; the
`reference_templates` asset imports it all or nothing through the plant model service and moves it to
`processed/` or `rejected/` with `<name>.report.json` naming every bad row.
"""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.plant.templates import (
    TEMPLATE_KIND_NAMES,
    ReferenceImporter,
    finish_inbox_file,
    pending_template_files,
    waiting_template_file,
)

REFERENCE_TEMPLATES = "reference_templates"
MAX_FILES_PER_TICK = 20


class ReferenceTemplateConfig(dg.Config):
    path: str = Field(description="The template file waiting in a template folder of the inbox.")


@dg.asset(
    name=REFERENCE_TEMPLATES,
    group_name="reference",
    owners=owners_of("reference"),
    kinds={"postgres"},
    metadata=column_schema("reference_template_imports"),
    deps=["plant_model"],
    description="One materialization per reference-data template imported from the inbox: its status, "
    "errors per row, and what the plant model service changed.",
)
def reference_templates(
    context: dg.AssetExecutionContext,
    config: ReferenceTemplateConfig,
    warehouse: WarehouseResource,
    import_inbox: ImportInboxResource,
) -> dg.MaterializeResult:
    root = Path(import_inbox.root)
    path, kind = waiting_template_file(root, config.path)
    outcome = ReferenceImporter(warehouse.url()).import_file(path, kind, org_id=import_inbox.org_id)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + context.run.run_id[:8]
    moved_to = finish_inbox_file(root, path, outcome, stamp)
    context.log.info(f"{outcome.file_name} ({kind}): {outcome.status}; moved to {moved_to}")
    report = outcome.as_dict()
    return dg.MaterializeResult(
        metadata={
            "type": kind,
            "status": outcome.status,
            "rows_read": outcome.rows_read,
            "errors": dg.MetadataValue.json(report["errors"][:20]),
            "moved_to": str(moved_to),
            "rows_changed": outcome.report.changed if outcome.report else 0,
        }
    )


reference_template_job = dg.define_asset_job(
    "reference_template_job",
    selection=dg.AssetSelection.assets(REFERENCE_TEMPLATES),
    description="Import one reference-data template from the inbox (launched by reference_inbox_sensor).",
)


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dg.sensor(
    name="reference_inbox_sensor",
    job=reference_template_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Imports each reference-data template dropped into a template folder of the inbox "
    f"({', '.join(f'{kind}/' for kind in TEMPLATE_KIND_NAMES)}).",
)
def reference_inbox_sensor(
    context: dg.SensorEvaluationContext, import_inbox: ImportInboxResource
) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    still_waiting: dict[str, str] = {}
    run_requests: list[dg.RunRequest] = []
    for path, _kind in pending_template_files(Path(import_inbox.root)):
        stat = path.stat()
        signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        key = str(path)
        still_waiting[key] = signature
        if seen.get(key) == signature or len(run_requests) >= MAX_FILES_PER_TICK:
            if seen.get(key) != signature:
                del still_waiting[key]  # not launched yet: the next tick takes it
            continue
        checksum = _checksum(path)
        run_requests.append(
            dg.RunRequest(
                run_key=f"{path.parent.name}/{checksum}",
                run_config={"ops": {REFERENCE_TEMPLATES: {"config": {"path": str(path)}}}},
                tags={"oee/reference_template": f"{path.parent.name}/{path.name}"},
            )
        )
    return dg.SensorResult(run_requests=run_requests, cursor=json.dumps(still_waiting, sort_keys=True))
