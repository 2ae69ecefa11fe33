"""What the Dagster UI shows of every asset: group, owners, kinds, description, and a column schema whose
every column has a description naming its unit; and the catalog behind those schemas equals the
migrated warehouse (so it cannot drift from `sql/`), down to the comments BI tools read.

The asset tests run over whatever assets the definitions hold: a new asset is covered the day it lands.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pyarrow as pa
import pytest

from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.defs.mes.results import sync_result
from oee_pipelines.defs.owners import OWNERS_BY_GROUP, owners_of
from oee_pipelines.exports.columns import ExportTable
from oee_pipelines.exports.daily import PUBLISHED_TABLES
from oee_pipelines.services.mes_erp.sync import Landed, SyncOutcome
from oee_pipelines.storage.catalog import DATASETS, Location, apply_comments, warehouse_datasets

# information_schema's udt_name -> the catalog's PostgreSQL type name.
PG_TYPES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float8": "double precision",
    "bool": "boolean",
    "_text": "text[]",
    "_int2": "smallint[]",
}
COUNT_PREFIXES = ("rows_", "records_", "points_", "total_")


def expected_unit(name: str, kind: str) -> tuple[str, ...]:
    """The words one of which a column's description must hold, judged by its name and type: a
    column of minutes says "minutes", a percentage "percent", a piece count "pieces"..."""
    is_instant = "timestamp" in kind or kind == "time"
    if "pieces" in name:
        return ("pieces",)
    if name.endswith("_pct"):
        return ("percent",)
    if name.endswith("_minutes") or name == "minutes" or name.endswith("_downtime"):
        return ("minutes",)
    if name.endswith("_time") and not is_instant:
        return ("minutes",)
    if name.endswith(("_seconds", "_time_s")):
        return ("seconds",)
    if name.endswith("_hours"):
        return ("hours",)
    if name.endswith("_quantity"):
        return ("pieces", "unit")
    if name.endswith("_cost") or name == "hourly_rate":
        return ("currency",)
    if name.endswith("_count") or name in ("count", "occurrences") or name.startswith(COUNT_PREFIXES):
        return ("number of",)
    if is_instant and kind != "time":
        return ("UTC",)
    return ()


def test_expected_unit_reads_the_name_and_type() -> None:
    assert expected_unit("planned_production_time", "numeric") == ("minutes",)
    assert expected_unit("start_time", "time") == ()  # a local time of day, not a duration
    assert expected_unit("start_time", "timestamptz") == ("UTC",)
    assert expected_unit("shift_start", "timestamp[us, tz=UTC]") == ("UTC",)
    assert expected_unit("good_pieces", "integer") == ("pieces",)
    assert expected_unit("oee_pct", "double") == ("percent",)
    assert expected_unit("ideal_cycle_time_s", "numeric") == ("seconds",)
    assert expected_unit("reading_count", "integer") == ("number of",)
    assert expected_unit("machine_id", "text") == ()


@pytest.fixture(scope="module")
def asset_graph() -> Any:
    return load_definitions().resolve_asset_graph()


def _assets(asset_graph: Any) -> list[tuple[str, Any]]:
    keys = sorted(asset_graph.get_all_asset_keys(), key=lambda key: key.to_user_string())
    return [(key.to_user_string(), asset_graph.get(key)) for key in keys]


def test_every_asset_has_a_group_owners_kinds_and_a_description(asset_graph: Any) -> None:
    assets = _assets(asset_graph)
    assert len(assets) >= 40
    problems = []
    for name, node in assets:
        group = node.group_name
        if group == "default" or group not in OWNERS_BY_GROUP:
            problems.append(f"{name}: group {group!r} has no owner in defs/owners.py")
        elif list(node.owners) != owners_of(group):
            problems.append(f"{name}: owners {node.owners} are not its group's {owners_of(group)}")
        if not node.kinds:
            problems.append(f"{name}: no kinds")
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
    assert not problems, "\n".join(problems)


def test_every_column_of_every_asset_is_described_with_its_unit(asset_graph: Any) -> None:
    problems = []
    columns_seen = 0
    for name, node in _assets(asset_graph):
        schema = node.metadata.get("dagster/column_schema")
        if not isinstance(schema, dg.TableSchema) or not schema.columns:
            problems.append(f"{name}: no definition-time dagster/column_schema")
            continue
        for column in schema.columns:
            columns_seen += 1
            text = (column.description or "").strip()
            if not text:
                problems.append(f"{name}.{column.name}: no description")
                continue
            units = expected_unit(column.name, column.type)
            if units and not any(unit.lower() in text.lower() for unit in units):
                problems.append(f"{name}.{column.name}: {text!r} names none of {units}")
    assert not problems, "\n".join(problems)
    assert columns_seen > 400


def test_asset_schemas_come_from_the_catalog(asset_graph: Any) -> None:
    """The OEE tables show the warehouse table's columns; published files their exported columns."""
    snapshots = asset_graph.get(dg.AssetKey("oee_snapshots")).metadata["dagster/column_schema"]
    catalog = DATASETS["oee_snapshots"]
    assert [c.name for c in snapshots.columns] == catalog.column_names
    assert snapshots.columns[catalog.column_names.index("scheduled_time")].description.endswith("minutes")

    for published in PUBLISHED_TABLES:
        table: ExportTable = published.table
        schema = asset_graph.get(dg.AssetKey(f"published_{published.name}")).metadata["dagster/column_schema"]
        assert [(c.name, c.description) for c in schema.columns] == [
            (c.name, c.description) for c in table.columns
        ]


