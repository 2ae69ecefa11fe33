"""Material consumption (MES) and production variance (ERP) of a day's work orders (issue 18, item 1):
landed from the simulator's real MES REST and SAP OData servers into the real warehouse, replaced on a
re-run, valued per work order in the data mart, exported by the API for the caller's organization
only, and published as daily files.

Expected figures come from the simulator's records (`SourceData`) and its material master, computed
here in Python, never from the pipeline's SQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.defs.erp.assets import erp_materials
from oee_pipelines.defs.erp.variance import production_variance
from oee_pipelines.defs.exports.assets import export_assets
from oee_pipelines.defs.mes.consumption import material_consumption
from oee_pipelines.exports.columns import MATERIAL_CONSUMPTION, PRODUCTION_VARIANCE
from oee_pipelines.resources.published import PublishedFilesResource
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_sources import (
    RunningSources,
    mes_rest_resource,
    running_sources,
    sap_resource,
)
from oee_pipelines_tests.support.plant_days import LoadedPlant, materialize_days

WEDNESDAY = date(2025, 1, 15)
DAY = WEDNESDAY.isoformat()
WEEK_START = datetime(2025, 1, 13, tzinfo=UTC)
CONSUMPTION_ROWS = """SELECT wo_number, material_number, planned_quantity::float8, consumed_quantity::float8,
                             base_unit, line_id
                      FROM material_consumption ORDER BY wo_number, material_number"""
VARIANCE_ROWS = """SELECT wo_number, item, item_type, planned_quantity::float8, actual_quantity::float8,
                          variance_quantity::float8, variance_pct::float8
                   FROM production_variance ORDER BY wo_number, item"""


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def wednesday(plant_days: Any) -> LoadedPlant:
    return plant_days(WEDNESDAY, WEDNESDAY)


@pytest.fixture
def sources(wednesday: LoadedPlant) -> Iterator[RunningSources]:
    """The simulated MES REST and SAP OData servers over the demo plant's week (ephemeral ports)."""
    source = SourceData.from_plant(wednesday.plant, WEEK_START, WEEK_START + timedelta(days=7))
    with running_sources(source) as running:
        yield running


@pytest.fixture
def resources(wednesday: LoadedPlant, sources: RunningSources) -> dict[str, object]:
    return {
        **wednesday.resources,
        "mes": mes_rest_resource(sources.mes_rest_url),
        "erp": sap_resource(sources.sap_url),
    }


def wednesday_orders(source: SourceData) -> dict[str, dict[str, Any]]:
    """The simulator's work orders planned to start on Wednesday (UTC), by number."""
    return {
        order["work_order_number"]: order
        for order in source.work_orders
        if order["planned_start"].astimezone(UTC).date() == WEDNESDAY
    }


def expected_consumption(source: SourceData) -> list[tuple]:
    orders = wednesday_orders(source)
    return sorted(
        (
            c["work_order_number"],
            c["material_number"],
            c["planned_quantity"],
            c["consumed_quantity"],
            c["base_unit"],
            c["line_id"],
        )
        for c in source.consumption
        if c["work_order_number"] in orders
    )


def land(resources: dict[str, object]) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [material_consumption, production_variance], partition_key=DAY, resources=resources
    )
    assert result.success
    return result


