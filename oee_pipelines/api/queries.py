"""Ownership checks behind the API's id parameters (the export SQL is in `oee_pipelines.exports.queries`)."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from oee_pipelines.api.errors import ApiError

_OWNED_TABLES = {
    "machine_id": "machines",
    "line_id": "production_lines",
    "shift_id": "shifts",
    "work_order_id": "work_orders",
}


def owned_by(conn: Any, parameter: str, value: str, org_id: str) -> bool:
    """Whether the machine / line / shift / work order `value` exists in the caller's organization."""
    statement = sql.SQL("SELECT 1 FROM {} WHERE id = %s AND org_id = %s").format(
        sql.Identifier(_OWNED_TABLES[parameter])
    )
    return conn.execute(statement, (value, org_id)).fetchone() is not None


def require_owned(pool: ConnectionPool, org_id: str, **ids: str | None) -> None:
    """404 naming the parameter for an id that is unknown or another organization's (never told apart)."""
    given = {parameter: value for parameter, value in ids.items() if value is not None}
    if not given:
        return
    with pool.connection() as conn:
        for parameter, value in given.items():
            if not owned_by(conn, parameter, value, org_id):
                noun = parameter.removesuffix("_id")
                raise ApiError(404, parameter, f"no {noun} {value!r} in your organization")
