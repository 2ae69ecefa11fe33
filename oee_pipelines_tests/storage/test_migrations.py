from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from oee_pipelines.storage.migrations import SQL_DIR, NoMigrationsError, discover, migrate

REPO_SQL = Path(__file__).resolve().parents[2] / "sql"


def test_migrations_are_ordered_and_named() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].path.parent == SQL_DIR


def test_the_packaged_migrations_are_the_top_level_sql_folder() -> None:
    """oee_pipelines/storage/sql is a link to sql/: a new migration there ships without another step."""
    assert SQL_DIR.resolve() == REPO_SQL.resolve()
    assert [m.path.name for m in discover()] == sorted(p.name for p in REPO_SQL.glob("*.sql"))


def test_no_migrations_is_an_error_not_up_to_date(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(NoMigrationsError, match="no migrations found in"):
        migrate(database_url, tmp_path)


def test_rerun_is_a_noop(database_url: str) -> None:
    result = migrate(database_url)
    assert result.applied == [] and result.reapplied == []
    assert result.skipped == [m.path.name for m in discover()]


def test_schema_has_the_tables_the_seeds_name(database_url: str) -> None:
    expected = {
        "organizations", "sites", "production_lines", "machines", "shifts", "operator_shifts", "products",
        "recipes", "work_orders", "production_schedules", "materials", "labor_costs", "oee_downtime_events",
        "sensor_range_config", "data_quality_alerts", "iot_sensors", "historian_tag_mappings",
        "mes_schedule_sync", "recipe_downloads", "historian_backfill_jobs", "import_jobs", "oee_snapshots",
        "shift_reports", "api_keys",
    }  # fmt: skip
    with psycopg.connect(database_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname='public'")}
    assert expected <= tables
    assert "oee_data_mart" in views


def test_changed_migration_is_reapplied(database_url: str, tmp_path) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "900_probe.sql").write_text("CREATE TABLE IF NOT EXISTS migration_probe (id int);")
    assert migrate(database_url, sql_dir).applied == ["900_probe.sql"]
    (sql_dir / "900_probe.sql").write_text(
        "CREATE TABLE IF NOT EXISTS migration_probe (id int);\n"
        "ALTER TABLE migration_probe ADD COLUMN IF NOT EXISTS x int;"
    )
    assert migrate(database_url, sql_dir).reapplied == ["900_probe.sql"]
    with psycopg.connect(database_url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name='migration_probe'"
            )
        }
        conn.execute("DROP TABLE migration_probe")
        conn.execute("DELETE FROM schema_migrations WHERE version = '900'")
        conn.commit()
    assert columns == {"id", "x"}
