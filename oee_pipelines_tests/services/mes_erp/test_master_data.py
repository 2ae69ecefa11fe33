"""MES master data: recipes add their products and cycle times, and the plant model wins where it
defines them (issue 14 item 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import psycopg
import pytest

from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mes_erp.master_data import cycle_times_from_recipes, products_from_recipes
from oee_pipelines.services.mes_erp.mes import RECIPES, MesSyncRequest, sync_mes
from oee_pipelines.services.mes_erp.sync import Landed
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import RECIPE
from oee_pipelines_tests.support.mes_sources import RunningSources, mes_rest_resource, rows

WINDOW = SyncWindow(datetime(2025, 1, 13, tzinfo=UTC), datetime(2025, 1, 14, tzinfo=UTC))
CYCLE_TIMES = """SELECT machine_id, product_id, ideal_cycle_time_seconds, source FROM machine_cycle_times
                 ORDER BY machine_id, product_id"""


def download(sources: RunningSources, url: str, *recipe_ids: str) -> Landed:
    """Download these recipes by id through the service (the `recipes` asset's work)."""
    mes = mes_rest_resource(sources.mes_rest_url)
    request = MesSyncRequest(WINDOW, frozenset({RECIPES}), "test-run", recipe_ids=recipe_ids)
    landed = sync_mes(WarehouseResource(database_url=url), mes.connector, mes.connection_config(), request)
    return landed[RECIPES]


def execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def add_recipes(source_data: SourceData) -> None:
    """A new product on LINE-001, and the same product with no line (every machine)."""
    source_data.recipes += [
        {**RECIPE, "recipe_id": "RCP-002", "product_id": "PROD-NEW", "ideal_cycle_time_s": 2.0},
        {
            **RECIPE,
            "recipe_id": "RCP-003",
            "product_id": "PROD-NEW",
            "line_id": None,
            "ideal_cycle_time_s": 2.5,
        },
    ]


@pytest.fixture
def second_machine(warehouse_url: str) -> str:
    execute(
        warehouse_url,
        "INSERT INTO machines (id, org_id, line_id, name, code) VALUES "
        "('MACHINE-002', 'demo', 'LINE-002', 'Seamer', 'S1')",
    )
    return warehouse_url


def test_recipes_add_their_products_and_cycle_times_once(
    sources: RunningSources, source_data: SourceData, second_machine: str
) -> None:
    add_recipes(source_data)

    first = download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")
    second = download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")

    assert (first.outcome.created, first.outcome.status) == (3, "SUCCESS")
    assert rows(second_machine, "SELECT id, code, name, unit, source FROM products ORDER BY id") == [
        ("PROD-001", "BTL-500", "Bottle 500 ml", "pcs", "plant_model"),
        ("PROD-NEW", "PROD-NEW", "PROD-NEW", "pcs", "mes"),
    ]
    # LINE-001's machine takes the shorter of its line's recipe and the line-less one.
    assert rows(second_machine, CYCLE_TIMES) == [
        ("MACHINE-001", "PROD-001", 1.5, "mes"),
        ("MACHINE-001", "PROD-NEW", 2.0, "mes"),
        ("MACHINE-002", "PROD-NEW", 2.5, "mes"),
    ]
    assert (first.figures["products_created"], first.figures["mes_cycle_times_written"]) == (1, 3)
    assert (second.figures["products_created"], second.figures["mes_cycle_times_written"]) == (0, 0)
    assert (second.outcome.created, second.outcome.updated) == (0, 0)


def test_the_plant_model_wins_where_it_defines_a_cycle_time(
    sources: RunningSources, source_data: SourceData, second_machine: str
) -> None:
    add_recipes(source_data)
    execute(
        second_machine,
        """INSERT INTO machine_cycle_times (org_id, machine_id, product_id, ideal_cycle_time_seconds, source)
           VALUES ('demo', 'MACHINE-001', 'PROD-001', 1.2, 'plant_model')""",
    )
    download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")
    source_data.recipes[0]["ideal_cycle_time_s"] = 1.4  # the MES changes RCP-001's cycle time
    source_data.recipes[1]["ideal_cycle_time_s"] = 1.8  # and RCP-002's

    changed = download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")

    assert changed.outcome.updated == 2
    assert rows(second_machine, CYCLE_TIMES) == [
        ("MACHINE-001", "PROD-001", 1.2, "plant_model"),  # the plant model's own: untouched
        ("MACHINE-001", "PROD-NEW", 1.8, "mes"),  # the MES's own: follows the MES
        ("MACHINE-002", "PROD-NEW", 2.5, "mes"),
    ]


def test_a_plant_model_product_default_shadows_the_mes(
    sources: RunningSources, source_data: SourceData, second_machine: str
) -> None:
    add_recipes(source_data)
    execute(second_machine, "UPDATE products SET ideal_cycle_time_seconds = 1.6 WHERE id = 'PROD-001'")
    download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")
    assert [r[:2] for r in rows(second_machine, CYCLE_TIMES)] == [
        ("MACHINE-001", "PROD-NEW"),
        ("MACHINE-002", "PROD-NEW"),
    ]

    # The plant model later gives PROD-NEW a default too: the MES's rows for it go.
    execute(second_machine, "UPDATE products SET ideal_cycle_time_seconds = 2.2 WHERE id = 'PROD-NEW'")
    again = download(sources, second_machine, "RCP-001", "RCP-002", "RCP-003")

    assert rows(second_machine, CYCLE_TIMES) == []
    assert again.figures["mes_cycle_times_removed"] == 2
    assert rows(second_machine, "SELECT id, name FROM products WHERE id = 'PROD-001'") == [
        ("PROD-001", "Bottle 500 ml")
    ]


def test_cycle_times_per_machine_from_line_and_line_less_recipes() -> None:
    recipes = pd.DataFrame(
        {
            "org_id": ["demo"] * 3,
            "product_id": ["P1", "P1", "P2"],
            "line_id": ["L1", None, "L3"],
            "ideal_cycle_time_s": [2.0, 1.5, 4.0],
        }
    )
    machines = pd.DataFrame({"id": ["M1", "M2"], "org_id": ["demo", "demo"], "line_id": ["L1", "L2"]})

    times = cycle_times_from_recipes(recipes, machines)

    # P1 runs everywhere at 1.5 (the line-less recipe is faster); no machine runs L3's P2.
    assert times.to_dict(orient="records") == [
        {"org_id": "demo", "machine_id": "M1", "product_id": "P1", "ideal_cycle_time_seconds": 1.5},
        {"org_id": "demo", "machine_id": "M2", "product_id": "P1", "ideal_cycle_time_seconds": 1.5},
    ]
    assert list(products_from_recipes(recipes)["id"]) == ["P1", "P2"]
