"""The entity data model of the feed: entity sets, their properties, Edm types and the SQL behind them.

Every entity set reads one fixed `FROM` clause whose `WHERE` starts with the caller's organization, so
tenancy holds whatever the client filters on. Property expressions are fixed SQL written here; client
input never becomes SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from psycopg import sql


class Edm(StrEnum):
    STRING = "Edm.String"
    INT32 = "Edm.Int32"
    INT64 = "Edm.Int64"
    DECIMAL = "Edm.Decimal"
    BOOLEAN = "Edm.Boolean"
    DATETIME = "Edm.DateTimeOffset"
    DATE = "Edm.Date"
    TIME = "Edm.TimeOfDay"


@dataclass(frozen=True)
class Property:
    name: str
    edm: Edm
    expression: str
    nullable: bool = True
    description: str = ""

    @property
    def sql(self) -> sql.Composable:
        return sql.SQL(self.expression)


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    from_clause: str  # must expose `org_id` of the row as `{alias}.org_id` in `org_column`
    org_column: str
    properties: tuple[Property, ...]
    key: tuple[str, ...]
    default_order: tuple[str, ...]
    description: str = ""

    def find_property(self, name: str) -> Property | None:
        return next((prop for prop in self.properties if prop.name == name), None)

    @property
    def property_names(self) -> list[str]:
        return [prop.name for prop in self.properties]


def _p(name: str, edm: Edm, expression: str, nullable: bool = True, description: str = "") -> Property:
    return Property(name, edm, expression, nullable, description)


S, I32, I64, DEC, BOOL, DT, DATE, TIME = (
    Edm.STRING, Edm.INT32, Edm.INT64, Edm.DECIMAL, Edm.BOOLEAN, Edm.DATETIME, Edm.DATE, Edm.TIME,
)  # fmt: skip

SNAPSHOTS = EntitySet(
    name="Snapshots",
    type_name="Snapshot",
    description="OEE per machine per 15-minute window; times in minutes",
    from_clause="oee_snapshots s JOIN machines m ON m.id = s.machine_id",
    org_column="s.org_id",
    key=("snapshot_id",),
    default_order=("snapshot_time", "machine_id"),
    properties=(
        _p("snapshot_id", I64, "s.id", False),
        _p("snapshot_time", DT, "s.snapshot_time", False, "end of the 15-minute window"),
        _p("window_start", DT, "s.window_start", False),
        _p("machine_id", S, "s.machine_id", False),
        _p("machine_name", S, "m.name", False),
        _p("line_id", S, "s.line_id", False),
        _p("shift_id", S, "s.shift_id"),
        _p("work_order_id", S, "s.work_order_id"),
        _p("oee_pct", DEC, "s.oee_pct"),
        _p("availability_pct", DEC, "s.availability_pct"),
        _p("performance_pct", DEC, "s.performance_pct", description="capped at 100"),
        _p("quality_pct", DEC, "s.quality_pct"),
        _p("scheduled_time", DEC, "s.scheduled_time", False),
        _p("planned_downtime", DEC, "s.planned_downtime", False),
        _p("planned_production_time", DEC, "s.planned_production_time", False),
        _p("unplanned_downtime", DEC, "s.unplanned_downtime", False),
        _p("actual_production_time", DEC, "s.actual_production_time", False, "run time"),
        _p("ideal_production_time", DEC, "s.ideal_production_time", False, "ideal cycle time x pieces"),
        _p("total_pieces", I32, "s.total_pieces", False),
        _p("good_pieces", I32, "s.good_pieces", False),
        _p("rejected_pieces", I32, "s.rejected_pieces", False),
    ),
)

DOWNTIME = EntitySet(
    name="Downtime",
    type_name="DowntimeEvent",
    description="Stops, by start time",
    from_clause="oee_downtime_events d JOIN machines m ON m.id = d.machine_id",
    org_column="d.org_id",
    key=("downtime_id",),
    default_order=("start_time", "machine_id", "downtime_id"),
    properties=(
        _p("downtime_id", I64, "d.id", False),
        _p("start_time", DT, "d.start_time", False),
        _p("end_time", DT, "d.end_time", description="NULL while the stop lasts"),
        _p("machine_id", S, "d.machine_id", False),
        _p("machine_name", S, "m.name", False),
        _p("line_id", S, "d.line_id"),
        _p("reason_code", S, "d.reason_code"),
        _p("loss_category", S, "d.loss_category"),
        _p("is_planned", BOOL, "d.is_planned", False),
        _p("duration_minutes", DEC, "d.duration_minutes"),
        _p("is_resolved", BOOL, "d.is_resolved", False),
        _p("description", S, "d.description"),
        _p("source_system", S, "d.source_system", False),
    ),
)

SHIFT_REPORTS = EntitySet(
    name="ShiftReports",
    type_name="ShiftReport",
    description="One row per line per shift, by shift start",
    from_clause=(
        "shift_reports r JOIN shifts sh ON sh.id = r.shift_id JOIN production_lines l ON l.id = r.line_id"
    ),
    org_column="r.org_id",
    key=("report_id",),
    default_order=("shift_start", "line_id"),
    properties=(
        _p("report_id", I64, "r.id", False),
        _p("shift_date", DATE, "r.shift_date", False),
        _p("shift_id", S, "r.shift_id", False),
        _p("shift_name", S, "sh.name", False),
        _p("line_id", S, "r.line_id", False),
        _p("line_name", S, "l.name", False),
        _p("shift_start", DT, "r.shift_start", False),
        _p("shift_end", DT, "r.shift_end", False),
        _p("planned_production_time", DEC, "r.planned_production_time", False),
        _p("actual_production_time", DEC, "r.actual_production_time", False),
        _p("total_pieces", I32, "r.total_pieces", False),
        _p("good_pieces", I32, "r.good_pieces", False),
        _p("rejected_pieces", I32, "r.rejected_pieces", False),
        _p("availability_pct", DEC, "r.availability_pct"),
        _p("performance_pct", DEC, "r.performance_pct"),
        _p("quality_pct", DEC, "r.quality_pct"),
        _p("oee_pct", DEC, "r.oee_pct"),
        _p("downtime_minutes", DEC, "r.downtime_minutes", False),
        _p("status", S, "r.status", False, "draft or final"),
    ),
)

DATA_MART = EntitySet(
    name="DataMart",
    type_name="DataMartRow",
    description="The denormalized OEE data mart (oee_data_mart_table, refreshed per day by the pipeline)",
    from_clause="oee_data_mart_table v",
    org_column="v.org_id",
    key=("snapshot_id",),
    default_order=("snapshot_time", "machine_id"),
    properties=(
        _p("snapshot_id", I64, "v.snapshot_id", False),
        _p("snapshot_time", DT, "v.snapshot_time", False),
        _p("machine_id", S, "v.machine_id"),
        _p("machine_name", S, "v.machine_name"),
        _p("machine_code", S, "v.machine_code"),
        _p("line_id", S, "v.line_id"),
        _p("line_name", S, "v.line_name"),
        _p("shift_id", S, "v.shift_id"),
        _p("shift_name", S, "v.shift_name"),
        _p("work_order_id", S, "v.work_order_id"),
        _p("wo_number", S, "v.wo_number"),
        _p("product_name", S, "v.product_name"),
        _p("oee_pct", DEC, "v.oee_pct"),
        _p("availability_pct", DEC, "v.availability_pct"),
        _p("performance_pct", DEC, "v.performance_pct"),
        _p("quality_pct", DEC, "v.quality_pct"),
        _p("total_pieces", I32, "v.total_pieces"),
        _p("good_pieces", I32, "v.good_pieces"),
        _p("rejected_pieces", I32, "v.rejected_pieces"),
        _p("planned_production_time", DEC, "v.planned_production_time"),
        _p("actual_production_time", DEC, "v.actual_production_time"),
        _p("downtime_minutes", DEC, "v.downtime_minutes"),
        _p("planned_downtime_minutes", DEC, "v.planned_downtime_minutes"),
        _p("unplanned_downtime_minutes", DEC, "v.unplanned_downtime_minutes"),
    ),
)

# Sums per machine per UTC day (of the window start). Sums add up across machines and days, so a
# client gets time-weighted OEE for any group by adding them (never by averaging percentages).
_DAILY_SUMS = """(
    SELECT s.org_id, s.machine_id, m.name AS machine_name, s.line_id, l.name AS line_name,
           (s.window_start AT TIME ZONE 'UTC')::date AS day,
           sum(s.planned_production_time) AS planned, sum(s.actual_production_time) AS run,
           sum(s.ideal_production_time) AS ideal, sum(s.total_pieces)::bigint AS total,
           sum(s.good_pieces)::bigint AS good
    FROM oee_snapshots s JOIN machines m ON m.id = s.machine_id JOIN production_lines l ON l.id = s.line_id
    GROUP BY 1, 2, 3, 4, 5, 6
) AS dm"""
_AVAILABILITY = "CASE WHEN dm.planned > 0 THEN 100 * dm.run / dm.planned END"
_PERFORMANCE = "CASE WHEN dm.planned > 0 AND dm.run > 0 THEN 100 * dm.ideal / dm.run END"
_QUALITY = "CASE WHEN dm.planned > 0 AND dm.run > 0 AND dm.total > 0 THEN 100.0 * dm.good / dm.total END"
_OEE = (
    "CASE WHEN dm.planned > 0 AND dm.run > 0 AND dm.total > 0 THEN 100.0 * dm.ideal * dm.good "
    "/ (dm.planned * dm.total) WHEN dm.planned > 0 THEN 0 END"
)

DAILY_MACHINE_OEE = EntitySet(
    name="DailyMachineOee",
    type_name="DailyMachineOee",
    description="Time-weighted OEE per machine per UTC day, with the sums it is computed from",
    from_clause=_DAILY_SUMS,
    org_column="dm.org_id",
    key=("machine_id", "day"),
    default_order=("day", "machine_id"),
    properties=(
        _p("machine_id", S, "dm.machine_id", False),
        _p("day", DATE, "dm.day", False, "UTC day of the window start"),
        _p("machine_name", S, "dm.machine_name", False),
        _p("line_id", S, "dm.line_id", False),
        _p("line_name", S, "dm.line_name", False),
        _p("planned_production_time", DEC, "dm.planned", False, "minutes"),
        _p("actual_production_time", DEC, "dm.run", False, "minutes"),
        _p("ideal_production_time", DEC, "dm.ideal", False, "minutes"),
        _p("total_pieces", I64, "dm.total", False),
        _p("good_pieces", I64, "dm.good", False),
        _p("availability_pct", DEC, _AVAILABILITY),
        _p("performance_pct", DEC, _PERFORMANCE, description="raw (may exceed 100)"),
        _p("quality_pct", DEC, _QUALITY),
        _p("oee_pct", DEC, _OEE),
    ),
)

MACHINES = EntitySet(
    name="Machines",
    type_name="Machine",
    from_clause="machines m",
    org_column="m.org_id",
    key=("machine_id",),
    default_order=("machine_id",),
    properties=(
        _p("machine_id", S, "m.id", False),
        _p("name", S, "m.name", False),
        _p("code", S, "m.code", False),
        _p("line_id", S, "m.line_id", False),
        _p("machine_type", S, "m.machine_type"),
        _p("is_active", BOOL, "m.is_active", False),
    ),
)

LINES = EntitySet(
    name="Lines",
    type_name="Line",
    from_clause="production_lines l",
    org_column="l.org_id",
    key=("line_id",),
    default_order=("line_id",),
    properties=(
        _p("line_id", S, "l.id", False),
        _p("site_id", S, "l.site_id", False),
        _p("name", S, "l.name", False),
        _p("code", S, "l.code", False),
        _p("is_active", BOOL, "l.is_active", False),
    ),
)

SHIFTS = EntitySet(
    name="Shifts",
    type_name="Shift",
    from_clause="shifts sh",
    org_column="sh.org_id",
    key=("shift_id",),
    default_order=("shift_id",),
    properties=(
        _p("shift_id", S, "sh.id", False),
        _p("site_id", S, "sh.site_id", False),
        _p("name", S, "sh.name", False),
        _p("shift_number", I32, "sh.shift_number::integer", False),
        _p("start_time", TIME, "sh.start_time", False, "local time of the site"),
        _p("end_time", TIME, "sh.end_time", False, "local time; not after start_time: the next day"),
    ),
)

# The loss tree (sql/052): a machine-day's minutes add up to its planned production time.
LOSSES = EntitySet(
    name="Losses",
    type_name="Loss",
    description="The six big losses per machine, shift instance and UTC day, one row per loss category "
    "and reason code; with fully productive and unknown time they add up to planned production time",
    from_clause="oee_losses lo JOIN machines m ON m.id = lo.machine_id",
    org_column="lo.org_id",
    key=("loss_id",),
    default_order=("day", "loss_id"),
    properties=(
        _p("loss_id", I64, "lo.id", False),
        _p("day", DATE, "lo.day", False, "UTC day the minutes lie in"),
        _p("machine_id", S, "lo.machine_id", False),
        _p("machine_name", S, "m.name", False),
        _p("line_id", S, "lo.line_id", False),
        _p("shift_id", S, "lo.shift_id", False),
        _p("shift_date", DATE, "lo.shift_date", False, "the shift instance's local start date"),
        _p("loss_category", S, "lo.loss_category", False, "fully_productive, a six-big-loss, or unknown"),
        _p("oee_factor", S, "lo.oee_factor", False, "the loss's OEE factor, or productive or unknown"),
        _p("reason_category", S, "lo.reason_category"),
        _p("reason_code", S, "lo.reason_code"),
        _p("reason_name", S, "lo.reason_name"),
        _p("minutes", DEC, "lo.minutes", False, "reduced_speed is negative when faster than ideal"),
        _p("occurrences", I32, "lo.occurrences", description="stops of this reason in the shift"),
        _p("pieces", I64, "lo.pieces", description="rejects and fully productive rows: pieces valued"),
    ),
)

ENTITY_SETS: dict[str, EntitySet] = {
    entity_set.name: entity_set
    for entity_set in (
        SNAPSHOTS, DOWNTIME, SHIFT_REPORTS, DATA_MART, DAILY_MACHINE_OEE, MACHINES, LINES, SHIFTS, LOSSES
    )
}  # fmt: skip
NAMESPACE = "OEE"
