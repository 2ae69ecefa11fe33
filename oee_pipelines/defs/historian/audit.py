"""The `historian_backfill_jobs` audit rows a run keeps: one per historian system, updated day by day.

A run started by the API takes over the PENDING row the API created (its id is a run tag); any other
run (UI, CLI, demo) inserts its own row. A retry of the same run finds its row again by run id, so the
counts add up over attempts instead of starting another row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from oee_pipelines.resources.warehouse import WarehouseResource


def open_job_row(
    warehouse: WarehouseResource,
    *,
    job_id: int | None,
    org_id: str,
    system: str,
    tags: Sequence[str],
    start: datetime,
    end: datetime,
    run_id: str,
) -> int:
    """The row this run reports into, set RUNNING; returns its job_id."""
    with warehouse.connect() as conn:
        if job_id is None:
            found = conn.execute(
                """SELECT job_id FROM historian_backfill_jobs
                   WHERE dagster_run_id = %s AND historian_system = %s""",
                (run_id, system),
            ).fetchone()
            job_id = int(found[0]) if found else None
        if job_id is None:
            row = conn.execute(
                """INSERT INTO historian_backfill_jobs
                       (org_id, historian_system, tags, start_time, end_time, job_status, dagster_run_id)
                   VALUES (%s, %s, %s, %s, %s, 'RUNNING', %s) RETURNING job_id""",
                (org_id, system, list(tags), start, end, run_id),
            ).fetchone()
            assert row is not None
            return int(row[0])
        conn.execute(
            """UPDATE historian_backfill_jobs
               SET job_status = 'RUNNING', dagster_run_id = %s, tags = %s, error_message = NULL,
                   completed_at = NULL
               WHERE job_id = %s""",
            (run_id, list(tags), job_id),
        )
        return job_id


def add_progress(
    warehouse: WarehouseResource, job_id: int, fetched: int, imported: int, unmapped: Sequence[str]
) -> None:
    """Add one day's counts, so the API shows progress while the run goes on."""
    with warehouse.connect() as conn:
        conn.execute(
            """UPDATE historian_backfill_jobs
               SET points_fetched = points_fetched + %s, points_imported = points_imported + %s,
                   unmapped_tags = ARRAY(SELECT DISTINCT unnest(unmapped_tags || %s::text[]) ORDER BY 1)
               WHERE job_id = %s""",
            (fetched, imported, list(unmapped), job_id),
        )


def close_job_row(warehouse: WarehouseResource, job_id: int, error: str | None) -> None:
    with warehouse.connect() as conn:
        conn.execute(
            """UPDATE historian_backfill_jobs
               SET job_status = %s, error_message = %s, completed_at = now()
               WHERE job_id = %s""",
            ("FAILED" if error else "COMPLETED", error, job_id),
        )
