"""The OEE dashboard's numbers: `GET /api/oee/dashboard/summary` and `GET /api/oee/dashboard/trend`.

Read-only JSON for the dashboard at `/oee/analytics` (and anyone else): every number the page shows is
computed here, on the server, and the page only draws it. Rows are the caller's organization's only.

Time-weighted aggregation: OEE and its factors over any group of 15-minute snapshots (a line, a
machine, a shift, an hour, a day, the whole range) are computed from the group's summed minutes and
pieces, never by averaging the windows' percentages:

    availability = Σ run minutes / Σ planned production minutes
    performance  = Σ ideal minutes (ideal cycle time x pieces) / Σ run minutes   (raw, may exceed 100)
    quality      = Σ good pieces / Σ pieces
    OEE          = availability x performance x quality

so each window weighs by its planned production minutes (availability), its run minutes (performance)
and its pieces (quality), and a window with nothing planned weighs nothing. The cases with nothing to
divide follow the snapshot's own rules (docs/architecture.md, "OEE time model"). Percentages are
rounded to one decimal, minutes to one decimal: the page shows them as they come.

The range is the exports' (`date_from`, `date_to`, UTC, half-open on `snapshot_time`), so the dashboard
and an export of the same filter hold the same snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError
from oee_pipelines.api.params import IDENTIFIER_PATTERN, resolve_time_range
from oee_pipelines.api.queries import require_owned
from oee_pipelines.exports.queries import TimeRange

router = APIRouter(tags=["OEE dashboard"])
# The page's vendored charting library (Apache ECharts, see static/vendor/README.md).
VENDOR_FILE = Path(__file__).parent / "static" / "vendor" / "echarts" / "echarts.common.min.js"

DATE_HELP = "A date (YYYY-MM-DD, UTC day; as `date_to` the whole day) or an ISO 8601 datetime (excluded)."
# Fine grains over long ranges would send hundreds of thousands of points to a browser.
MAX_DAYS_PER_GRAIN = {"15min": 31, "hour": 92, "day": 366}
LOSS_COLUMNS = (
    "breakdowns_minutes",
    "setup_adjustments_minutes",
    "small_stops_minutes",
    "reduced_speed_minutes",
    "startup_rejects_minutes",
    "production_rejects_minutes",
)


class Grain(StrEnum):
    FIFTEEN_MINUTES = "15min"
    HOUR = "hour"
    DAY = "day"


class GroupBy(StrEnum):
    LINE = "line"
    MACHINE = "machine"


class Factors(BaseModel):
    """Time-weighted OEE of a group of snapshots, percent (0-100; performance and OEE may exceed 100)."""

    oee: float | None = Field(description="OEE, percent; null when nothing was planned")
    availability: float | None = Field(description="run / planned production minutes, percent")
    performance: float | None = Field(description="ideal / run minutes, percent (raw)")
    quality: float | None = Field(description="good / total pieces, percent")
    planned_production_minutes: float = Field(description="minutes")
    run_minutes: float = Field(description="actual production (run) minutes")
    total_pieces: int = Field(description="pieces")
    good_pieces: int = Field(description="pieces")


class LineOee(Factors):
    line_id: str
    line_name: str


class MachineOee(Factors):
    machine_id: str
    machine_name: str
    line_id: str


class ShiftOee(Factors):
    shift_id: str | None = Field(description="null: snapshots outside every shift")
    shift_name: str | None


class LossMinutes(BaseModel):
    """The waterfall from scheduled time to fully productive time, minutes (the snapshots' columns)."""

    scheduled_minutes: float
    planned_stops_minutes: float
    planned_production_minutes: float
    breakdowns_minutes: float
    setup_adjustments_minutes: float
    small_stops_minutes: float
    reduced_speed_minutes: float
    startup_rejects_minutes: float
    production_rejects_minutes: float
    fully_productive_minutes: float = Field(description="planned production minutes minus the six losses")


class DowntimeReason(BaseModel):
    reason_code: str = Field(description="`(no reason)` for stops without one")
    reason_name: str | None
    minutes: float = Field(description="minutes of the stops inside the range")
    stops: int = Field(description="stops overlapping the range")
    cumulative_pct: float = Field(description="this and the larger reasons' share of all minutes, percent")


class DashboardSummary(BaseModel):
    date_from: datetime
    date_to: datetime = Field(description="excluded")
    machine_id: str | None
    line_id: str | None
    total: Factors
    lines: list[LineOee]
    machines: list[MachineOee]
    shifts: list[ShiftOee]
    losses: LossMinutes
    downtime_reasons: list[DowntimeReason] = Field(description="unplanned stops by reason, largest first")
    planned_stops: list[DowntimeReason] = Field(description="planned stops by reason, largest first")
    downtime_source: str = Field(description="`derived` (from telemetry) when there are any, else `all`")


class TrendPoint(Factors):
    bucket_start: datetime


class TrendSeries(BaseModel):
    id: str
    name: str
    points: list[TrendPoint]


class DashboardTrend(BaseModel):
    date_from: datetime
    date_to: datetime
    grain: Grain
    group_by: GroupBy
    series: list[TrendSeries]


@dataclass
class Sums:
    """Additive minutes and pieces of a group of snapshots."""

    scheduled: float = 0.0
    planned_stops: float = 0.0
    planned: float = 0.0
    run: float = 0.0
    ideal: float = 0.0
    total: int = 0
    good: int = 0
    breakdowns_minutes: float = 0.0
    setup_adjustments_minutes: float = 0.0
    small_stops_minutes: float = 0.0
    reduced_speed_minutes: float = 0.0
    startup_rejects_minutes: float = 0.0
    production_rejects_minutes: float = 0.0

    def add(self, other: Sums) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def factors(sums: Sums) -> dict[str, Any]:
    """OEE, A, P, Q from summed minutes and pieces (the module docstring's rules), rounded to 0.1."""
    availability = performance = quality = oee = None
    if sums.planned > 0:
        availability = 100 * sums.run / sums.planned
        oee = 0.0
        if sums.run > 0 and sums.total > 0:
            performance = 100 * sums.ideal / sums.run
            quality = 100 * sums.good / sums.total
            oee = availability * performance * quality / 10_000
    return {
        "oee": _round(oee),
        "availability": _round(availability),
        "performance": _round(performance),
        "quality": _round(quality),
        "planned_production_minutes": round(sums.planned, 1),
        "run_minutes": round(sums.run, 1),
        "total_pieces": sums.total,
        "good_pieces": sums.good,
    }


SUMS_SQL = """
    SUM(s.scheduled_time)::float8, SUM(s.planned_downtime)::float8, SUM(s.planned_production_time)::float8,
    SUM(s.actual_production_time)::float8, SUM(s.ideal_production_time)::float8,
    SUM(s.total_pieces)::bigint, SUM(s.good_pieces)::bigint,
    SUM(s.breakdowns_minutes)::float8, SUM(s.setup_adjustments_minutes)::float8,
    SUM(s.small_stops_minutes)::float8, COALESCE(SUM(s.reduced_speed_minutes), 0)::float8,
    SUM(s.startup_rejects_minutes)::float8, SUM(s.production_rejects_minutes)::float8"""
SUMS_COUNT = 13


def _sums(row: tuple[Any, ...]) -> Sums:
    return Sums(*[value or 0 for value in row[-SUMS_COUNT:]])


def _where(time_range: TimeRange, machine_id: str | None, line_id: str | None) -> tuple[str, dict[str, Any]]:
    clause = "s.org_id = %(org_id)s AND s.snapshot_time >= %(start)s AND s.snapshot_time < %(end)s"
    params: dict[str, Any] = {"start": time_range.start, "end": time_range.end}
    if machine_id is not None:
        clause += " AND s.machine_id = %(machine_id)s"
        params["machine_id"] = machine_id
    if line_id is not None:
        clause += " AND s.line_id = %(line_id)s"
        params["line_id"] = line_id
    return clause, params


def _reasons(rows: list[tuple[Any, ...]]) -> list[DowntimeReason]:
    grand_total = sum(row[2] for row in rows) or 1.0
    running = 0.0
    reasons = []
    for code, name, minutes, stops in rows:
        running += minutes
        reasons.append(
            DowntimeReason(
                reason_code=code,
                reason_name=name,
                minutes=round(minutes, 1),
                stops=stops,
                cumulative_pct=round(100 * running / grand_total, 1),
            )
        )
    return reasons


DOWNTIME_SQL = """
WITH events AS (
    SELECT d.source_system, d.is_planned, COALESCE(NULLIF(d.reason_code, ''), '(no reason)') AS reason,
           EXTRACT(EPOCH FROM LEAST(COALESCE(d.end_time, %(now)s), %(end)s)
                              - GREATEST(d.start_time, %(start)s))::float8 / 60 AS minutes
    FROM oee_downtime_events d
    WHERE d.org_id = %(org_id)s AND d.start_time < %(end)s AND (d.end_time IS NULL OR d.end_time > %(start)s)
      {filters}
), source AS (SELECT COALESCE(bool_or(source_system = 'derived'), false) AS derived_only FROM events)
SELECT e.is_planned, e.reason, rc.name, SUM(e.minutes), COUNT(*)::int, bool_or(source.derived_only)
FROM events e CROSS JOIN source
LEFT JOIN reason_codes rc ON rc.org_id = %(org_id)s AND rc.code = e.reason
WHERE e.minutes > 0 AND (NOT source.derived_only OR e.source_system = 'derived')
GROUP BY e.is_planned, e.reason, rc.name
ORDER BY SUM(e.minutes) DESC, e.reason
"""


def _filters(
    identity: ApiIdentity,
    services: ApiServices,
    date_from: str,
    date_to: str,
    machine_id: str | None,
    line_id: str | None,
) -> TimeRange:
    time_range = resolve_time_range(date_from, date_to, services.settings.max_range_days)
    require_owned(services.pool, identity.org_id, machine_id=machine_id, line_id=line_id)
    return time_range


MACHINE_QUERY = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["MACHINE-001"])
LINE_QUERY = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["LINE-001"])
DATE_FROM_QUERY = Query(..., min_length=1, max_length=40, description=DATE_HELP, examples=["2025-01-01"])
DATE_TO_QUERY = Query(..., min_length=1, max_length=40, description=DATE_HELP, examples=["2025-01-30"])


