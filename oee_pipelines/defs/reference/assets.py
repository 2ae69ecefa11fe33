"""Plant reference data: the plant model (`OEE_PLANT_MODEL_FILE`) applied by `services/plant/`.

One multi-asset, `plant_model`, applies the whole file in one transaction (or, with no file
configured, reports the current model) and materializes every plant table it owns, so assets that
depend on `machines`, `shifts`, `historian_tag_mappings`... see them refreshed. Re-applying the same
file changes nothing. The operator roster (`operators`) is not part of the plant model: it comes with
the operator assignments from the MES (`operator_shifts`, services/mes_erp/operators.py).
"""

from graphlib import TopologicalSorter
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.defs.metadata import column_schema, preview_markdown, table_metadata
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.domain.plant_model import PlantModel, to_tables
from oee_pipelines.resources.plant import PlantModelResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.plant import PLANT_TABLES, ApplyReport

REFERENCE_GROUP = "reference"
PLANT_MODEL = "plant_model"
TABLE_DESCRIPTIONS = {
    "organizations": "Tenants; every row of plant data carries org_id.",
    "sites": "Plants with their IANA time zone.",
    "production_lines": "Production lines per site (code = the plant's id).",
    "machines": "Machines per line (the plant's ids); removed ones are deactivated.",
    "shifts": "Shift calendars per site: local start/end, weekdays, effective dates.",
    "shift_breaks": "Planned breaks per shift.",
    "products": "Products and their default ideal cycle time.",
    "reason_codes": "Downtime reason codes: category, planned, six-big-loss class.",
    "machine_cycle_times": "Ideal cycle time per machine and product (plant model, then MES).",
    "sensor_range_config": "Expected sensor ranges and the action on a violation.",
    "iot_sensors": "IoT sensor registry (MQTT / HTTP).",
    "historian_tag_mappings": "Historian tags: machine, signal, scale, offset, counter, state set.",
    "state_name_mappings": "State names / codes of each state set: running or stopped with a reason.",
}
TABLE_DEPS = {
    "sites": ["organizations"],
    "production_lines": ["sites"],
    "machines": ["production_lines"],
    "shifts": ["sites"],
    "shift_breaks": ["shifts"],
    "products": ["organizations"],
    "reason_codes": ["organizations"],
    "machine_cycle_times": ["machines", "products"],
    "sensor_range_config": ["machines"],
    "iot_sensors": ["machines"],
    "historian_tag_mappings": ["machines", "state_name_mappings"],
    "state_name_mappings": ["reason_codes"],
}

# The multi-asset yields its tables in dependency order (Dagster requires it).
YIELD_ORDER = list(TopologicalSorter({t: TABLE_DEPS.get(t, []) for t in PLANT_TABLES}).static_order())


@dg.multi_asset(
    name=PLANT_MODEL,
    group_name=REFERENCE_GROUP,
    specs=[
        dg.AssetSpec(
            PLANT_MODEL,
            group_name=REFERENCE_GROUP,
            owners=owners_of(REFERENCE_GROUP),
            kinds={"yaml"},
            metadata=column_schema("plant_model_sites"),
            description="The plant model file (OEE_PLANT_MODEL_FILE) applied to the warehouse in one "
            "transaction; unset: the current model. Metadata: counts per table, organization, sites.",
        ),
        *[
            dg.AssetSpec(
                table,
                group_name=REFERENCE_GROUP,
                owners=owners_of(REFERENCE_GROUP),
                kinds={"postgres"},
                metadata=column_schema(table),
                deps=[PLANT_MODEL, *TABLE_DEPS.get(table, [])],
                description=TABLE_DESCRIPTIONS[table],
            )
            for table in PLANT_TABLES
        ],
    ],
)
def plant_model(
    context: dg.AssetExecutionContext, plant_model_file: PlantModelResource, warehouse: WarehouseResource
) -> Any:
    url = warehouse.url()
    service = plant_model_file.service(url)
    model = plant_model_file.read_model()
    report: ApplyReport | None = None
    if model is not None:
        report = service.apply(model)
        context.log.info(f"applied {plant_model_file.model_file}: {report.changed} rows changed")
        models = [model]
    else:
        context.log.info("OEE_PLANT_MODEL_FILE is unset: reporting the current plant model")
        models = [service.export(org) for org in service.organizations()]
    yield dg.MaterializeResult(
        asset_key=PLANT_MODEL, metadata=model_metadata(models, report, plant_model_file.model_file)
    )
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in PLANT_TABLES}
    for each in models:
        for table, table_rows in to_tables(each).items():
            rows[table].extend(table_rows)
    for table in YIELD_ORDER:
        data = pa.Table.from_pandas(pd.DataFrame(rows[table]).astype(object), preserve_index=False)
        extra = report.tables[table].as_dict() if report else {}
        yield dg.MaterializeResult(asset_key=table, metadata=table_metadata(data, schema=table, extra=extra))


def model_metadata(
    models: list[PlantModel], report: ApplyReport | None, model_file: str | None
) -> dict[str, Any]:
    counts: dict[str, int] = {table: 0 for table in PLANT_TABLES}
    for model in models:
        for table, rows in to_tables(model).items():
            counts[table] += len(rows)
    sites = [
        {
            "org_id": m.organization.id,
            "site": s.id,
            "name": s.name,
            "timezone": s.timezone,
            "lines": len(s.lines),
            "machines": sum(len(li.machines) for li in s.lines),
            "shifts": len(s.shifts),
        }
        for m in models
        for s in m.sites
    ]
    metadata: dict[str, Any] = {
        "organizations": ", ".join(m.organization.id for m in models) or "none",
        "file": model_file or "(unset: current model)",
        "rows_per_table": dg.MetadataValue.json(counts),
        "sites": len(sites),
        "preview": preview_markdown(pd.DataFrame(sites)),
    }
    if report is not None:
        metadata["rows_changed"] = report.changed
        metadata["apply_report"] = dg.MetadataValue.json(report.as_dict()["tables"])
    return metadata


reference_assets = [plant_model]

reference_data_job = dg.define_asset_job(
    "reference_data_job",
    # The inbox's template imports run one file at a time (`inbox.py`), not in this job.
    selection=dg.AssetSelection.groups(REFERENCE_GROUP) - dg.AssetSelection.assets("reference_templates"),
    description="Apply the plant model file to the warehouse.",
    executor_def=LIGHT_JOB_EXECUTOR,  # one step of seconds: no step process
)
