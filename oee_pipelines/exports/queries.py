"""The SQL behind each export: always scoped to one organization, always parameterized.

The API and the published daily files both build their queries here. Optional filters are fixed SQL
fragments switched on or off; values only ever travel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import sql


@dataclass(frozen=True)
class TimeRange:
    """`[start, end)` in UTC; with `by_window_end`, `(start, end]` on the tables keyed by a window's end.

    A snapshot's `snapshot_time` is the end of its 15-minute window, so the windows of one day end in
    `(day 00:00, next day 00:00]`: that is what a published daily file holds.
    """

    start: datetime
    end: datetime
    by_window_end: bool = False

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()


@dataclass(frozen=True)
class ExportQuery:
    select: sql.Composable
    from_where: sql.Composable
    order_by: sql.Composable
    params: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None

    @property
    def statement(self) -> sql.Composable:
        statement = sql.SQL("SELECT {} {} ORDER BY {}").format(self.select, self.from_where, self.order_by)
        if self.limit is not None:
            statement += sql.SQL(" LIMIT {}").format(sql.Literal(self.limit))
        return statement

    def count_statement(self, cap: int) -> sql.Composable:
        """Counts the rows, stopping at `cap` (enough to know a sheet would overflow)."""
        cap = cap if self.limit is None else min(cap, self.limit)
        return sql.SQL("SELECT count(*) FROM (SELECT 1 {} LIMIT {}) AS capped").format(
            self.from_where, sql.Literal(cap)
        )


def _where(*conditions: sql.Composable) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def _range_params(org_id: str, time_range: TimeRange) -> dict[str, Any]:
    return {"org_id": org_id, "start": time_range.start, "end": time_range.end}


def _in_range(column: str, time_range: TimeRange, *, window_end: bool = False) -> list[sql.Composable]:
    """`column` inside the range; half-open the other way round for a window-end column when asked."""
    closed_right = window_end and time_range.by_window_end
    lower, upper = (">", "<=") if closed_right else (">=", "<")
    return [
        sql.SQL("{} {} %(start)s").format(sql.SQL(column), sql.SQL(lower)),
        sql.SQL("{} {} %(end)s").format(sql.SQL(column), sql.SQL(upper)),
    ]


def snapshots_query(
    org_id: str,
    time_range: TimeRange,
    machine_id: str | None = None,
    line_id: str | None = None,
    shift_id: str | None = None,
) -> ExportQuery:
    conditions = [
        sql.SQL("s.org_id = %(org_id)s"),
        *_in_range("s.snapshot_time", time_range, window_end=True),
    ]
    params = _range_params(org_id, time_range)
    for column, value in (("machine_id", machine_id), ("line_id", line_id), ("shift_id", shift_id)):
        if value is not None:
            conditions.append(sql.SQL("s.{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
            params[column] = value
    return ExportQuery(
        select=sql.SQL(
            "s.snapshot_time, s.machine_id, m.name, s.oee_pct, s.availability_pct, "
            "s.performance_pct, s.quality_pct, s.shift_id"
        ),
        from_where=sql.SQL("FROM oee_snapshots s JOIN machines m ON m.id = s.machine_id")
        + _where(*conditions),
        order_by=sql.SQL("s.snapshot_time, s.machine_id"),
        params=params,
    )


def downtime_query(org_id: str, time_range: TimeRange, include_resolved: bool = True) -> ExportQuery:
    conditions = [
        sql.SQL("d.org_id = %(org_id)s"),
        *_in_range("d.start_time", time_range),
    ]
    if not include_resolved:
        conditions.append(sql.SQL("NOT d.is_resolved"))
    return ExportQuery(
        select=sql.SQL(
            "d.start_time, d.end_time, d.machine_id, m.name, d.line_id, d.reason_code, d.loss_category, "
            "d.is_planned, d.duration_minutes, d.is_resolved, d.description, d.source_system"
        ),
        from_where=sql.SQL("FROM oee_downtime_events d JOIN machines m ON m.id = d.machine_id")
        + _where(*conditions),
        order_by=sql.SQL("d.start_time, d.machine_id, d.id"),
        params=_range_params(org_id, time_range),
    )


def shift_reports_query(org_id: str, time_range: TimeRange, status: str | None = None) -> ExportQuery:
    conditions = [
        sql.SQL("r.org_id = %(org_id)s"),
        *_in_range("r.shift_start", time_range),
    ]
    params = _range_params(org_id, time_range)
    if status is not None:
        conditions.append(sql.SQL("r.status = %(status)s"))
        params["status"] = status
    return ExportQuery(
        select=sql.SQL(
            "r.shift_date, r.shift_id, sh.name, r.line_id, l.name, r.shift_start, r.shift_end, "
            "r.planned_production_time, r.actual_production_time, r.total_pieces, r.good_pieces, "
            "r.rejected_pieces, r.availability_pct, r.performance_pct, r.quality_pct, r.oee_pct, "
            "r.downtime_minutes, r.status"
        ),
        from_where=sql.SQL(
            "FROM shift_reports r JOIN shifts sh ON sh.id = r.shift_id "
            "JOIN production_lines l ON l.id = r.line_id"
        )
        + _where(*conditions),
        order_by=sql.SQL("r.shift_start, r.line_id"),
        params=params,
    )


DATA_MART_SELECT = sql.SQL(
    "snapshot_id, snapshot_time, machine_id, machine_name, machine_code, line_id, line_name, shift_id, "
    "shift_name, work_order_id, wo_number, product_name, oee_pct, availability_pct, performance_pct, "
    "quality_pct, total_pieces, good_pieces, rejected_pieces, planned_production_time, "
    "actual_production_time, downtime_minutes, planned_downtime_minutes, unplanned_downtime_minutes, "
    "wo_material_planned_cost, wo_material_consumed_cost, wo_material_variance_cost, "
    "wo_yield_variance_quantity, wo_yield_variance_pct"
)


# The view materialized per day by the `oee_data_mart` asset: indexed for the org / line / machine and
# time filters exports use, with float measures, and no joins left to run per export.
DATA_MART_TABLE = "oee_data_mart_table"


def data_mart_query(org_id: str, time_range: TimeRange, limit: int | None = None) -> ExportQuery:
    return ExportQuery(
        select=DATA_MART_SELECT,
        from_where=sql.SQL("FROM {}").format(sql.Identifier(DATA_MART_TABLE))
        + _where(sql.SQL("org_id = %(org_id)s"), *_in_range("snapshot_time", time_range, window_end=True)),
        order_by=sql.SQL("snapshot_time, machine_id"),
        params=_range_params(org_id, time_range),
        limit=limit,
    )


def material_consumption_query(
    org_id: str, time_range: TimeRange, work_order_id: str | None = None
) -> ExportQuery:
    """Consumption per work order and material, for the orders planned to start in the range."""
    conditions = [sql.SQL("c.org_id = %(org_id)s"), *_in_range("c.planned_start", time_range)]
    params = _range_params(org_id, time_range)
    if work_order_id is not None:
        conditions.append(sql.SQL("c.work_order_id = %(work_order_id)s"))
        params["work_order_id"] = work_order_id
    return ExportQuery(
        select=sql.SQL(
            "c.planned_start, c.work_order_id, c.wo_number, c.line_id, c.material_number, "
            "c.planned_quantity, c.consumed_quantity, c.consumed_quantity - c.planned_quantity, "
            "c.base_unit, m.unit_cost, c.consumed_quantity * m.unit_cost, m.currency, c.source_system"
        ),
        from_where=sql.SQL(
            "FROM material_consumption c LEFT JOIN materials m "
            "ON m.org_id = c.org_id AND m.material_number = c.material_number"
        )
        + _where(*conditions),
        order_by=sql.SQL("c.planned_start, c.wo_number, c.material_number"),
        params=params,
    )


def production_variance_query(
    org_id: str, time_range: TimeRange, work_order_id: str | None = None
) -> ExportQuery:
    """Yield and component variance per work order, for the orders planned to start in the range."""
    conditions = [sql.SQL("v.org_id = %(org_id)s"), *_in_range("v.planned_start", time_range)]
    params = _range_params(org_id, time_range)
    if work_order_id is not None:
        conditions.append(sql.SQL("v.work_order_id = %(work_order_id)s"))
        params["work_order_id"] = work_order_id
    return ExportQuery(
        select=sql.SQL(
            "v.planned_start, v.work_order_id, v.wo_number, v.line_id, v.item, v.item_type, v.unit, "
            "v.planned_quantity, v.actual_quantity, v.variance_quantity, v.variance_pct, "
            "v.variance_quantity * m.unit_cost, m.currency, v.source_system"
        ),
        from_where=sql.SQL(
            "FROM production_variance v LEFT JOIN materials m "
            "ON v.item_type = 'material' AND m.org_id = v.org_id AND m.material_number = v.item"
        )
        + _where(*conditions),
        order_by=sql.SQL("v.planned_start, v.wo_number, v.item_type DESC, v.item"),
        params=params,
    )


def _ceil_day(moment: datetime) -> date:
    """The first UTC day whose midnight is at or after `moment`."""
    utc = moment.astimezone(UTC)
    return utc.date() if utc.time() == time.min else utc.date() + timedelta(days=1)


def losses_query(
    org_id: str,
    time_range: TimeRange,
    machine_id: str | None = None,
    line_id: str | None = None,
    loss_category: str | None = None,
) -> ExportQuery:
    """The loss tree rows (sql/052) of the UTC days whose midnight lies in the range."""
    conditions = [
        sql.SQL("l.org_id = %(org_id)s"),
        sql.SQL("l.day >= %(first_day)s"),
        sql.SQL("l.day < %(end_day)s"),
    ]
    params: dict[str, Any] = {
        "org_id": org_id,
        "first_day": _ceil_day(time_range.start),
        "end_day": _ceil_day(time_range.end),
    }
    for column, value in (("machine_id", machine_id), ("line_id", line_id), ("loss_category", loss_category)):
        if value is not None:
            conditions.append(sql.SQL("l.{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
            params[column] = value
    return ExportQuery(
        select=sql.SQL(
            "l.day, l.machine_id, m.name, l.line_id, l.shift_id, l.shift_date, l.loss_category, "
            "l.oee_factor, l.reason_category, l.reason_code, l.reason_name, l.minutes, l.occurrences, "
            "l.pieces"
        ),
        from_where=sql.SQL("FROM oee_losses l JOIN machines m ON m.id = l.machine_id") + _where(*conditions),
        order_by=sql.SQL("l.day, l.id"),
        params=params,
    )