@router.get(
    "/api/oee/dashboard/summary",
    summary="OEE over a range: per line, machine and shift, the six-loss waterfall, the downtime Pareto",
    response_model=DashboardSummary,
    responses={**COMMON_ERROR_RESPONSES},
)
def dashboard_summary(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    date_from: str = DATE_FROM_QUERY,
    date_to: str = DATE_TO_QUERY,
    machine_id: str | None = MACHINE_QUERY,
    line_id: str | None = LINE_QUERY,
) -> DashboardSummary:
    time_range = _filters(identity, services, date_from, date_to, machine_id, line_id)
    where, params = _where(time_range, machine_id, line_id)
    params["org_id"] = identity.org_id
    groups = f"""
        SELECT s.machine_id, m.name, s.line_id, l.name, s.shift_id, sh.name, {SUMS_SQL}
        FROM oee_snapshots s JOIN machines m ON m.id = s.machine_id
        JOIN production_lines l ON l.id = s.line_id LEFT JOIN shifts sh ON sh.id = s.shift_id
        WHERE {where}
        GROUP BY s.machine_id, m.name, s.line_id, l.name, s.shift_id, sh.name"""
    downtime_filters = "".join(
        f" AND d.{column} = %({column})s" for column in ("machine_id", "line_id") if column in params
    )
    downtime_params = {**params, "now": min(datetime.now(UTC), time_range.end)}
    with services.pool.connection() as conn:
        rows = conn.execute(groups, params).fetchall()
        stops = conn.execute(DOWNTIME_SQL.format(filters=downtime_filters), downtime_params).fetchall()

    total = Sums()
    groups_by_kind: dict[str, dict[Any, Sums]] = {"line": {}, "machine": {}, "shift": {}}
    lines, machines, shifts = groups_by_kind["line"], groups_by_kind["machine"], groups_by_kind["shift"]
    names: dict[tuple[str, str | None], tuple[str | None, ...]] = {}
    for row in rows:
        machine, machine_name, line, line_name, shift, shift_name = row[:6]
        sums = _sums(row)
        total.add(sums)
        for kind, key, label in (
            ("line", line, (line_name,)),
            ("machine", machine, (machine_name, line)),
            ("shift", shift, (shift_name,)),
        ):
            groups_by_kind[kind].setdefault(key, Sums()).add(sums)
            names[(kind, key)] = label

    losses = {column: round(getattr(total, column), 1) for column in LOSS_COLUMNS}
    return DashboardSummary(
        date_from=time_range.start,
        date_to=time_range.end,
        machine_id=machine_id,
        line_id=line_id,
        total=Factors(**factors(total)),
        lines=sorted(
            (
                LineOee(line_id=key, line_name=str(names[("line", key)][0]), **factors(sums))
                for key, sums in lines.items()
            ),
            key=lambda item: (item.line_name, item.line_id),
        ),
        machines=sorted(
            (
                MachineOee(
                    machine_id=key,
                    machine_name=str(names[("machine", key)][0]),
                    line_id=str(names[("machine", key)][1]),
                    **factors(sums),
                )
                for key, sums in machines.items()
            ),
            key=lambda item: (item.machine_name, item.machine_id),
        ),
        shifts=sorted(
            (
                ShiftOee(shift_id=key, shift_name=names[("shift", key)][0], **factors(sums))
                for key, sums in shifts.items()
            ),
            key=lambda item: (item.shift_id is None, item.shift_id or ""),
        ),
        losses=LossMinutes(
            scheduled_minutes=round(total.scheduled, 1),
            planned_stops_minutes=round(total.planned_stops, 1),
            planned_production_minutes=round(total.planned, 1),
            fully_productive_minutes=round(total.planned - sum(getattr(total, c) for c in LOSS_COLUMNS), 1),
            **losses,
        ),
        downtime_reasons=_reasons([(r[1], r[2], r[3], r[4]) for r in stops if not r[0]]),
        planned_stops=_reasons([(r[1], r[2], r[3], r[4]) for r in stops if r[0]]),
        downtime_source="derived" if stops and stops[0][5] else "all",
    )


