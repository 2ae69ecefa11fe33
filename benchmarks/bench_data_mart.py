"""The OEE data mart table queried as BI tools and exports do: 90 days x 500 machines (4.3M snapshot rows).

Synthetic rows (50 lines of 10 machines, one row per machine per 15 minutes) are bulk-loaded into
`oee_data_mart_table` with `copy_arrow`, then queried with a date filter and a line filter. The seed
asked for "< 5 s for 90 days"; the aim is under 1 s. The baseline is a plain `count(*)` over the
whole table (a sequential scan), measured in the same run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pyarrow as pa

from benchmarks.common import median_seconds, peak_rss_mb, scratch_warehouse
from oee_pipelines.defs.mart.assets import MART_TABLE
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


def synthetic_mart(days: int, machines: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    windows = days * 96
    rows = windows * machines
    machine = np.repeat(np.arange(machines), windows)
    start_us = int(FIRST_DAY.timestamp() * 1_000_000)
    window_start = start_us + np.tile(np.arange(windows, dtype=np.int64), machines) * WINDOW_US
    planned = np.full(rows, 15.0)
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
            "downtime_minutes": planned - run,
            "planned_downtime_minutes": np.zeros(rows),
            "unplanned_downtime_minutes": planned - run,
            "breakdowns_minutes": planned - run,
            "setup_adjustments_minutes": np.zeros(rows),
            "small_stops_minutes": np.zeros(rows),
            "reduced_speed_minutes": run - ideal,
            "startup_rejects_minutes": np.zeros(rows),
            "production_rejects_minutes": (total - good) * 1.5 / 60,
        }
    )


def run(quick: bool) -> list[dict]:
    days, machines = (7, 50) if quick else (90, 500)
    repeats = 1 if quick else 3
    period = (FIRST_DAY, FIRST_DAY + timedelta(days=days))
    with scratch_warehouse() as url, psycopg.connect(url) as conn:
        with conn.transaction():
            loaded = copy_arrow(conn, MART_TABLE, synthetic_mart(days, machines))
        conn.execute(f"ANALYZE {MART_TABLE}")
        fetched: dict[str, int] = {}

        def line_rows() -> None:
            fetched["line"] = len(conn.execute(LINE_QUERY, ("LINE-003", *period)).fetchall())

        def oee_per_line() -> None:
            fetched["lines"] = len(conn.execute(OEE_PER_LINE_QUERY, ("org-0", *period)).fetchall())

        def count_all() -> None:
            fetched["all"] = conn.execute(f"SELECT count(*) FROM {MART_TABLE}").fetchone()[0]

        baseline = median_seconds(count_all, repeats)
        line_seconds = median_seconds(line_rows, repeats)
        per_line_seconds = median_seconds(oee_per_line, repeats)
    expected_line_rows = days * 96 * MACHINES_PER_LINE
    if fetched != {"line": expected_line_rows, "lines": machines // MACHINES_PER_LINE, "all": loaded}:
        raise AssertionError(f"data mart queries returned {fetched}")
    rows = []
    for name, seconds in (
        (
            f"data mart: one line's {expected_line_rows:,} rows of {days} days (line + date filter)",
            line_seconds,
        ),
        (
            f"data mart: OEE per line, {days} days of {loaded:,} rows (date filter, time-weighted)",
            per_line_seconds,
        ),
    ):
        rows.append(
            {
                "name": name,
                "value": seconds,
                "unit": "s",
                "seconds": seconds,
                "baseline_name": f"SELECT count(*) over all {loaded:,} rows (seed target: < 5 s for 90 days)",
                "baseline_value": baseline,
                "ratio": seconds / baseline,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    return rows
