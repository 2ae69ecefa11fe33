"""The OEE data mart queried as BI tools and exports do, the TABLE and the VIEW side by side: 90 days x
500 machines (4.3M snapshot rows).

Synthetic rows (50 lines of 10 machines, one row per machine per 15 minutes) are bulk-loaded into
`oee_data_mart_table` with `copy_arrow`; the same rows go into `oee_snapshots` with what the
`oee_data_mart` view joins (lines, machines, shifts, one work order per line and day with its material
consumption and variance), so the view computes its rows from the warehouse as ad-hoc SQL would. Both
are queried with a line and date filter, as OEE per line, and as downtime minutes per line. The seed
asked for "< 5 s for 90 days" from the view (issue 18, item 8). Since sql/054 the view reads each
snapshot's stored downtime; the derived downtime events (one stop per machine and hour) are what the
`snapshot_downtime_matches_events` check recomputes that downtime from, timed here for one day, the
window a chain run checks. Downtime per line is also queried for the last day alone, the window the
`oee_data_mart` asset refreshes from the view. The baseline is a plain `count(*)` over the whole table
(a sequential scan), measured in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pyarrow as pa

from benchmarks.common import median_seconds, peak_rss_mb, scratch_warehouse
from oee_pipelines.defs.mart.assets import MART_TABLE, MART_VIEW
from oee_pipelines.services.oee.window_downtime import check_window_downtime
from oee_pipelines.storage.bulk_load import copy_arrow

MACHINES_PER_LINE = 10
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_US = 15 * 60 * 1_000_000

LINE_QUERY = f"""SELECT snapshot_time, machine_id, oee_pct, availability_pct, performance_pct, quality_pct,
                        planned_production_time, downtime_minutes
                 FROM {MART_TABLE}
                 WHERE line_id = %s AND snapshot_time > %s AND snapshot_time <= %s
                 ORDER BY snapshot_time, machine_id"""
OEE_PER_LINE_QUERY = f"""SELECT line_id,
                                100 * sum(ideal_production_time) / NULLIF(sum(planned_production_time), 0)
                                    * sum(good_pieces) / NULLIF(sum(total_pieces), 0) AS oee_pct
                         FROM {MART_TABLE}
                         WHERE org_id = %s AND snapshot_time > %s AND snapshot_time <= %s
                         GROUP BY line_id"""


DOWNTIME_PER_LINE_QUERY = """SELECT line_id, sum(downtime_minutes), sum(unplanned_downtime_minutes)
                             FROM {source}
                             WHERE org_id = %s AND snapshot_time > %s AND snapshot_time <= %s
                             GROUP BY line_id"""
SHIFT_WINDOWS = 32  # three 8-hour shifts a day
MATERIALS = (("RM-1", 0.04), ("RM-2", 0.06), ("RM-3", 0.01), ("PK-1", 0.25), ("RM-4", 1.8))
# What the view joins, generated in SQL with the synthetic mart's names (LINE-000, MACHINE-0000).
REFERENCE_SQL = """
INSERT INTO organizations (id, name) VALUES ('org-0', 'Bench');
INSERT INTO sites (id, org_id, name) VALUES ('SITE-0', 'org-0', 'Site');
INSERT INTO production_lines (id, org_id, site_id, name, code)
SELECT 'LINE-' || lpad(n::text, 3, '0'), 'org-0', 'SITE-0', 'Line ' || n, 'L' || n
FROM generate_series(0, %(lines)s - 1) AS n;
INSERT INTO machines (id, org_id, line_id, name, code)
SELECT 'MACHINE-' || lpad(m::text, 4, '0'), 'org-0', 'LINE-' || lpad((m / %(per_line)s)::text, 3, '0'),
       'Machine ' || m, 'M' || m
FROM generate_series(0, %(machines)s - 1) AS m;
INSERT INTO shifts (id, org_id, site_id, name, shift_number, start_time, end_time)
VALUES ('SHIFT-1', 'org-0', 'SITE-0', 'Night', 1, '00:00', '08:00'),
       ('SHIFT-2', 'org-0', 'SITE-0', 'Day', 2, '08:00', '16:00'),
       ('SHIFT-3', 'org-0', 'SITE-0', 'Late', 3, '16:00', '00:00');