BUCKET_SQL = {
    Grain.FIFTEEN_MINUTES: "date_bin('15 minutes', s.window_start, TIMESTAMPTZ '2000-01-01 00:00+00')",
    Grain.HOUR: "date_trunc('hour', s.window_start)",
    Grain.DAY: "date_trunc('day', s.window_start)",
}
GROUP_SQL = {
    GroupBy.LINE: ("s.line_id", "l.name"),
    GroupBy.MACHINE: ("s.machine_id", "m.name"),
}


@router.get(
    "/api/oee/dashboard/trend",
    summary="OEE, availability, performance and quality per 15 minutes, hour or day, per line or machine",
    response_model=DashboardTrend,
    responses={**COMMON_ERROR_RESPONSES},
)
def dashboard_trend(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    date_from: str = DATE_FROM_QUERY,
    date_to: str = DATE_TO_QUERY,
    machine_id: str | None = MACHINE_QUERY,
    line_id: str | None = LINE_QUERY,
    grain: Grain = Query(Grain.DAY, description="15min, hour or day (UTC buckets of window start)"),
    group_by: GroupBy = Query(GroupBy.LINE, description="one series per line or per machine"),
) -> DashboardTrend:
    time_range = _filters(identity, services, date_from, date_to, machine_id, line_id)
    max_days = MAX_DAYS_PER_GRAIN[grain.value]
    if time_range.end - time_range.start > timedelta(days=max_days):
        raise ApiError(422, "grain", f"{grain.value} buckets are served for ranges up to {max_days} days")
    where, params = _where(time_range, machine_id, line_id)
    params["org_id"] = identity.org_id
    key, name = GROUP_SQL[group_by]
    statement = f"""
        SELECT {key}, {name}, {BUCKET_SQL[grain]} AS bucket, {SUMS_SQL}
        FROM oee_snapshots s JOIN machines m ON m.id = s.machine_id
        JOIN production_lines l ON l.id = s.line_id
        WHERE {where}
        GROUP BY 1, 2, 3 ORDER BY 2, 1, 3"""
    with services.pool.connection() as conn:
        rows = conn.execute(statement, params).fetchall()
    series: dict[str, TrendSeries] = {}
    for row in rows:
        entry = series.setdefault(row[0], TrendSeries(id=row[0], name=row[1], points=[]))
        entry.points.append(TrendPoint(bucket_start=row[2], **factors(_sums(row))))
    return DashboardTrend(
        date_from=time_range.start,
        date_to=time_range.end,
        grain=grain,
        group_by=group_by,
        series=list(series.values()),
    )


@router.get("/oee/analytics/vendor/echarts.min.js", include_in_schema=False)
def echarts_library() -> FileResponse:
    # Versioned by the package: a browser may keep it for a day.
    return FileResponse(VENDOR_FILE, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
