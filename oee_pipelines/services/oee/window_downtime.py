"""Each snapshot's downtime minutes recomputed from the derived downtime events, to check the stored ones.

The mart view (sql/054) reads the downtime each snapshot stores (`planned_downtime`,
`unplanned_downtime`). The same minutes can be recomputed from `oee_downtime_events`: the derived rows
overlapping the window `[window_start, snapshot_time)`, a running stop counting up to the window's
end, looking back one day for stops that started earlier. The two disagree only when one side was
rebuilt without the other (e.g. a late state change re-derived yesterday's stops and not today's
windows), and `snapshot_downtime_matches_events` uses this module to say where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from psycopg import Connection

# Snapshots keep minutes to 4 decimals (numeric(10, 4)): rounding alone stays under 0.0001 per column.
TOLERANCE_MINUTES = 0.001

# Per snapshot ending in (start, end]: its stored minutes and the derived events' overlap. Compared in
# SQL: a day has 96 windows per machine and only the disagreeing ones travel (with one summary row).
CHECK_SQL = """
WITH windows AS MATERIALIZED (
    SELECT s.machine_id, s.window_start, s.snapshot_time,
           s.planned_downtime::float8 AS stored_planned, s.unplanned_downtime::float8 AS stored_unplanned,
           COALESCE(dt.planned, 0)::float8 AS events_planned,
           COALESCE(dt.unplanned, 0)::float8 AS events_unplanned
    FROM oee_snapshots s
    LEFT JOIN LATERAL (
        SELECT SUM(overlap.minutes) FILTER (WHERE overlap.is_planned) AS planned,
               SUM(overlap.minutes) FILTER (WHERE NOT overlap.is_planned) AS unplanned
        FROM (
            SELECT de.is_planned,
                   EXTRACT(EPOCH FROM LEAST(COALESCE(de.end_time, s.snapshot_time), s.snapshot_time)
                                      - GREATEST(de.start_time, s.window_start)) / 60 AS minutes
            FROM oee_downtime_events de
            WHERE de.machine_id = s.machine_id
              AND de.source_system = 'derived'
              AND de.start_time < s.snapshot_time
              AND de.start_time >= s.window_start - INTERVAL '1 day'
              AND (de.end_time IS NULL OR de.end_time > s.window_start)
        ) overlap
    ) dt ON true
    WHERE s.snapshot_time > %(start)s AND s.snapshot_time <= %(end)s
),
summary AS (
    SELECT count(*) AS windows, COALESCE(sum(stored_planned + stored_unplanned), 0) AS stored_minutes
    FROM windows
)
SELECT summary.windows, summary.stored_minutes, off.*
FROM summary
LEFT JOIN LATERAL (
    SELECT machine_id, window_start, snapshot_time, stored_planned, events_planned,
           stored_unplanned, events_unplanned
    FROM windows
    WHERE abs(stored_planned - events_planned) > %(tolerance)s
       OR abs(stored_unplanned - events_unplanned) > %(tolerance)s
) off ON true
ORDER BY off.machine_id, off.snapshot_time
"""


@dataclass(frozen=True)
class WindowDowntimeCheck:
    windows: int
    stored_minutes: float
    # The disagreeing windows: machine_id, window_start, snapshot_time, stored_/events_planned and
    # stored_/events_unplanned minutes.
    off: pd.DataFrame


def check_window_downtime(conn: Connection, start: datetime, end: datetime) -> WindowDowntimeCheck:
    """Compare the stored downtime of each snapshot ending in `(start, end]` with the minutes of the
    derived downtime events overlapping its window."""
    cursor = conn.execute(CHECK_SQL, {"start": start, "end": end, "tolerance": TOLERANCE_MINUTES})
    columns = [column.name for column in cursor.description or []]
    rows = pd.DataFrame(cursor.fetchall(), columns=columns)
    return WindowDowntimeCheck(
        windows=int(rows["windows"].iloc[0]),
        stored_minutes=float(rows["stored_minutes"].iloc[0]),
        off=rows.dropna(subset=["machine_id"])
        .drop(columns=["windows", "stored_minutes"])
        .reset_index(drop=True),
    )
