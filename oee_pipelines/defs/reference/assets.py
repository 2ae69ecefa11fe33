"""Plant reference data (organizations, sites, lines, machines, shifts, products, registries).

Until the MES/ERP connectors own them, they come from the plant description of the simulator.
Each table is one asset upserted on its natural key, so re-materializing changes nothing that did
not change.
"""

from dataclasses import dataclass, field

import dagster as dg
import pyarrow as pa

from oee_pipelines.defs.metadata import table_metadata
from oee_pipelines.resources.plant import PlantSimulatorResource
from oee_pipelines.resources.warehouse import WarehouseResource


@dataclass(frozen=True)
class ReferenceTable:
    table: str
    key_columns: list[str]
    deps: list[str] = field(default_factory=list)
    description: str = ""
    plant_method: str = ""  # the SimulatedPlant method returning this table; defaults to the table name


REFERENCE_TABLES = [
    ReferenceTable("organizations", ["id"], description="Tenants; every row of plant data carries org_id."),
    ReferenceTable("sites", ["id"], ["organizations"], "Plants with their IANA time zone."),
    ReferenceTable("production_lines", ["id"], ["sites"], "Production lines per site.", plant_method="lines"),
    ReferenceTable("machines", ["id"], ["production_lines"], "Machines per line."),
    ReferenceTable("shifts", ["id"], ["sites"], "Shift pattern per site: local start/end, weekdays."),
    ReferenceTable(
        "shift_breaks", ["shift_id", "start_offset_minutes"], ["shifts"], "Planned breaks per shift."
    ),
    ReferenceTable("operators", ["id"], ["organizations"], "Operators and their roles."),
    ReferenceTable("products", ["id"], ["organizations"], "Products made."),
    ReferenceTable(
        "reason_codes", ["org_id", "code"], ["organizations"], "Downtime reason codes and loss classes."
    ),
    ReferenceTable("iot_sensors", ["sensor_id"], ["machines"], "IoT sensor registry (MQTT / HTTP)."),
    ReferenceTable(
        "historian_tag_mappings",
        ["org_id", "historian_system", "historian_tag"],
        ["machines"],
        "Historian tags.",
    ),
    ReferenceTable(
        "sensor_range_config", ["machine_id", "signal_type"], ["machines"], "Expected sensor ranges."
    ),
]


def build_reference_asset(spec: ReferenceTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.table,
        group_name="reference",
        kinds={"postgres"},
        deps=spec.deps,
        description=spec.description,
    )
    def reference_asset(
        context: dg.AssetExecutionContext, plant: PlantSimulatorResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        frame = getattr(plant.plant(), spec.plant_method or spec.table)()
        data = pa.Table.from_pandas(frame, preserve_index=False)
        counts = warehouse.upsert(spec.table, data, spec.key_columns)
        context.log.info(f"{spec.table}: {counts.created} created, {counts.updated} updated")
        return dg.MaterializeResult(
            metadata=table_metadata(
                data,
                extra={"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged},
            )
        )

    return reference_asset


reference_assets = [build_reference_asset(spec) for spec in REFERENCE_TABLES]

reference_data_job = dg.define_asset_job(
    "reference_data_job",
    selection=dg.AssetSelection.groups("reference"),
    description="Load plant reference data into the warehouse.",
)
