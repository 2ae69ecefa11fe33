"""Each window's downtime from the derived events (what `snapshot_downtime_matches_events` checks the
stored minutes against) against minutes computed by hand, and the mart view reading the stored ones.

The hand case: two stops in one window, a stop across four windows with both ends mid-window, a stop
ending exactly on a window boundary, a window without downtime, planned and unplanned stops, an
imported stop that does not count (the derived timeline holds it), a stop still running, a stop from
the day before cut by the one-day look-back, and windows off the 15-minute grid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import psycopg

from oee_pipelines.services.oee.window_downtime import check_window_downtime

REFERENCE = """
INSERT INTO organizations (id, name) VALUES ('o1', 'Org');
INSERT INTO sites (id, org_id, name) VALUES ('S1', 'o1', 'Site');
INSERT INTO production_lines (id, org_id, site_id, name, code) VALUES ('L1', 'o1', 'S1', 'Line 1', 'L1');
INSERT INTO machines (id, org_id, line_id, name, code)
VALUES ('M1', 'o1', 'L1', 'Machine 1', 'M1'), ('M2', 'o1', 'L1', 'Machine 2', 'M2'),
       ('M3', 'o1', 'L1', 'Machine 3', 'M3');
"""
SNAPSHOT = """INSERT INTO oee_snapshots (org_id, machine_id, line_id, window_start, snapshot_time,
                                        planned_production_time, actual_production_time,
                                        planned_downtime, unplanned_downtime)
              VALUES ('o1', %s, 'L1', %s, %s, 15, 10, %s, %s)"""
EVENT = """INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time,
                                            is_planned, reason_code, source_system)
           VALUES ('o1', %s, 'L1', %s, %s, %s, 'STOP', %s)"""

# (machine, window start, window end) and (machine, start, end, planned, source), 2025-01-15 UTC.
HAND_SNAPSHOTS = [
    ("M1", "10:00", "10:15"), ("M1", "10:15", "10:30"), ("M1", "10:30", "10:45"),
    ("M1", "10:45", "11:00"), ("M1", "11:00", "11:15"),
    ("M2", "10:00", "10:15"), ("M2", "10:15", "10:30"), ("M2", "10:30", "10:45"),
    # Off the 15-minute grid: a window starting at :05 and a 30-minute one.
    ("M3", "10:05", "10:20"), ("M3", "10:20", "10:50"),
]  # fmt: skip
HAND_EVENTS = [
    ("M1", "10:05", "10:08", False, "derived"),  # two stops inside one window
    ("M1", "10:10", "10:12", True, "derived"),
    ("M1", "10:13", "10:47", False, "derived"),  # across four windows, both ends mid-window
    ("M1", "10:52", "11:00", True, "derived"),  # ends on a boundary: nothing in the next window
    ("M1", "10:00", "11:15", False, "import"),  # a reported stop: the mart counts derived rows only
    ("M2", "10:20", None, False, "derived"),  # still running: up to each window's end
    # Running since the day before: the look-back is one day from each window's start.
    ("M2", "2025-01-14 10:20", None, True, "derived"),
    ("M3", "10:10", "10:25", False, "derived"),
]  # fmt: skip
# snapshot_time -> (downtime, planned, unplanned) minutes, per machine.
HAND_MINUTES = {
    ("M1", "10:15"): (7, 2, 5),  # 3 + 2 + 2
    ("M1", "10:30"): (15, 0, 15),
    ("M1", "10:45"): (15, 0, 15),
    ("M1", "11:00"): (10, 8, 2),
    ("M1", "11:15"): (0, 0, 0),  # no downtime
    ("M2", "10:15"): (15, 15, 0),  # only yesterday's open stop
    ("M2", "10:30"): (25, 15, 10),
    ("M2", "10:45"): (15, 0, 15),  # yesterday's stop started more than a day before 10:30
    ("M3", "10:20"): (10, 0, 10),
    ("M3", "10:50"): (5, 0, 5),
}  # fmt: skip


def at(clock: str | None) -> datetime | None:
    if clock is None:
        return None
    text = clock if " " in clock else f"2025-01-15 {clock}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DAY = (at("00:00"), at("2025-01-16 00:00"))


def load_hand_case(conn: psycopg.Connection, stored: dict[tuple[str, str], tuple[float, float]]) -> None:
    """The hand case, each snapshot storing the (planned, unplanned) minutes `stored` gives it."""
    conn.execute(REFERENCE)
    for machine, start, end in HAND_SNAPSHOTS:
        planned, unplanned = stored.get((machine, end), (0, 0))
        conn.execute(SNAPSHOT, (machine, at(start), at(end), planned, unplanned))
    for machine, start, end, planned, source in HAND_EVENTS:
        conn.execute(EVENT, (machine, at(start), at(end), planned, source))


def by_window(off: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """The events' (planned, unplanned) minutes of each disagreeing window, by machine and window end."""
    return {
        (row.machine_id, row.snapshot_time.astimezone(UTC).strftime("%H:%M")): (
            round(row.events_planned, 9),
            round(row.events_unplanned, 9),
        )
        for row in off.itertuples()
    }


HAND_SPLIT = {key: (planned, unplanned) for key, (_, planned, unplanned) in HAND_MINUTES.items()}


def test_the_events_downtime_of_each_window_matches_minutes_computed_by_hand(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        load_hand_case(conn, stored={})
        check = check_window_downtime(conn, *DAY)
    # Every snapshot stores 0: each window with downtime disagrees, with the events' minutes.
    with_downtime = {key: split for key, split in HAND_SPLIT.items() if split != (0, 0)}
    assert by_window(check.off) == with_downtime
    assert (check.windows, check.stored_minutes) == (len(HAND_SNAPSHOTS), 0)


def test_the_mart_view_reads_each_snapshots_stored_downtime(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        load_hand_case(conn, stored=HAND_SPLIT)
        rows = conn.execute(
            """SELECT machine_id, to_char(snapshot_time AT TIME ZONE 'UTC', 'HH24:MI'),
                      downtime_minutes, planned_downtime_minutes, unplanned_downtime_minutes
               FROM oee_data_mart"""
        ).fetchall()
        agreeing = check_window_downtime(conn, *DAY)
        # Yesterday's open stop is re-derived as closed at 10:10: the windows it covered now disagree.
        conn.execute(
            "UPDATE oee_downtime_events SET end_time = %s WHERE machine_id = 'M2' AND start_time = %s",
            (at("10:10"), at("2025-01-14 10:20")),
        )
        off = check_window_downtime(conn, *DAY).off
    minutes = {(machine, clock): tuple(values) for machine, clock, *values in rows}
    assert minutes == {key: tuple(Decimal(v) for v in values) for key, values in HAND_MINUTES.items()}
    assert agreeing.off.empty
    assert agreeing.stored_minutes == sum(total for total, _, _ in HAND_MINUTES.values())
    # Stored (15, 0) and (15, 10); the shortened stop leaves 10:00-10:10 of the first window.
    assert by_window(off) == {("M2", "10:15"): (10, 0), ("M2", "10:30"): (0, 10)}
