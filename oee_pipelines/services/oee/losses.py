"""The one writer of `oee_losses`: the six big losses per machine, shift instance and UTC day.

A day's loss tree is computed from the same timeline and counters as the day's snapshots
(`domain.losses`), then replaces exactly that day's rows in one transaction. The reconciliation
(`day_reconciliation`) compares each machine-day's loss tree with the planned production time of its
snapshots, an independent sum: the identity is docs/oee-model.md's. `six_loss_summary` is the
per-line breakdown the demo prints beside OEE.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
from psycopg import Connection, sql

from oee_pipelines.domain.losses import LOSS_COLUMNS, LOSS_TREE, compute_losses
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED
from oee_pipelines.services.oee.inputs import (
    PlantReference,
    WarehouseResource,
    day_timeline,
    load_day_plan,
    oee_readings,
    reported_downtime,
)
from oee_pipelines.storage import bulk_load
from oee_pipelines.storage.lake import Lake

TABLE = "oee_losses"
# The warehouse keeps each snapshot's minutes to 4 decimals: 96 windows a day stay well inside this.
RECONCILIATION_TOLERANCE_MINUTES = 0.01
_ARROW_SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("day", pa.date32()),
        ("machine_id", pa.string()),
        ("line_id", pa.string()),
        ("shift_id", pa.string()),
        ("shift_date", pa.date32()),
        ("loss_category", pa.string()),
        ("oee_factor", pa.string()),
        ("reason_category", pa.string()),
        ("reason_code", pa.string()),
        ("reason_name", pa.string()),
        ("minutes", pa.float64()),
        ("occurrences", pa.int32()),
        ("pieces", pa.int64()),
        ("dagster_run_id", pa.string()),
    ]
)


def compute_day_losses(
    lake: Lake, warehouse: WarehouseResource, reference: PlantReference, day: date
) -> pd.DataFrame:
    """The loss tree of `day` (every organization), read as the snapshots of that day read it."""
    plan = load_day_plan(warehouse, reference, day)
    readings = oee_readings(lake, day, reference, plan)
    timeline = day_timeline(readings, reference, reported_downtime(warehouse, day), day)
    return compute_losses(
        timeline=timeline,
        line_shifts=plan.line_shifts,
        machines=reference.machines,
        counters=readings[readings["signal"].isin([PIECES_GOOD, PIECES_REJECTED])],
        reason_codes=reference.reason_codes,
    )


def replace_day_losses(conn: Connection, losses: pd.DataFrame, day: date, run_id: str | None) -> int:
    """Make `day`'s rows of `oee_losses` exactly `losses`; returns the rows written."""
    frame = losses.reindex(columns=LOSS_COLUMNS).assign(dagster_run_id=run_id)
    data = pa.Table.from_pandas(frame, schema=_ARROW_SCHEMA, preserve_index=False)
    bulk_load.replace_rows(conn, TABLE, data, sql.SQL("day = %s"), [day])
    return data.num_rows


def day_reconciliation(conn: Connection, first: date, last: date) -> pd.DataFrame:
    """Per machine and UTC day of `[first, last]`: the loss tree's minutes, the snapshots' planned
    production time and their difference (machines with snapshots but no loss rows show too)."""
    return _frame(
        conn,
        """WITH tree AS (
               SELECT machine_id, day, sum(minutes) AS loss_tree_minutes
               FROM oee_losses WHERE day BETWEEN %(first)s AND %(last)s GROUP BY 1, 2),
           planned AS (
               SELECT machine_id, (window_start AT TIME ZONE 'UTC')::date AS day,
                      sum(planned_production_time)::double precision AS planned_production_time
               FROM oee_snapshots
               WHERE window_start >= %(first)s::date AND window_start < %(last)s::date + 1
               GROUP BY 1, 2)
           SELECT machine_id, day, COALESCE(t.loss_tree_minutes, 0) AS loss_tree_minutes,
                  COALESCE(p.planned_production_time, 0) AS planned_production_time,
                  COALESCE(t.loss_tree_minutes, 0) - COALESCE(p.planned_production_time, 0) AS difference
           FROM tree t FULL JOIN planned p USING (machine_id, day)
           ORDER BY day, machine_id""",
        {"first": first, "last": last},
    )


def six_loss_summary(conn: Connection, org_id: str, first: date, last: date) -> pd.DataFrame:
    """Per line over the UTC days `[first, last]`: minutes of each loss-tree category (`<category>_minutes`,
    `LOSS_TREE` order), their total, the snapshots' planned production time, the difference, and the
    snapshots' time-weighted OEE (as the demo's OEE per line).

    The sums are exact (numeric): float sums follow the rows' physical order, and a total that lies on
    a .x5 tie then printed one way in one run and the other way in the next."""
    categories = sql.SQL(", ").join(
        sql.SQL(
            "COALESCE(sum(minutes::numeric) FILTER (WHERE loss_category = {}), 0)::double precision AS {}"
        ).format(sql.Literal(category), sql.Identifier(f"{category}_minutes"))
        for category in LOSS_TREE
    )
    query = sql.SQL(
        """WITH tree AS (
               SELECT line_id, {categories}, sum(minutes::numeric) AS exact_tree_minutes
               FROM oee_losses
               WHERE org_id = %(org)s AND day BETWEEN %(first)s AND %(last)s GROUP BY line_id),
           planned AS (
               SELECT line_id, sum(planned_production_time::numeric) AS planned_production_time,
                      (100 * sum(oee_pct::numeric / 100 * planned_production_time::numeric)
                           / NULLIF(sum(planned_production_time::numeric)
                                        FILTER (WHERE oee_pct IS NOT NULL), 0)
                      )::double precision AS oee_pct
               FROM oee_snapshots
               WHERE org_id = %(org)s AND window_start >= %(first)s::date
                 AND window_start < %(last)s::date + 1
               GROUP BY line_id)
           SELECT l.id AS line_id, l.name AS line_name, tree.*,
                  tree.exact_tree_minutes::double precision AS loss_tree_minutes,
                  COALESCE(p.planned_production_time, 0)::double precision AS planned_production_time,
                  (tree.exact_tree_minutes - COALESCE(p.planned_production_time, 0))::double precision
                      AS difference,
                  p.oee_pct
           FROM tree JOIN production_lines l ON l.id = tree.line_id
           LEFT JOIN planned p ON p.line_id = tree.line_id
           ORDER BY l.name"""
    ).format(categories=categories)
    frame = _frame(conn, query, {"org": org_id, "first": first, "last": last})
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return frame.drop(columns="exact_tree_minutes")


def _frame(conn: Connection, query: str | sql.Composable, params: dict[str, Any]) -> pd.DataFrame:
    cursor = conn.execute(query, params)  # type: ignore[arg-type]  # fixed SQL, values as parameters
    columns = [column.name for column in cursor.description or []]
    return pd.DataFrame(cursor.fetchall(), columns=columns)
