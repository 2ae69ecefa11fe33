"""The demo plant loaded as the sources would load it: reference data, plan, operator context and telemetry.

Until the historian assets feed the lake in tests, telemetry from `SimulatedPlant.telemetry()` is
written to the historian's folder layout (`telemetry/source=pi/date=D/part-0.parquet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.connectors.mes import make_mes_connector
from oee_pipelines.defs.mart.assets import oee_data_mart
from oee_pipelines.defs.oee.assets import oee_downtime_events, oee_snapshots, operator_shifts, shift_reports
from oee_pipelines.defs.oee.checks import (
    performance_within_limit,
    snapshot_downtime_matches_events,
    snapshot_grid_complete,
)
from oee_pipelines.defs.reference.assets import reference_assets
from oee_pipelines.defs.telemetry.assets import enriched_telemetry
from oee_pipelines.defs.telemetry.checks import (
    machine_state_present,
    no_duplicate_readings,
    readings_within_range,
    telemetry_complete,
)
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.plant import PlantModelResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.operators import sync_operator_shifts
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.simulator.onboarding import write_plant_model
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.mes_rest import MesRestSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.mes_simulators import RunningRest

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
    snapshot_downtime_matches_events,
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


@cache
def demo_plant() -> SimulatedPlant:
    """The packaged demo plant (seed 42), built once per test process."""
    return SimulatedPlant(load_plant_description(None), seed=42)


def resources_for(database_url: str, lake_root: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=database_url),
        "lake": LakeResource(root=lake_root),
        # No MES configured: `operator_shifts` leaves the rows `load_operator_context` landed alone.
        "mes": MESResource(),
        # The simulated plant onboarded as a plant would be: through its plant model file.
        "plant_model_file": PlantModelResource(
            model_file=str(write_plant_model(demo_plant(), Path(lake_root).with_name("plant_model.yaml")))
        ),
    }


def load_operator_context(
    warehouse: WarehouseResource, plant: SimulatedPlant, start: date, end: date
) -> None:
    """Who ran each line on [start, end), as a plant's MES serves it: the simulated MES REST server,
    read by the MES connector and landed by the MES/ERP service (`operators`, `operator_shifts`)."""
    begin = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    finish = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
    simulator = MesRestSimulator(SourceData.from_plant(plant, begin, finish))
    with ServerThread(simulator.app) as server:
        config = RunningRest(simulator, server.base_url).config(page_size=500)
        sync_operator_shifts(
            warehouse, lambda: make_mes_connector(config), config, SyncWindow(begin, finish), "test-harness"
        )


def load_plant(
    database_url: str, lake_root: str, first: date, last: date, signals: list[str] | None = None
) -> LoadedPlant:
    """Reference data and the plan into the warehouse; telemetry of first..last + 1 into the lake."""
    resources = resources_for(database_url, lake_root)
    assert dg.materialize(reference_assets, resources=resources).success
    plant = demo_plant()
    warehouse: WarehouseResource = resources["warehouse"]  # type: ignore[assignment]
    plan_start, plan_end = first - PLAN_MARGIN, last + PLAN_MARGIN
    # Recipes, work orders and schedules come from the MES stage in production.
    warehouse.upsert("recipes", pa.Table.from_pandas(plant.recipes()), ["id"])
    warehouse.upsert("work_orders", pa.Table.from_pandas(plant.work_orders(plan_start, plan_end)), ["id"])
    schedules = pa.Table.from_pandas(plant.schedules(plan_start, plan_end))
    warehouse.upsert("production_schedules", schedules, ["org_id", "external_id"])
    load_operator_context(warehouse, plant, plan_start, plan_end)
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