SYNCED_ASSETS = [
    "recipes",
    "work_orders",
    "mes_production_schedules",
    "mes_order_status_pushback",
    "erp_materials",
    "labor_costs",
    "material_consumption",
    "production_variance",
]


@pytest.mark.parametrize("asset", SYNCED_ASSETS)
def test_a_synced_tables_materialization_repeats_its_definition_schema(asset_graph: Any, asset: str) -> None:
    """One way to say what a column holds: the materialization's column schema is the definition's."""
    definition = asset_graph.get(dg.AssetKey(asset)).metadata["dagster/column_schema"]
    landed = Landed(SyncOutcome(entity=asset), pa.table({"id": ["x"]}))
    materialized = sync_result(asset, landed, with_check=False).metadata
    assert materialized is not None
    assert materialized["dagster/column_schema"] == definition


def test_every_dataset_of_the_catalog_is_described() -> None:
    problems = [
        f"{entry.name}.{column.name}: {column.description!r}"
        for entry in DATASETS.values()
        for column in entry.columns
        if not column.description.strip()
        or (
            expected_unit(column.name, column.type)
            and not any(
                unit.lower() in column.description.lower() for unit in expected_unit(column.name, column.type)
            )
        )
    ]
    assert not problems, "\n".join(problems)
    assert all(entry.description for entry in DATASETS.values())


def _warehouse_columns(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[str, str]]]:
    rows = conn.execute(
        """SELECT table_name, column_name, udt_name FROM information_schema.columns
           WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"""
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, udt in rows:
        tables.setdefault(table, []).append((column, PG_TYPES.get(udt, udt)))
    return tables


def test_the_catalog_equals_the_migrated_warehouse(database_url: str) -> None:
    """Each catalogued table has exactly the warehouse's columns, in order, of the same types (views:
    the same columns); and every table and view of the warehouse is catalogued."""
    with psycopg.connect(database_url) as conn:
        real = _warehouse_columns(conn)
    real.pop("schema_migrations")
    catalogued = {entry.name: entry for entry in warehouse_datasets()}
    assert sorted(real) == sorted(catalogued), "tables missing from the catalog, or not in the warehouse"
    problems = []
    for name, entry in catalogued.items():
        ours = [(column.name, column.type) for column in entry.columns]
        theirs = real[name]
        if entry.location is Location.VIEW:
            ours, theirs = [(n, "") for n, _ in ours], [(n, "") for n, _ in theirs]
        if ours != theirs:
            missing = [column for column in theirs if column not in ours]
            extra = [column for column in ours if column not in theirs]
            problems.append(f"{name}: not in the catalog {missing}; not in the warehouse {extra}")
    assert not problems, "\n".join(problems)


def _comment(conn: psycopg.Connection[Any], table: str, column: str | None = None) -> str | None:
    if column is None:
        row = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (table,)).fetchone()
    else:
        row = conn.execute(
            "SELECT col_description(attrelid, attnum) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = %s",
            (table, column),
        ).fetchone()
    assert row is not None, f"{table}.{column} is not in the warehouse"
    return row[0]


def test_migrate_writes_the_descriptions_as_column_comments(database_url: str) -> None:
    """BI tools read the same descriptions from PostgreSQL; a changed comment is put back."""
    expected = DATASETS["oee_snapshots"].column("planned_production_time").description
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert _comment(conn, "oee_snapshots", "planned_production_time") == expected
        mart_pct = DATASETS["oee_data_mart"].column("oee_pct").description
        assert _comment(conn, "oee_data_mart", "oee_pct") == mart_pct
        assert _comment(conn, "shift_reports") == DATASETS["shift_reports"].description

        conn.execute("COMMENT ON COLUMN oee_snapshots.planned_production_time IS 'stale'")
        assert apply_comments(conn) == 1
        assert _comment(conn, "oee_snapshots", "planned_production_time") == expected
        assert apply_comments(conn) == 0
