"""`historian_backfill_jobs`: the audit rows of historian backfills. This module is their only writer.

A backfill started through the API gets a PENDING row before its Dagster backfill is launched
(`start_backfill`); the run takes that row over (its id travels as a run tag). Any other run (UI, CLI,
demo) inserts its own row, one per historian system. A retry of the same run finds its row again by
run id, so the counts add up over attempts instead of starting another row. The run adds each day's
counts as it goes (progress while it runs) and closes the row COMPLETED or FAILED.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from oee_pipelines.domain.days import day_bounds
from oee_pipelines.services.historian.run_tags import BackfillRequest

# A connection factory: `WarehouseResource.connect`, a psycopg pool's `connection`, ...
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]

STATUS_COLUMNS = (
    "job_id, historian_system, tags, machine_id, start_time, end_time, job_status, points_fetched, "
    "points_imported, unmapped_tags, error_message, created_at, completed_at, dagster_backfill_id, "
    "dagster_run_id"
)


@dataclass(frozen=True)
class StartedBackfill:
    job_id: int
    dagster_backfill_id: str
    request: BackfillRequest


class BackfillJobs:
    """Reads and writes `historian_backfill_jobs` through `connect`."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    # The API: a PENDING row, then the Dagster backfill that runs it.
    def start_backfill(
        self, request: BackfillRequest, first: date, last: date, launch: Callable[[BackfillRequest], str]
    ) -> StartedBackfill:
        """A PENDING row for `request` over the UTC days first..last, then `launch(request with its job
        id)` (returns the Dagster backfill id). A launch that raises marks the row FAILED and re-raises."""
        if request.system is None or request.org_id is None:
            raise ValueError("a backfill started through the API names its system and organization")
        job_id = self._insert_pending(request, first, last)
        request = BackfillRequest(request.system, request.tags, request.machine_id, request.org_id, job_id)
        try:
            backfill_id = launch(request)
        except Exception as exc:
            self._update(job_id, job_status="FAILED", error_message=str(exc))
            raise
        self._update(job_id, dagster_backfill_id=backfill_id)
        return StartedBackfill(job_id, backfill_id, request)

    def status_row(self, org_id: str, job_id: int) -> dict[str, Any] | None:
        """The row of `job_id` if it belongs to `org_id`."""
        with self._connect() as conn:
            cursor = conn.execute(
                f"SELECT {STATUS_COLUMNS} FROM historian_backfill_jobs WHERE job_id = %s AND org_id = %s",
                (job_id, org_id),
            )
            row = cursor.fetchone()
            columns = [column.name for column in cursor.description or []]
        return dict(zip(columns, row, strict=True)) if row else None

    # The run.
    def open_run(
        self,
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
        with self._connect() as conn:
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

    def add_progress(self, job_id: int, fetched: int, imported: int, unmapped: Sequence[str]) -> None:
        """Add one day's counts, so the API shows progress while the run goes on."""
        with self._connect() as conn:
            conn.execute(
                """UPDATE historian_backfill_jobs
                   SET points_fetched = points_fetched + %s, points_imported = points_imported + %s,
                       unmapped_tags = ARRAY(SELECT DISTINCT unnest(unmapped_tags || %s::text[]) ORDER BY 1)
                   WHERE job_id = %s""",
                (fetched, imported, list(unmapped), job_id),
            )

    def close(self, job_id: int, error: str | None) -> None:
        with self._connect() as conn:
            conn.execute(
                """UPDATE historian_backfill_jobs
                   SET job_status = %s, error_message = %s, completed_at = now()
                   WHERE job_id = %s""",
                ("FAILED" if error else "COMPLETED", error, job_id),
            )

    # Internals.
    def _insert_pending(self, request: BackfillRequest, first: date, last: date) -> int:
        start, end = day_bounds(first)[0], day_bounds(last)[0] + timedelta(days=1)
        with self._connect() as conn:
            row = conn.execute(
                """INSERT INTO historian_backfill_jobs
                       (org_id, historian_system, tags, machine_id, start_time, end_time, job_status)
                   VALUES (%s, %s, %s, %s, %s, %s, 'PENDING') RETURNING job_id""",
                (request.org_id, request.system, list(request.tags), request.machine_id, start, end),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def _update(self, job_id: int, **values: Any) -> None:
        assignments = ", ".join(f"{column} = %s" for column in values)
        with self._connect() as conn:
            conn.execute(
                f"UPDATE historian_backfill_jobs SET {assignments} WHERE job_id = %s",
                (*values.values(), job_id),
            )