INSERT INTO products (id, org_id, code, name) VALUES ('PROD-1', 'org-0', 'P1', 'Product one');
INSERT INTO work_orders (id, org_id, wo_number, product_id, line_id, planned_quantity, actual_quantity,
                         status, planned_start, planned_end)
SELECT 'WO-' || lpad(l::text, 3, '0') || '-' || lpad(d::text, 3, '0'),
       'org-0', 'WO-' || lpad(l::text, 3, '0') || '-' || lpad(d::text, 3, '0'), 'PROD-1',
       'LINE-' || lpad(l::text, 3, '0'), 50000, 48000 + (l * 7 + d) %% 3000, 'completed',
       %(first)s::timestamptz + d * interval '1 day', %(first)s::timestamptz + (d + 1) * interval '1 day'
FROM generate_series(0, %(lines)s - 1) AS l, generate_series(0, %(days)s - 1) AS d;
"""
MATERIAL_SQL = """
INSERT INTO materials (id, org_id, material_number, description, base_unit, unit_cost, currency)
VALUES (%(number)s, 'org-0', %(number)s, %(number)s, 'pcs', %(cost)s, 'EUR');
INSERT INTO material_consumption (org_id, work_order_id, wo_number, line_id, planned_start,
    material_number, planned_quantity, consumed_quantity, base_unit, source_system)
SELECT org_id, id, wo_number, line_id, planned_start, %(number)s, planned_quantity,
       planned_quantity * 1.02, 'pcs', 'bench'
FROM work_orders;
INSERT INTO production_variance (org_id, work_order_id, wo_number, line_id, planned_start, item,
    item_type, unit, planned_quantity, actual_quantity, variance_quantity, variance_pct, source_system)
SELECT org_id, id, wo_number, line_id, planned_start, %(number)s, 'material', 'pcs', planned_quantity,
       planned_quantity * 1.02, planned_quantity * 0.02, 2, 'bench'
FROM work_orders;
"""
YIELD_SQL = """
INSERT INTO production_variance (org_id, work_order_id, wo_number, line_id, planned_start, item,
    item_type, planned_quantity, actual_quantity, variance_quantity, variance_pct, source_system)
SELECT org_id, id, wo_number, line_id, planned_start, 'yield', 'yield', planned_quantity,
       actual_quantity, actual_quantity - planned_quantity,
       round(100.0 * (actual_quantity - planned_quantity) / planned_quantity, 3), 'bench'
FROM work_orders
"""
# One derived stop of 2.5 minutes per machine and hour (every eighth one planned).
DOWNTIME_SQL = """
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
    is_planned, reason_code, source_system)
SELECT 'org-0', 'MACHINE-' || lpad(m::text, 4, '0'), 'LINE-' || lpad((m / %(per_line)s)::text, 3, '0'),
       %(first)s::timestamptz + h * interval '1 hour' + interval '5 minutes',
       %(first)s::timestamptz + h * interval '1 hour' + interval '7 minutes 30 seconds', 2.5,
       h %% 8 = 0, 'STOP', 'derived'
