"""The demo's Dagster instance keeps its PostgreSQL connections between event writes (issue 19 item 7).

Dagster's PostgreSQL storage otherwise opens a connection for each event it writes: a ranged run of
a few partitions opened dozens of them, a quarter of Dagster's own time in the demo's runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import dagster as dg
import psycopg
import pytest

from oee_pipelines.cli.dagster_home import (
    DAGSTER_STORAGE_VARIABLE,
    DAGSTER_YAML_TEMPLATE,
    QUIET_LOGS,
    ensure_dagster_database,
)
from oee_pipelines.cli.demo import keep_storage_connections

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2025-01-01",
    "dagster/asset_partition_range_end": "2025-01-05",
}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def readings() -> None:
    return None


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[readings])
def summary() -> None:
    return None


RANGED_JOB = dg.Definitions(
    assets=[readings, summary],
    jobs=[dg.define_asset_job("ranged_job", selection=[readings, summary])],
).resolve_job_def("ranged_job")


@pytest.fixture
def instance(database_url: str, scratch_database_name: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """The project's dagster.yaml on a database of its own on the test server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML_TEMPLATE, home / "dagster.yaml")
    storage_url = ensure_dagster_database(database_url, scratch_database_name)
    environment = {"DAGSTER_HOME": str(home), DAGSTER_STORAGE_VARIABLE: storage_url}
    with patch.dict(os.environ, environment), dg.DagsterInstance.get() as created:
        yield created


def sessions_opened_by(database_url: str, database: str, action: object) -> int:
    """How many PostgreSQL sessions were opened on `database` while `action()` ran."""

    def sessions() -> int:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)
            ).fetchone()
            return int(row[0]) if row else 0

    before = sessions()
    action()  # type: ignore[operator]
    return sessions() - before


def test_a_ranged_run_writes_its_events_over_a_few_connections(
    database_url: str, scratch_database_name: str, instance: dg.DagsterInstance
) -> None:
    def ranged_run() -> None:
        result = RANGED_JOB.execute_in_process(instance=instance, tags=RANGE_TAGS, run_config=QUIET_LOGS)
        assert result.success

    ranged_run()  # the storage's first use (tables, caches) is not what is counted
    unpooled = sessions_opened_by(database_url, scratch_database_name, ranged_run)
    keep_storage_connections(instance)
    pooled = sessions_opened_by(database_url, scratch_database_name, ranged_run)

    # 2 assets x 5 days: each planned or materialized partition's event opened a connection (and its
    # index update another) without the pool, 87 sessions measured; with the pool, 12.
    assert unpooled >= 40
    assert pooled * 4 <= unpooled
