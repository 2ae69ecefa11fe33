"""The one writer of `production_schedules`: the MES sync and the schedule import both land here.

Rows are upserted on their natural key (`org_id`, `external_id`), so a re-sync of the same MES
schedule, or an import of new planned runs, never duplicates; `source_system` says where each row
came from (the MES's `system_type`, or `import`).
"""

from __future__ import annotations

import psycopg
import pyarrow as pa

from oee_pipelines.storage.bulk_load import UpsertCounts, upsert_arrow

PRODUCTION_SCHEDULES = "production_schedules"
SCHEDULE_KEY = ["org_id", "external_id"]


def land_production_schedules(conn: psycopg.Connection, rows: pa.Table) -> UpsertCounts:
    """Upsert schedule rows (`production_schedules` columns) inside the caller's transaction (staged
    as binary COPY)."""
    return upsert_arrow(conn, PRODUCTION_SCHEDULES, rows, SCHEDULE_KEY)