def figures(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    metadata = result.asset_materializations_for_node(asset)[0].metadata
    return {name: metadata[name].value for name in ("created", "updated", "rejected", "sync_status")}


def test_a_day_lands_the_simulators_consumption_and_variance_and_a_rerun_replaces_it(
    sources: RunningSources, resources: dict[str, object], clean_database: str
) -> None:
    source = sources.source
    orders = wednesday_orders(source)
    assert len(orders) >= 4  # a line's orders of the day on every line

    first = land(resources)

    landed = rows(clean_database, CONSUMPTION_ROWS)
    assert landed == expected_consumption(source)
    assert {r[0] for r in landed} == set(orders)
    variance = rows(clean_database, VARIANCE_ROWS)
    # One yield row per order: SAP has confirmed nothing yet (0 pieces), so all of the plan is missing ...
    yields = [r for r in variance if r[2] == "yield"]
    assert [(r[0], r[3], r[4], r[5], r[6]) for r in yields] == [
        (
            number,
            float(orders[number]["planned_quantity"]),
            0.0,
            -float(orders[number]["planned_quantity"]),
            -100.0,
        )
        for number in sorted(orders)
    ]
    # ... and one row per component: the ERP issued 2 % over plan.
    materials = [r for r in variance if r[2] == "material"]
    assert len(materials) == len(landed)
    for _, _, _, planned, actual, delta, pct in materials:
        assert actual == pytest.approx(planned * 1.02, abs=0.001)
        assert delta == pytest.approx(actual - planned, abs=0.001)
        assert pct == pytest.approx(2.0, abs=0.01)
    assert figures(first, "material_consumption") == {
        "created": len(landed),
        "updated": 0,
        "rejected": 0,
        "sync_status": "SUCCESS",
    }

    # The same day again: the same rows, none duplicated, nothing created or updated.
    second = land(resources)
    assert rows(clean_database, CONSUMPTION_ROWS) == landed
    assert rows(clean_database, VARIANCE_ROWS) == variance
    assert figures(second, "material_consumption")["created"] == 0
    assert figures(second, "material_consumption")["updated"] == 0
    assert figures(second, "production_variance")["created"] == 0

    # The MES corrects one posting and the ERP confirms one order's yield: the re-run replaces them.
    changed_order = sorted(orders)[0]
    posting = next(c for c in source.consumption if c["work_order_number"] == changed_order)
    posting["consumed_quantity"] = 12345.5
    source.work_order(changed_order)["actual_quantity"] = orders[changed_order]["planned_quantity"] - 40  # type: ignore[index]
    third = land(resources)

    after = rows(clean_database, CONSUMPTION_ROWS)
    assert len(after) == len(landed)
    assert (changed_order, posting["material_number"]) in {(r[0], r[1]) for r in after}
    assert next(r[3] for r in after if (r[0], r[1]) == (changed_order, posting["material_number"])) == 12345.5
    assert figures(third, "material_consumption")["updated"] == 1
    planned = float(orders[changed_order]["planned_quantity"])
    assert rows(
        clean_database,
        """SELECT actual_quantity::float8, variance_quantity::float8, variance_pct::float8
           FROM production_variance WHERE wo_number = %s AND item_type = 'yield'""",
        (changed_order,),
    ) == [(planned - 40, -40.0, round(-4000.0 / planned, 3))]


def test_an_order_the_mes_no_longer_lists_loses_its_rows_and_a_double_posting_is_rejected(
    sources: RunningSources, resources: dict[str, object], clean_database: str
) -> None:
    orders = sorted(wednesday_orders(sources.source))
    land(resources)
    dropped, doubled = orders[-1], orders[0]
    assert {r[0] for r in rows(clean_database, CONSUMPTION_ROWS)} >= {dropped, doubled}
    source = sources.source
    source.consumption = [c for c in source.consumption if c["work_order_number"] != dropped]
    # A material posted twice for one order: which posting holds is unknowable, so both are refused.
    posting = next(c for c in source.consumption if c["work_order_number"] == doubled)
    source.consumption.append(dict(posting))

    result = land(resources)

    consumption = figures(result, "material_consumption")
    assert consumption["sync_status"] == "PARTIAL" and consumption["rejected"] == 1
    landed = {(r[0], r[1]) for r in rows(clean_database, CONSUMPTION_ROWS)}
    assert dropped not in {number for number, _ in landed}
    assert (doubled, posting["material_number"]) not in landed
    assert len(landed) == len(expected_consumption(source)) - 2  # the two postings of the double
    audit = rows(
        clean_database,
        """SELECT sync_status, errors::text FROM mes_schedule_sync
           WHERE entity = 'material_consumption' ORDER BY sync_id""",
    )
    assert [status for status, _ in audit] == ["SUCCESS", "PARTIAL"]
    assert f"{doubled}/{posting['material_number']}" in audit[1][1]


def test_the_mart_values_each_work_order_at_the_sums_of_its_consumption_and_variance(
    wednesday: LoadedPlant, sources: RunningSources, resources: dict[str, object], clean_database: str
) -> None:
    source = sources.source
    orders = wednesday_orders(source)
    confirmed = sorted(orders)[1]
    source.work_order(confirmed)["actual_quantity"] = orders[confirmed]["planned_quantity"] + 25  # type: ignore[index]
    assert dg.materialize([erp_materials], resources=resources).success
    land(resources)
    assert materialize_days(wednesday, WEDNESDAY, WEDNESDAY).success

    cost = {m["material_number"]: m["unit_cost"] for m in source.materials}
    consumed_cost: dict[str, float] = {}
    planned_cost: dict[str, float] = {}
    for posting in source.consumption:
        number = posting["work_order_number"]
        if number in orders:
            consumed_cost[number] = (
                consumed_cost.get(number, 0.0)
                + posting["consumed_quantity"] * cost[posting["material_number"]]
            )
            planned_cost[number] = (
                planned_cost.get(number, 0.0) + posting["planned_quantity"] * cost[posting["material_number"]]
            )
    mart = rows(
        clean_database,
        """SELECT wo_number, count(*), count(DISTINCT (wo_material_planned_cost, wo_material_consumed_cost,
                  wo_material_variance_cost, wo_yield_variance_quantity)),
                  max(wo_material_planned_cost), max(wo_material_consumed_cost),
                  max(wo_material_variance_cost), max(wo_yield_variance_quantity), max(wo_yield_variance_pct)
           FROM oee_data_mart_table WHERE wo_number = ANY(%s) GROUP BY wo_number ORDER BY wo_number""",
        (list(orders),),
    )
    # Orders planned on Wednesday that ran on Wednesday have snapshots; each carries its order's figures.
    assert len(mart) >= 4
    for number, snapshots, distinct, planned, consumed, variance, yield_variance, yield_pct in mart:
        assert snapshots > 0 and distinct == 1  # the same on every snapshot of the order
        assert planned == pytest.approx(planned_cost[number], abs=0.01)
        assert consumed == pytest.approx(consumed_cost[number], abs=0.01)
        # The ERP issued what the MES consumed: the variance is consumed - planned, valued.
        assert variance == pytest.approx(consumed_cost[number] - planned_cost[number], abs=0.01)
        if number == confirmed:
            assert (yield_variance, yield_pct) == (
                25.0,
                round(2500.0 / orders[number]["planned_quantity"], 3),
            )
        else:  # nothing confirmed in SAP yet
            assert (yield_variance, yield_pct) == (-float(orders[number]["planned_quantity"]), -100.0)
    assert confirmed in {r[0] for r in mart}
    # The view computes what the table holds.
    view = rows(
        clean_database,
        """SELECT snapshot_id, wo_material_consumed_cost::float8, wo_material_variance_cost::float8
           FROM oee_data_mart WHERE wo_number = %s ORDER BY snapshot_id""",
        (confirmed,),
    )
    table = rows(
        clean_database,
        """SELECT snapshot_id, wo_material_consumed_cost, wo_material_variance_cost
           FROM oee_data_mart_table WHERE wo_number = %s ORDER BY snapshot_id""",
        (confirmed,),
    )
    assert view == table and view


@pytest.fixture
def landed_day(resources: dict[str, object], clean_database: str) -> dict[str, object]:
    assert dg.materialize([erp_materials], resources=resources).success
    land(resources)
    return resources


def api_client(url: str, data_dir: Path) -> tuple[TestClient, dict[str, str], dict[str, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('other', 'Another plant')")
        demo_key = create_api_key(conn, "demo", "demo BI", scope="read")[1]
        other_key = create_api_key(conn, "other", "other BI", scope="read")[1]
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir)})
    app = create_app(
        settings, database_url=url, api_settings=ApiSettings(max_range_days=366, pool_max_size=2)
    )
    return TestClient(app), {"X-API-Key": demo_key}, {"X-API-Key": other_key}


