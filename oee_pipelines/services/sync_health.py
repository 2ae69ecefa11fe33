"""The latest audited MES/ERP sync per organization, system and entity, for the API's `/metrics`.

Reads `mes_schedule_sync` (written by `services/mes_erp/`); see `observability/sync_health.py`.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import ConnectionPool

from oee_pipelines.observability.sync_health import SyncState, sync_health_exposition

logger = logging.getLogger(__name__)

# DISTINCT ON keeps the newest row of each (org, system, entity); the window is over all its rows.
LATEST_SYNCS_SQL = """
SELECT DISTINCT ON (org_id, mes_system, entity)
       org_id, mes_system, entity, sync_status,
       max(sync_timestamp) FILTER (WHERE sync_status IN ('SUCCESS', 'PARTIAL'))
           OVER (PARTITION BY org_id, mes_system, entity)
FROM mes_schedule_sync
ORDER BY org_id, mes_system, entity, sync_timestamp DESC, sync_id DESC
"""


def latest_syncs(conn: psycopg.Connection) -> list[SyncState]:
    return [SyncState(*row) for row in conn.execute(LATEST_SYNCS_SQL).fetchall()]


def source_sync_exposition(pool: ConnectionPool) -> bytes:
    """The sync-health gauges as Prometheus text; empty (logged) when the warehouse cannot be read,
    so the process's own metrics are still served."""
    try:
        with pool.connection() as conn:
            states = latest_syncs(conn)
    except (psycopg.Error, OSError) as error:  # the pool raises PoolTimeout (a psycopg error) too
        logger.warning("source sync health not read from the warehouse: %s", error)
        return b""
    return sync_health_exposition(states)
