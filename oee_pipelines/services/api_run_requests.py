"""`api_run_requests`: Dagster runs requested through the API. This module is the table's only writer.

The API commits a row (`enqueue`) and answers 202 with its id at once: no round trip to the Dagster
webserver per request. The `api_run_requests_sensor` reads the rows without a run (`pending`), asks
Dagster for one run each (run key and `oee/request_id` tag = the row's id, so a repeated tick never
starts a second run), and on a later tick records the run it finds under that tag (`record_runs`).
The row is the durable record: an API process killed right after its 202 loses nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

# A connection factory: `WarehouseResource.connect`, a psycopg pool's `connection`, ...
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]

REQUEST_TAG = "oee/request_id"
# One tick takes at most this many requests; the rest wait for the next tick (seconds later).
MAX_REQUESTS_PER_TICK = 200


@dataclass(frozen=True)
class RunRequestRow:
    request_id: str
    org_id: str
    job_name: str
    run_config: dict[str, Any]
    tags: dict[str, str]
    requested_at: datetime
    run_id: str | None


class ApiRunRequests:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def enqueue(
        self,
        org_id: str,
        job_name: str,
        run_config: Mapping[str, Any],
        tags: Mapping[str, str],
        requested_by: str,
        owned: Mapping[str, str] | None = None,
    ) -> str | None:
        """Commit a request; returns its id (a UUID string) once the row is durable.

        `owned` ({table: id}, e.g. {"production_lines": "LINE-001"}): record the request only if each
        of these rows exists in `org_id`; None (nothing written) when one does not. The check is part
        of the INSERT, so a launch costs the API one statement and one round trip to the warehouse."""
        request_id = str(uuid.uuid4())
        conditions = [
            sql.SQL("EXISTS (SELECT 1 FROM {} WHERE id = %s AND org_id = %s)").format(sql.Identifier(table))
            for table in (owned or {})
        ]
        statement = sql.SQL(
            """INSERT INTO api_run_requests (id, org_id, job_name, run_config, tags, requested_by)
               SELECT %s, %s, %s, %s, %s, %s WHERE {} RETURNING id"""
        ).format(sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true"))
        owned_params = [value for row_id in (owned or {}).values() for value in (row_id, org_id)]
        with self._connect() as conn:
            inserted = conn.execute(
                statement,
                (
                    request_id,
                    org_id,
                    job_name,
                    Jsonb(dict(run_config)),
                    Jsonb(dict(tags)),
                    requested_by,
                    *owned_params,
                ),
            ).fetchone()
            conn.commit()
        return request_id if inserted else None

    def pending(self, limit: int = MAX_REQUESTS_PER_TICK) -> list[RunRequestRow]:
        """The oldest requests with no run recorded yet, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_run_requests WHERE run_id IS NULL ORDER BY seq LIMIT %s",
                (limit,),
            ).fetchall()
        return [_row(row) for row in rows]

    def record_runs(self, run_ids: Mapping[str, str]) -> None:
        """Record the Dagster run started for each request id (requests already recorded keep theirs)."""
        if not run_ids:
            return
        with self._connect() as conn:
            conn.execute(
                """UPDATE api_run_requests AS r SET run_id = v.run_id, submitted_at = now()
                   FROM jsonb_each_text(%s) AS v(id, run_id)
                   WHERE r.id = v.id::uuid AND r.run_id IS NULL""",
                (Jsonb(dict(run_ids)),),
            )
            conn.commit()

    def request(self, org_id: str, request_id: str) -> RunRequestRow | None:
        """The caller's organization's request with this id, or None (also for an id that is no UUID)."""
        try:
            uuid.UUID(request_id)
        except ValueError:
            return None
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM api_run_requests WHERE id = %s AND org_id = %s",
                (request_id, org_id),
            ).fetchone()
        return _row(row) if row else None


_COLUMNS = "id::text, org_id, job_name, run_config, tags, requested_at, run_id"


def _row(row: tuple[Any, ...]) -> RunRequestRow:
    request_id, org_id, job_name, run_config, tags, requested_at, run_id = row
    if isinstance(run_config, str):  # a connection without psycopg's JSON loader
        run_config, tags = json.loads(run_config), json.loads(tags)
    return RunRequestRow(request_id, org_id, job_name, run_config, dict(tags), requested_at, run_id)
