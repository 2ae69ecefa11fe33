"""The MES REST simulator: its wire format, its paging, and serving the real demo plant."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from oee_pipelines.connectors.mes import SourceConnectionConfig, make_mes_connector
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import FAST_RETRIES, sample_source_data

SCHEDULES = "/api/v1/lines/LINE-001/schedules"
RANGE = {"start": "2025-01-13T00:00:00+00:00", "end": "2025-01-14T00:00:00+00:00"}


def test_pages_hold_at_most_the_server_page_size_and_name_the_next_offset() -> None:
    simulator = MesRestSimulator(sample_source_data(), max_page_size=2)
    with ServerThread(simulator.app) as server, httpx.Client(base_url=server.base_url) as client:
        headers = {"X-API-Key": "mes-api-key"}
        first = client.get(SCHEDULES, params={**RANGE, "limit": 50}, headers=headers).json()
        last = client.get(SCHEDULES, params={**RANGE, "offset": 4}, headers=headers).json()
        refused = client.get(SCHEDULES, params=RANGE)
    assert [item["schedule_id"] for item in first["items"]] == ["SCH-001", "SCH-002"]
    assert first["next_offset"] == 2
    assert first["items"][0]["OrderNumber"] == "WO-000001" and first["items"][0]["TargetQuantity"] == 1001
    assert (len(last["items"]), last["next_offset"]) == (1, None)
    assert refused.status_code == 401


def test_serving_the_demo_plant() -> None:
    plant = SimulatedPlant(load_plant_description(), seed=42)
    start, end = datetime(2025, 1, 13, tzinfo=UTC), datetime(2025, 1, 14, tzinfo=UTC)
    source = SourceData.from_plant(plant, start, end)
    expected = plant.schedules(start, end)
    expected = expected[expected["line_id"] == "LINE-001"]
    simulator = MesRestSimulator(source, max_page_size=2)
    with ServerThread(simulator.app) as server:
        config = SourceConnectionConfig(
            system_type="custom_rest",
            base_url=server.base_url,
            auth_type="api_key",
            credentials={"api_key": "mes-api-key"},
            field_mappings=SEED_FIELD_NAMES,
            **FAST_RETRIES,  # type: ignore[arg-type]
        )
        with make_mes_connector(config) as mes:
            schedules = mes.get_production_schedules("LINE-001", start, end)
            number = expected["work_order_id"].iloc[0]
            consumption = mes.get_material_consumption("LINE-001", number)
            recipe = mes.download_recipe(expected["recipe_id"].iloc[0])
    assert schedules.rejected == [] and len(expected) > 0
    assert list(schedules.frame["external_id"]) == list(expected["external_id"])
    assert list(schedules.frame["planned_quantity"]) == list(expected["planned_quantity"])
    assert list(schedules.frame["planned_start"]) == list(expected["planned_start"])
    assert len(consumption.frame) > 0 and consumption.rejected == []
    assert recipe.frame["id"].iloc[0] == expected["recipe_id"].iloc[0]