def csv_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_endpoints_answer_for_the_callers_organization_only(
    landed_day: dict[str, object], sources: RunningSources, clean_database: str, tmp_path: Path
) -> None:
    client, demo, other = api_client(clean_database, tmp_path / "data")
    number = sorted(wednesday_orders(sources.source))[0]
    one_order = rows(clean_database, "SELECT id FROM work_orders WHERE wo_number = %s", (number,))[0][0]
    day = {"date_from": DAY, "date_to": DAY, "format": "csv"}
    try:
        consumption = client.get("/api/oee/export/material-consumption", params=day, headers=demo)
        assert consumption.status_code == 200, consumption.text
        exported = csv_of(consumption.text)
        assert list(exported[0]) == MATERIAL_CONSUMPTION.column_names
        assert sorted(
            (r["wo_number"], r["material_number"], float(r["consumed_quantity"])) for r in exported
        ) == sorted((e[0], e[1], e[3]) for e in expected_consumption(sources.source))
        cost = {m["material_number"]: m["unit_cost"] for m in sources.source.materials}
        for row in exported:
            assert float(row["consumed_cost"]) == pytest.approx(
                float(row["consumed_quantity"]) * cost[row["material_number"]], abs=0.01
            )

        variance = client.get("/api/oee/export/production-variance", params=day, headers=demo)
        assert variance.status_code == 200, variance.text
        assert list(csv_of(variance.text)[0]) == PRODUCTION_VARIANCE.column_names
        assert len(csv_of(variance.text)) == len(rows(clean_database, "SELECT 1 FROM production_variance"))
        # The seed's URL without `/api` answers the same.
        assert client.get("/oee/export/production-variance", params=day, headers=demo).text == variance.text

        one = client.get(
            "/api/oee/export/material-consumption", params={**day, "work_order_id": one_order}, headers=demo
        )
        assert {r["work_order_id"] for r in csv_of(one.text)} == {one_order}

        # Another organization sees none of it: an empty export, and a 404 for the order by id.
        for path in ("material-consumption", "production-variance"):
            empty = client.get(f"/api/oee/export/{path}", params={**day, "format": "json"}, headers=other)
            assert empty.status_code == 200 and empty.json() == []
            refused = client.get(
                f"/api/oee/export/{path}", params={**day, "work_order_id": one_order}, headers=other
            )
            assert refused.status_code == 404
            assert "work_order_id" in refused.text
    finally:
        client.app.state.services.close()  # type: ignore[attr-defined]


