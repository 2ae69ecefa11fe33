"""The one writer of `data_quality_alerts`.

Each stage that finds problems (the telemetry quality rules, the historian's unmapped state names)
hands its findings for one day here; the day's alerts of those types, optionally narrowed to a scope
(one historian system and its tags), are replaced in one transaction, so a re-run never adds rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
from psycopg import Connection, sql

from oee_pipelines.domain.alerts import ALERT_COLUMNS
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
    frame["timestamp_utc"] = pd.to_datetime(frame["timestamp_utc"], utc=True)
    for column in ("metric_value", "expected_min", "expected_max"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    where: sql.Composable = sql.SQL("partition_date = %s AND alert_type = ANY(%s)")
    params: list[Any] = [day, list(alert_types)]
    if scope is not None:
        where = where + sql.SQL(" AND ") + scope
        params.extend(scope_params)
    bulk_load.replace_rows(conn, TABLE, pa.Table.from_pandas(frame, preserve_index=False), where, params)
    return len(frame)