FROM generate_series(0, %(machines)s - 1) AS m, generate_series(0, %(days)s * 24 - 1) AS h
"""


def synthetic_mart(days: int, machines: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    windows = days * 96
    rows = windows * machines
    machine = np.repeat(np.arange(machines), windows)
    start_us = int(FIRST_DAY.timestamp() * 1_000_000)
    window_start = start_us + np.tile(np.arange(windows, dtype=np.int64), machines) * WINDOW_US
    planned = np.full(rows, 15.0)
    # DOWNTIME_SQL's stops as the OEE stage would store them: 2.5 minutes in each hour's first window.
    window = np.tile(np.arange(windows), machines)
    stop = np.where(window % 4 == 0, 2.5, 0.0)
    planned_stop = (window // 4) % 8 == 0
    run = planned - rng.uniform(0, 4, rows)
    ideal = run * rng.uniform(0.8, 0.97, rows)
    total = (ideal * 60 / 1.5).astype(np.int32)
    good = (total * 0.985).astype(np.int32)
    availability, performance = 100 * run / planned, 100 * ideal / run
    quality = 100 * good / np.maximum(total, 1)

    def text(prefix: str, codes: np.ndarray, width: int) -> pa.Array:
        names = pa.array([f"{prefix}{i:0{width}d}" for i in range(int(codes.max()) + 1)])
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), names).cast(pa.string())

    timestamps = pa.array(window_start, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "snapshot_id": np.arange(rows, dtype=np.int64),
            "snapshot_time": pa.array(window_start + WINDOW_US, pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "window_start": timestamps,
            "org_id": text("org-", np.zeros(rows, dtype=np.int32), 1),
            "machine_id": text("MACHINE-", machine, 4),
            "line_id": text("LINE-", machine // MACHINES_PER_LINE, 3),
            "oee_pct": availability * performance * quality / 10_000,
            "availability_pct": availability,
            "performance_pct": np.minimum(performance, 100),
            "performance_raw_pct": performance,
            "quality_pct": quality,
            "total_pieces": total,
            "good_pieces": good,
            "rejected_pieces": total - good,
            "planned_production_time": planned,
            "actual_production_time": run,
            "scheduled_time": planned,
            "unknown_time": np.zeros(rows),
            "ideal_production_time": ideal,
            "downtime_minutes": stop,
            "planned_downtime_minutes": np.where(planned_stop, stop, 0.0),
            "unplanned_downtime_minutes": np.where(planned_stop, 0.0, stop),
            "breakdowns_minutes": planned - run,
            "setup_adjustments_minutes": np.zeros(rows),
            "small_stops_minutes": np.zeros(rows),
            "reduced_speed_minutes": run - ideal,
            "startup_rejects_minutes": np.zeros(rows),
            "production_rejects_minutes": (total - good) * 1.5 / 60,
        }
    )


def synthetic_snapshots(mart: pa.Table, days: int, machines: int) -> pa.Table:
    """The mart's rows as `oee_snapshots` rows, with a shift and the line's work order of the day."""
    windows = days * 96
    window = np.tile(np.arange(windows), machines)
    line = np.repeat(np.arange(machines), windows) // MACHINES_PER_LINE
    day = window // 96
    shift = pa.array([f"SHIFT-{n}" for n in 1 + (window % 96) // SHIFT_WINDOWS])
    orders = pa.array([f"WO-{l_:03d}-{d:03d}" for l_, d in zip(line, day, strict=True)])
    shift_date = pa.array((np.datetime64(FIRST_DAY.date()) + day).astype("datetime64[D]"))
    snapshots = mart.drop_columns(["downtime_minutes"]).rename_columns(
        {
            "snapshot_id": "id",
            "planned_downtime_minutes": "planned_downtime",
            "unplanned_downtime_minutes": "unplanned_downtime",
        }
    )
    return (
        snapshots.append_column("shift_id", shift)
        .append_column("work_order_id", orders)
        .append_column("shift_date", shift_date)
    )


def execute_each(conn: psycopg.Connection, script: str, params: dict[str, object]) -> None:
    """The statements of `script` one by one (a statement with parameters must be alone)."""
    for statement in filter(str.strip, script.split(";")):
        conn.execute(statement, params)


def load_view_sources(conn: psycopg.Connection, mart: pa.Table, days: int, machines: int) -> int:
    """What the view reads, for the same rows as the table; returns the snapshot rows loaded."""
    shape = {
        "lines": machines // MACHINES_PER_LINE,
        "per_line": MACHINES_PER_LINE,
        "machines": machines,
        "days": days,
        "first": FIRST_DAY,
    }
    with conn.transaction():
        execute_each(conn, REFERENCE_SQL, shape)
        for number, cost in MATERIALS:
            execute_each(conn, MATERIAL_SQL, {"number": number, "cost": cost})
        conn.execute(YIELD_SQL)
        conn.execute(DOWNTIME_SQL, shape)
        # The rows name only what was just inserted: skip the four foreign-key checks per row (their
        # 17M lookups took longer than the COPY itself). The queries below find every row joined.
        conn.execute("SET LOCAL session_replication_role = replica")
        loaded = copy_arrow(conn, "oee_snapshots", synthetic_snapshots(mart, days, machines))
    for table in ("oee_snapshots", "oee_downtime_events", "work_orders", "material_consumption"):
        conn.execute(f"ANALYZE {table}")
    conn.execute("ANALYZE production_variance")
    return loaded


def run(quick: bool) -> list[dict]:
    days, machines = (7, 50) if quick else (90, 500)
    repeats = 1 if quick else 3
    period = (FIRST_DAY, FIRST_DAY + timedelta(days=days))
    last_day = (period[1] - timedelta(days=1), period[1])
    lines = machines // MACHINES_PER_LINE
    with scratch_warehouse() as url, psycopg.connect(url) as conn:
        mart = synthetic_mart(days, machines)
        with conn.transaction():
            loaded = copy_arrow(conn, MART_TABLE, mart)
        conn.execute(f"ANALYZE {MART_TABLE}")
        in_view = load_view_sources(conn, mart, days, machines)
        del mart
        conn.commit()
        fetched: dict[str, int] = {}

        def line_rows(source: str) -> Callable[[], None]:
            def query() -> None:
                statement = LINE_QUERY.replace(MART_TABLE, source)
                fetched[f"line {source}"] = len(conn.execute(statement, ("LINE-003", *period)).fetchall())

            return query

        def per_line(
            template: str, source: str, name: str, window: tuple[datetime, datetime] = period
        ) -> Callable[[], None]:
            def query() -> None:
                statement = template.replace(MART_TABLE, source).replace("{source}", source)
                fetched[f"{name} {source}"] = len(conn.execute(statement, ("org-0", *window)).fetchall())

            return query

        def count_all() -> None:
            fetched["all"] = conn.execute(f"SELECT count(*) FROM {MART_TABLE}").fetchone()[0]

        baseline = median_seconds(count_all, repeats)
        timings: list[tuple[str, str, float]] = []
        for source in (MART_TABLE, MART_VIEW):
            timings.append((source, "line", median_seconds(line_rows(source), repeats)))
            timings.append(
                (source, "oee", median_seconds(per_line(OEE_PER_LINE_QUERY, source, "oee"), repeats))
            )
            timings.append(
                (
                    source,
                    "downtime",
                    median_seconds(per_line(DOWNTIME_PER_LINE_QUERY, source, "downtime"), repeats),
                )
            )
            timings.append(
                (
                    source,
                    "day",
                    median_seconds(per_line(DOWNTIME_PER_LINE_QUERY, source, "day", last_day), repeats),
                )
            )

        def check_day() -> None:
            check = check_window_downtime(conn, *last_day)
            fetched["check"] = check.windows
            fetched["check off"] = len(check.off)

        check_seconds = median_seconds(check_day, repeats)
    expected_line_rows = days * 96 * MACHINES_PER_LINE
    # The stored downtime is the events' (DOWNTIME_SQL): every window agrees, as in a healthy warehouse.
    expected = {"all": loaded, "check": machines * 96, "check off": 0}
    for source in (MART_TABLE, MART_VIEW):
        expected |= {
            f"line {source}": expected_line_rows,
            f"oee {source}": lines,
            f"downtime {source}": lines,
            f"day {source}": lines,
        }
    if fetched != expected or in_view != loaded:
        raise AssertionError(f"data mart queries returned {fetched} (view rows loaded: {in_view})")
    descriptions = {
        "line": f"one line's {expected_line_rows:,} rows of {days} days (line + date filter)",
        "oee": f"OEE per line, {days} days of {loaded:,} rows (date filter, time-weighted)",
        "downtime": f"downtime minutes per line, {days} days of {loaded:,} rows (date filter)",
        "day": f"downtime minutes per line, the last day's {machines * 96:,} rows of {loaded:,} "
        "(the window the mart asset refreshes)",
    }
    baseline_name = f"SELECT count(*) over all {loaded:,} rows (seed target: < 5 s for 90 days)"

    def row(name: str, seconds: float) -> dict:
        return {
            "name": name,
            "value": seconds,
            "unit": "s",
            "seconds": seconds,
            "baseline_name": baseline_name,
            "baseline_value": baseline,
            "ratio": seconds / baseline,
            "peak_rss_mb": peak_rss_mb(),
        }

    rows = [
        row(f"data mart {'table' if source == MART_TABLE else 'VIEW'}: {descriptions[query]}", seconds)
        for source, query, seconds in timings
    ]
    rows.append(
        row(
            f"data mart check snapshot_downtime_matches_events: the last day's {machines * 96:,} windows "
            f"against {days} days of derived downtime events",
            check_seconds,
        )
    )
    return rows