def test_the_published_files_hold_the_days_orders(
    landed_day: dict[str, object], sources: RunningSources, clean_database: str, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    chosen = [
        a
        for a in export_assets
        if a.key.to_user_string() in ("published_material_consumption", "published_production_variance")
    ]
    assert len(chosen) == 2
    result = dg.materialize(
        chosen,
        partition_key=DAY,
        resources={**landed_day, "published_files": PublishedFilesResource(root=str(published))},
    )
    assert result.success

    folder = published / "demo" / "material_consumption"
    for extension in ("csv", "parquet", "xlsx", "json"):
        assert (folder / f"material_consumption_{DAY}.{extension}").is_file()
        assert (
            published / "demo" / "production_variance" / f"production_variance_{DAY}.{extension}"
        ).is_file()
    files = csv_of((folder / f"material_consumption_{DAY}.csv").read_text(encoding="utf-8"))
    assert sorted((r["wo_number"], r["material_number"]) for r in files) == sorted(
        (e[0], e[1]) for e in expected_consumption(sources.source)
    )
    variance = csv_of(
        (published / "demo" / "production_variance" / f"production_variance_{DAY}.csv").read_text()
    )
    assert len(variance) == len(rows(clean_database, "SELECT 1 FROM production_variance"))


def test_the_daily_job_lands_both_before_the_mart_so_the_demo_fills_them() -> None:
    definitions = load_definitions()
    for job_name in ("oee_daily_job", "publish_day_job"):
        selected = {
            key.to_user_string()
            for key in definitions.resolve_job_def(job_name).asset_layer.executable_asset_keys
        }
        assert {"material_consumption", "production_variance", "oee_data_mart"} <= selected
    mart = definitions.resolve_assets_def("oee_data_mart")
    upstream = {key.to_user_string() for key in mart.asset_deps[dg.AssetKey("oee_data_mart")]}
    assert {"material_consumption", "production_variance"} <= upstream
    published = {
        key.to_user_string()
        for key in definitions.resolve_job_def("published_files_job").asset_layer.executable_asset_keys
    }
    assert {"published_material_consumption", "published_production_variance"} <= published
