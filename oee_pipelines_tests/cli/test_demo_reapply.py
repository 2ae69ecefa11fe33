"""`oee demo` onboards the simulated plant through its plant model file; re-applying that file and
re-running the demo leaves every data table's row count unchanged (only the audit trails grow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

# Two demo runs (the simulator's servers on their fixed ports 8701-8706, one demo at a time).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(4800), pytest.mark.usefixtures("simulated_plant_ports")]
OEE = str(Path(sys.executable).parent / "oee")

# Audit trails gain one row per run by design (README); everything else must not change.
AUDIT_TABLES = {
    "schema_migrations",
    "import_jobs",
    "mes_schedule_sync",
    "recipe_downloads",
    "historian_backfill_jobs",
    "mes_order_status_pushes",
}


def run_oee(env: dict[str, str], *args: str) -> str:
    """`oee ARGS` as the user runs it: a process of its own; its standard output."""
    done = subprocess.run([OEE, *args], env=env, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, f"oee {' '.join(args)} -> {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout


def table_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            ).fetchall()
            if row[0] not in AUDIT_TABLES
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def test_reapplying_the_plant_model_and_rerunning_the_demo_changes_no_table(
    clean_database: str, tmp_path: Path
) -> None:
    unset = ("OEE_CONFIG_FILE", "OEE_CONFIG_DIR", "OEE_LAKE_ROOT", "OEE_IMPORT_INBOX", "OEE_PLANT_FILE")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env |= {
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }

    first_output = run_oee(env, "demo", "--days", "1")
    assert "applied plant model" in first_output
    plant_model = tmp_path / "data" / "onboarding" / "plant_model.yaml"
    assert plant_model.is_file()
    first = table_counts(clean_database)
    assert first["machines"] == 16 and first["oee_snapshots"] == 16 * 96

    run_oee(env, "plant", "apply", str(plant_model))
    assert table_counts(clean_database) == first
    second_output = run_oee(env, "demo", "--days", "1")
    assert "applied plant model" in second_output and ": 0 rows changed" in second_output
    assert table_counts(clean_database) == first
