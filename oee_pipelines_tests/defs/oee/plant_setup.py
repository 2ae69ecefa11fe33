"""The demo plant loaded as the sources would load it: reference data, plan and telemetry.

Until the historian assets feed the lake in tests, telemetry from `SimulatedPlant.telemetry()` is
written to the historian's folder layout (`telemetry/source=pi/date=D/part-0.parquet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.defs.mart.assets import oee_data_mart
from oee_pipelines.defs.oee.assets import oee_downtime_events, oee_snapshots, operator_shifts, shift_reports
from oee_pipelines.defs.oee.checks import performance_within_limit, snapshot_grid_complete
from oee_pipelines.defs.reference.assets import reference_assets
from oee_pipelines.defs.telemetry.assets import enriched_telemetry
from oee_pipelines.defs.telemetry.checks import (
    machine_state_present,
    no_duplicate_readings,
    readings_within_range,
    telemetry_complete,
)
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.plant import PlantSimulatorResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.storage.lake import Lake

OEE_SIGNALS = ["machine_state", "pieces_good", "pieces_rejected"]
PLAN_MARGIN = timedelta(days=2)

OEE_ASSETS = [
    operator_shifts,
    enriched_telemetry,
    oee_downtime_events,
    oee_snapshots,
    shift_reports,
    oee_data_mart,
]
OEE_CHECKS = [
    machine_state_present,
    readings_within_range,
    no_duplicate_readings,
    telemetry_complete,
    snapshot_grid_complete,
    performance_within_limit,
]
# What the OEE assets read but do not build: declared so that the test graph has the real partitions.
UPSTREAM_SPECS = [
    dg.AssetSpec("historian_points", partitions_def=enriched_telemetry.partitions_def),
]


@dataclass(frozen=True)
class LoadedPlant:
    plant: SimulatedPlant
    resources: dict[str, object]
    lake: Lake


def resources_for(database_url: str, lake_root: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=database_url),
        "lake": LakeResource(root=lake_root),
        "plant": PlantSimulatorResource(),
    }


def load_plant(
    database_url: str, lake_root: str, first: date, last: date, signals: list[str] | None = None
) -> LoadedPlant:
    """Reference data and the plan into the warehouse; telemetry of first..last + 1 into the lake."""
    resources = resources_for(database_url, lake_root)
    assert dg.materialize(reference_assets, resources=resources).success
    plant = resources["plant"].plant()  # type: ignore[attr-defined]
    warehouse: WarehouseResource = resources["warehouse"]  # type: ignore[assignment]
    plan_start, plan_end = first - PLAN_MARGIN, last + PLAN_MARGIN
    # Recipes, work orders and schedules come from the MES stage in production.
    warehouse.upsert("recipes", pa.Table.from_pandas(plant.recipes()), ["id"])
    warehouse.upsert("work_orders", pa.Table.from_pandas(plant.work_orders(plan_start, plan_end)), ["id"])
    schedules = pa.Table.from_pandas(plant.schedules(plan_start, plan_end))
    warehouse.upsert("production_schedules", schedules, ["org_id", "external_id"])
    lake = Lake(lake_root)
    day = first
    while day <= last + timedelta(days=1):  # the next day's first counter closes the last window
        write_source_day(lake, telemetry_day(plant, day, signals), day)
        day += timedelta(days=1)
    return LoadedPlant(plant=plant, resources=resources, lake=lake)


def telemetry_day(plant: SimulatedPlant, day: date, signals: list[str] | None = None) -> pa.Table:
    table = plant.telemetry(day, day + timedelta(days=1), signals=signals)
    return table.set_column(
        table.schema.get_field_index("source_system"), "source_system", pa.array(["pi"] * table.num_rows)
    )


def write_source_day(lake: Lake, table: pa.Table, day: date, file: str = "part-0.parquet") -> None:
    lake.write_file(f"telemetry/source=pi/{Lake.date_folder(day)}/{file}", table)


def materialize_days(
    loaded: LoadedPlant, first: date, last: date, **kwargs: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*OEE_ASSETS, *OEE_CHECKS],
        resources=loaded.resources,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        **kwargs,  # type: ignore[arg-type]
    )


def machine_rows(table: pa.Table, machine_id: str) -> pa.Table:
    return table.filter(pc.equal(table["machine_id"], machine_id))
