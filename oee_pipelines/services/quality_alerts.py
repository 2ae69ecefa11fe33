"""The one writer of `data_quality_alerts`.

Each stage that finds problems (the telemetry quality rules, the historian's unmapped state names)
hands its findings for one day here; the day's alerts of those types, optionally narrowed to a scope
(one historian system and its tags), are replaced in one transaction, so a re-run never adds rows.

The telemetry rules hand one row per sensor, rule and hour (`domain.alerts.group_hourly`) with its
`reading_count` and first / last offending reading; rows of other stages count 1 reading.
`day_alerts` reads the rows back for the checks that report them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
from psycopg import Connection, sql

from oee_pipelines.domain.alerts import ALERT_COLUMNS, FLOAT_COLUMNS, TIME_COLUMNS
from oee_pipelines.domain.intervals import to_utc_datetimes
from oee_pipelines.storage import bulk_load

TABLE = "data_quality_alerts"


def replace_day_alerts(
    conn: Connection,
    alerts: pd.DataFrame,
    day: date,
    alert_types: Sequence[str],
    *,
    scope: sql.Composable | None = None,
    scope_params: Sequence[Any] = (),
) -> int:
    """Make the day's alerts of `alert_types` (within `scope`, an extra SQL condition) exactly `alerts`."""
    frame = alerts.reindex(columns=ALERT_COLUMNS).assign(partition_date=day)
    frame["severity"] = frame["severity"].fillna("WARNING")
    frame["details"] = [json.dumps(value or {}, default=str) for value in frame["details"]]
    for column in TIME_COLUMNS:
        frame[column] = to_utc_datetimes(frame[column])
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["reading_count"] = pd.to_numeric(frame["reading_count"]).fillna(1).astype("int32")
    where: sql.Composable = sql.SQL("partition_date = %s AND alert_type = ANY(%s)")
    params: list[Any] = [day, list(alert_types)]
    if scope is not None:
        where = where + sql.SQL(" AND ") + scope
        params.extend(scope_params)
    bulk_load.replace_rows(conn, TABLE, pa.Table.from_pandas(frame, preserve_index=False), where, params)
    return len(frame)


def day_alerts(conn: Connection, days: Sequence[date], alert_types: Sequence[str]) -> pd.DataFrame:
    """The alerts of `alert_types` on `days` (partition dates), in the `ALERT_COLUMNS` shape."""
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in ALERT_COLUMNS)
    query = sql.SQL(
        "SELECT {} FROM {} WHERE partition_date = ANY(%s) AND alert_type = ANY(%s) "
        "ORDER BY alert_type, machine_id, metric_name, timestamp_utc"
    ).format(columns, sql.Identifier(TABLE))
    with conn.cursor() as cursor:
        rows = cursor.execute(query, (list(days), list(alert_types))).fetchall()
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    for column in TIME_COLUMNS:
        frame[column] = to_utc_datetimes(frame[column])
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["reading_count"] = frame["reading_count"].astype("int64")
    return frame
