"""A ranged backfill fans out over two Celery workers (issue 16, item 3).

Real parts only (`support/celery_workers.py`): a `redis-server` broker on a free port, two
`dagster-celery worker` processes (one task at a time each, distinct names), the webserver (the
backfills are launched through GraphQL, as the UI and the API launch them) and `dagster-daemon` with
the queued run coordinator, against the embedded PostgreSQL and the simulated PI and AVEVA servers.
One 7-day backfill of the historian and the OEE chain together, as a user selects them in the asset
graph, with `OEE_BACKFILL_DAYS_PER_RUN=4`: two runs (4 + 3 days), each holding the historian's step
and the chain's, whose steps go to the broker (`OEE_EXECUTOR=celery`). Then:

- both workers ran steps (the worker name in each step's "Executing steps ... in celery worker"
  engine event), and every step of the two runs ran on one of them;
- an in-process run of the same days and assets, into a second lake, leaves the warehouse's OEE
  tables row for row as the distributed backfills left them, and writes the same lake files.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.defs.oee.jobs import OEE_CHAIN
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines_tests.support.celery_workers import (
    backfill_run_ids,
    celery_deployment,
    historian_sections,
    seed_plant,
    steps_per_worker,
)
from oee_pipelines_tests.support.historian import running_historians
from oee_pipelines_tests.support.plant_days import OEE_ASSETS, demo_plant, resources_for
from oee_pipelines_tests.support.processes import log_tails
from oee_pipelines_tests.support.webserver import write_connector_config

pytestmark = [
    pytest.mark.slow,
    # The backfill takes at least two of the backfill daemon's fixed 30-s iterations.
    pytest.mark.timeout(720),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (make system-deps)"),
]

FIRST, LAST = date(2025, 1, 13), date(2025, 1, 19)
DAYS_PER_RUN = 4  # 7 days -> two runs per backfill, side by side
WORKERS = ("worker-a", "worker-b")
BACKFILL_SECONDS = 420  # one backfill of 7 days, historian and chain, on a loaded 2-core machine
RANGE_TAGS = {
    "dagster/asset_partition_range_start": FIRST.isoformat(),
    "dagster/asset_partition_range_end": LAST.isoformat(),
}
# Written per run: who and when, and serial ids (`snapshot_id` is the snapshot row's). Everything else
# must match row for row.
RUN_COLUMNS = {
    # The runs that landed a snapshot's readings (its lineage) differ between the two runs by design.
    *("id", "snapshot_id", "run_id", "dagster_run_id", "ingest_run_id", "ingest_runs"),
    *("created_at", "updated_at", "computed_at", "refreshed_at"),
    # The data mart's lake copy keeps each row's COPY text length, which follows the per-run ids' digits.
    "_copy_row_bytes",
}
# The mart's lake copy names each refresh's files with a random version: compared by day and org.
MART_COPY_VERSION = re.compile(r"-[0-9a-f]{12}(?=\.parquet$)")
COMPARED_TABLES = (
    "oee_snapshots",
    "oee_downtime_events",
    "shift_reports",
    "oee_data_mart_table",
    "data_quality_alerts",
)


def table_rows(database_url: str, table: str) -> list[tuple[Any, ...]]:
    """The table's rows without its per-run columns, sorted, as plain tuples."""
    with WarehouseResource(database_url=database_url).connect() as conn:
        names = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        columns = [name for (name,) in names if name not in RUN_COLUMNS]
        assert columns, f"no table {table}"
        select = ", ".join(f'"{column}"' for column in columns)
        rows = conn.execute(f"SELECT {select} FROM {table}").fetchall()  # names from the catalog
    return sorted((tuple(row) for row in rows), key=repr)


def lake_files(root: Path) -> dict[str, pa.Table]:
    """Every parquet file under the lake root: its rows without per-run columns, sorted."""
    files = {}
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        table = table.select([name for name in table.column_names if name not in RUN_COLUMNS])
        for index, field in enumerate(table.schema):  # dictionary-encoded strings as plain ones
            if pa.types.is_dictionary(field.type):
                column = table.column(index).cast(field.type.value_type)
                table = table.set_column(index, field.name, column)
        files[MART_COPY_VERSION.sub("", str(path.relative_to(root)))] = table.sort_by(
            [(name, "ascending") for name in table.column_names]
        )
    return files


def test_a_week_backfill_runs_its_steps_on_both_celery_workers_and_matches_an_in_process_run(
    clean_database: str, tmp_path: Path
) -> None:
    distributed_lake, in_process_lake = tmp_path / "lake", tmp_path / "lake-in-process"
    seed_plant(clean_database, str(distributed_lake), FIRST, LAST)
    with running_historians(demo_plant()) as historians:
        env = {
            "OEE_CONFIG_FILE": str(
                write_connector_config(tmp_path / "c.yml", historian_sections(historians))
            ),
            "OEE_DATABASE_URL": clean_database,
            "OEE_DATA_DIR": str(tmp_path / "data"),
            "OEE_LAKE_ROOT": str(distributed_lake),
        }
        with celery_deployment(tmp_path, env, WORKERS, DAYS_PER_RUN) as deployment:
            backfill_ids = [
                deployment.backfill(["historian_points", *OEE_CHAIN], FIRST, LAST, BACKFILL_SECONDS)
            ]
        with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
            run_statuses = backfill_run_ids(instance, backfill_ids)
            per_worker, started = steps_per_worker(instance, list(run_statuses))
        print(
            f"\nsteps per Celery worker: {dict(per_worker)} ({len(run_statuses)} runs, {len(started)} steps)"
        )
        assert set(run_statuses.values()) == {dg.DagsterRunStatus.SUCCESS}, log_tails(deployment.logs)
        assert len(run_statuses) == 2  # 4 + 3 days, the historian and the chain in the same runs
        assert set(per_worker) == set(WORKERS), per_worker  # both workers ran steps
        assert sum(per_worker.values()) == len(started)  # and every step ran on one of them
        distributed = {table: table_rows(clean_database, table) for table in COMPARED_TABLES}
        assert distributed["oee_snapshots"] and distributed["shift_reports"]

        resources = {
            **resources_for(clean_database, str(in_process_lake)),
            "historian": historians.resource(),
        }
        in_process = dg.materialize([historian_points, *OEE_ASSETS], resources=resources, tags=RANGE_TAGS)
        assert in_process.success
        materialized = {event.asset_key for event in in_process.get_asset_materialization_events()}
        assert materialized >= {key for assets in OEE_ASSETS for key in assets.keys}  # none skipped
    for table in COMPARED_TABLES:
        assert table_rows(clean_database, table) == distributed[table], table
    distributed_files, in_process_files = lake_files(distributed_lake), lake_files(in_process_lake)
    assert len(distributed_files) >= 2 * 7  # the historian's days and the enriched days at least
    assert distributed_files.keys() == in_process_files.keys()
    for path, table in distributed_files.items():
        assert table.num_rows and table.equals(in_process_files[path]), path
