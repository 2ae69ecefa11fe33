"""The second plant of `test_second_plant.py` and `test_onboarding_doc.py`: Tsubame Metalworks.

Its plant model, the points its PI server serves, its spreadsheets, the snapshots computed by hand,
and the helpers that run it through the public commands. See `test_second_plant.py` for the story.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import psycopg

from oee_pipelines.cli import main as oee
from oee_pipelines.cli.dagster_home import QUIET_LOGS, load_definitions
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import InMemoryPointSource, PointArrays
from oee_pipelines.simulator.servers.runtime import ServerThread

ORG = "tsubame"
DAY = date(2025, 3, 4)  # a Tuesday (ISO 2): the night shift runs on weekdays 1-5
PRESS, WELD = "TSU-PRESS-1", "TSU-WELD-1"
TOLERANCE = 0.01
TOKYO = ZoneInfo("Asia/Tokyo")

PLANT_MODEL = """\
version: 1
organization: {id: tsubame, name: Tsubame Metalworks}
reason_codes:
  - {code: TSU-BRK, name: Breakdown, category: Unplanned stops, planned: false, loss: breakdowns}
  - {code: TSU-SETUP, name: Die change, category: Planned stops, planned: true, loss: setup_adjustments}
products:
  - {id: TSU-BRACKET, name: Steel bracket, unit: pcs, ideal_cycle_time_seconds: 6.0}
sites:
  - id: TSU-TOKYO
    name: Tokyo works
    timezone: Asia/Tokyo
    shifts:
      - {id: TSU-NIGHT, name: Night, start: "22:00", end: "06:00", weekdays: [1, 2, 3, 4, 5]}
    lines:
      - id: TSU-L1
        name: Bracket line
        machines:
          - {id: TSU-PRESS-1, name: Press 1, type: press, ideal_cycle_times: {TSU-BRACKET: 4.0}}
          - {id: TSU-WELD-1, name: Welder 1, type: welder}
historian_tags:
  - {system: pi, tag: TSU.PRESS1.State, machine_id: TSU-PRESS-1, signal: machine_state, state_set: TSU-STATES}
  - {system: pi, tag: TSU.PRESS1.Good, machine_id: TSU-PRESS-1, signal: pieces_good, counter: cumulative,
     rollover: 65536, scale: 1.0, offset: 0.0, unit: pcs}
  - {system: pi, tag: TSU.PRESS1.Reject, machine_id: TSU-PRESS-1, signal: pieces_rejected,
     counter: cumulative, rollover: 65536, scale: 1.0, offset: 0.0, unit: pcs}
state_sets:
  - name: TSU-STATES
    states:
      - {name: Run, running: true}
      - {name: Stop, running: false, reason_code: TSU-BRK}
      - {name: Setup, running: false, reason_code: TSU-SETUP}
"""

# The product the line makes during the shift (no MES: the schedule template). Local times.
SCHEDULE_CSV = """\
external_id,line_id,work_order_id,product_id,recipe_id,planned_start,planned_end,planned_quantity,status
TSU-SCH-0304,TSU-L1,,TSU-BRACKET,,2025-03-04T22:00:00+09:00,2025-03-05T06:00:00+09:00,9000,
"""


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=UTC)


# --- TSU-PRESS-1: the PI points ---------------------------------------------------------------------
# State changes (UTC). Every change is on a whole minute.
PRESS_STATES = [
    (utc(12, 55), "Run"),  # running before the shift: off-schedule, no effect
    (utc(14, 30), "Setup"),  # 14:30-14:50 die change: planned (TSU-SETUP)
    (utc(14, 50), "Run"),
    (utc(16, 10), "Stop"),  # 16:10-16:40 breakdown: 30 min unplanned (TSU-BRK)
    (utc(16, 40), "Run"),
    (utc(18, 20), "Stop"),  # 18:20-18:21: 60 s < 120 s, a small stop: run time, a performance loss
    (utc(18, 21), "Run"),
    (utc(21, 0), "Stop"),  # after the shift: off-schedule
]
# Counters: one reading a minute from the day before to the day after. A reading at minute m counts the
# pieces of (m - 1 min, m]: 11 good + 1 rejected for every minute inside the shift (13:00, 21:00] in
# which the press ran the whole minute, else 0. The good counter starts at 65,000, so it wraps at
# 65,536 after 49 running minutes (the mapping's rollover reads the wrap as +11, not a reset).
GOOD_PER_MINUTE, REJECTED_PER_MINUTE, GOOD_COUNTER_START = 11, 1, 65_000


def press_running(minute_end: datetime) -> bool:
    """Whether the press ran through the whole minute ending at `minute_end`, inside the shift."""
    start = minute_end - timedelta(minutes=1)
    if not (utc(13) <= start and minute_end <= utc(21)):
        return False
    state = "Stop"
    for moment, name in PRESS_STATES:
        if moment <= start:
            state = name
    changes_inside = any(start < moment < minute_end for moment, _ in PRESS_STATES)
    return state == "Run" and not changes_inside


def press_points() -> dict[str, PointArrays]:
    state_ts = np.array([int(m.timestamp() * 1e6) for m, _ in PRESS_STATES], np.int64)
    state_codes = {"Run": 0.0, "Stop": 1.0, "Setup": 2.0}  # the digital state's offset in its set
    states = PointArrays(
        state_ts,
        np.array([state_codes[name] for _, name in PRESS_STATES]),
        np.full(len(PRESS_STATES), 100, np.int16),
        np.array([name for _, name in PRESS_STATES], dtype=object),
    )
    minutes = [utc(0) - timedelta(hours=1) + timedelta(minutes=n) for n in range(26 * 60 + 1)]
    ran = np.array([press_running(m) for m in minutes])
    good = np.mod(GOOD_COUNTER_START + np.cumsum(ran * GOOD_PER_MINUTE), 65_536).astype(np.float64)
    rejected = np.cumsum(ran * REJECTED_PER_MINUTE).astype(np.float64)
    ts = np.array([int(m.timestamp() * 1e6) for m in minutes], np.int64)
    quality = np.full(len(minutes), 100, np.int16)
    return {
        "TSU.PRESS1.State": states,
        "TSU.PRESS1.Good": PointArrays(ts, good, quality),
        "TSU.PRESS1.Reject": PointArrays(ts, rejected, quality),
    }


# --- TSU-WELD-1: the spreadsheets ---------------------------------------------------------------------
# The state log: one row per interval (local times, as the plant writes them).
WELD_STATE_LOG_CSV = """\
machine_id,start,end,state,reason_code
TSU-WELD-1,2025-03-04T22:00:00+09:00,2025-03-05T00:00:00+09:00,running,
TSU-WELD-1,2025-03-05T00:00:00+09:00,2025-03-05T00:20:00+09:00,stopped,TSU-BRK
TSU-WELD-1,2025-03-05T00:20:00+09:00,2025-03-05T04:00:00+09:00,running,
TSU-WELD-1,2025-03-05T04:00:00+09:00,2025-03-05T04:30:00+09:00,stopped,TSU-SETUP
TSU-WELD-1,2025-03-05T04:30:00+09:00,2025-03-05T06:00:00+09:00,running,
"""
# UTC: running 13:00-15:00, breakdown 15:00-15:20, running 15:20-19:00, die change 19:00-19:30,
# running 19:30-21:00.
# Counts (the production-count template): one row per quarter hour of the shift, at its end (local
# time), counting the pieces made since the previous row. 114 good + 6 rejected in a whole running
# quarter; 76 + 4 in the 10 running minutes of 15:20-15:30; 0 in the stopped quarters 15:00-15:15,
# 19:00-19:30; and 0 in 19:30-19:45 and 20:00-20:15, which ran but made nothing.
WELD_FULL, WELD_15_20, NOTHING = (114, 6), (76, 4), (0, 0)


def weld_count_rows() -> list[tuple[datetime, int, int]]:
    """(end of the quarter in UTC, good, rejected) for the 32 quarters of the shift."""
    rows = []
    for n in range(1, 33):
        end = utc(13) + timedelta(minutes=15 * n)
        if end in (utc(15, 15), utc(19, 15), utc(19, 30), utc(19, 45), utc(20, 15)):
            rows.append((end, *NOTHING))
        elif end == utc(15, 30):
            rows.append((end, *WELD_15_20))
        else:
            rows.append((end, *WELD_FULL))
    return rows


def weld_counts_csv() -> str:
    lines = ["machine_id,timestamp,pieces_good,pieces_rejected"]
    for end, good, rejected in weld_count_rows():
        lines.append(f"{WELD},{end.astimezone(TOKYO).isoformat()},{good},{rejected}")
    return "\n".join(lines) + "\n"


# --- the expected snapshots, by hand ------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    """One window: minutes, pieces and the four factors in % (None: NULL)."""

    scheduled: float
    planned_down: float
    unplanned_down: float
    run: float  # actual_production_time: running + small stops
    total: int
    good: int
    availability: float | None
    performance: float | None  # performance_raw_pct
    quality: float | None
    oee: float | None


# Outside the shift (00:00-13:00 and 21:00-24:00 UTC, 64 windows per machine): nothing is scheduled,
# so nothing is planned and every factor is NULL; off-shift pieces are not counted.
OFF_SHIFT = Expected(0, 0, 0, 0, 0, 0, None, None, None, None)

# TSU-PRESS-1 (ideal cycle time 4.0 s: the machine's own, over the product's 6.0 s):
# a whole running window: 15 readings x (11 + 1) = 180 pieces, 165 good.
#   A = 15 / 15 = 100 %; P = 180 x 4 s / 900 s = 80 %; Q = 165 / 180 = 91.6667 %;
#   OEE = 1 x 0.8 x 0.916667 = 73.3333 %.
PRESS_RUNNING = Expected(15, 0, 0, 15, 180, 165, 100.0, 80.0, 91.6667, 73.3333)
PRESS_WINDOWS = {
    # 14:30-14:45: die change all window: planned 15, planned production 0 -> nothing planned: NULL.
    utc(14, 45): Expected(15, 15, 0, 0, 0, 0, None, None, None, None),
    # 14:45-15:00: die change 14:45-14:50 (5 planned), running 14:50-15:00: 10 readings (14:51-15:00)
    #   x 12 = 120 pieces, 110 good. A = 10/10 = 100; P = 120 x 4 / 600 = 80; Q = 91.6667; OEE 73.3333.
    utc(15, 0): Expected(15, 5, 0, 10, 120, 110, 100.0, 80.0, 91.6667, 73.3333),
    # 16:00-16:15: running 16:00-16:10 (10 readings, 120 pieces), breakdown 16:10-16:15 (5 unplanned).
    #   A = 10/15 = 66.6667; P = 120 x 4 / 600 = 80; Q = 91.6667; OEE = 0.666667 x 0.8 x 0.916667 = 48.8889.
    utc(16, 15): Expected(15, 0, 5, 10, 120, 110, 66.6667, 80.0, 91.6667, 48.8889),
    # 16:15-16:30: breakdown all window: run time 0 with time planned -> A = 0, OEE = 0, P and Q NULL.
    utc(16, 30): Expected(15, 0, 15, 0, 0, 0, 0.0, None, None, 0.0),
    # 16:30-16:45: breakdown 16:30-16:40 (10 unplanned), running 16:40-16:45 (5 readings, 60 pieces).
    #   A = 5/15 = 33.3333; P = 60 x 4 / 300 = 80; Q = 91.6667; OEE = 0.333333 x 0.8 x 0.916667 = 24.4444.
    utc(16, 45): Expected(15, 0, 10, 5, 60, 55, 33.3333, 80.0, 91.6667, 24.4444),
    # 18:15-18:30: the 60 s stop at 18:20 is a small stop: run time stays 15; the reading at 18:21 counts
    #   a stopped minute: 14 readings x 12 = 168 pieces, 154 good. A = 100; P = 168 x 4 / 900 = 74.6667;
    #   Q = 154 / 168 = 91.6667; OEE = 0.746667 x 0.916667 = 68.4444.
    utc(18, 30): Expected(15, 0, 0, 15, 168, 154, 100.0, 74.6667, 91.6667, 68.4444),
}

# TSU-WELD-1 (the product's default ideal cycle time, 6.0 s):
# a whole running quarter: 120 pieces, 114 good. A = 100; P = 120 x 6 / 900 = 80; Q = 114/120 = 95;
#   OEE = 0.8 x 0.95 = 76.
WELD_RUNNING = Expected(15, 0, 0, 15, 120, 114, 100.0, 80.0, 95.0, 76.0)
WELD_WINDOWS = {
    # 15:00-15:15: breakdown all window: A = 0, OEE = 0, P and Q NULL.
    utc(15, 15): Expected(15, 0, 15, 0, 0, 0, 0.0, None, None, 0.0),
    # 15:15-15:30: breakdown to 15:20 (5 unplanned), running 10 min, 80 pieces (76 good).
    #   A = 10/15 = 66.6667; P = 80 x 6 / 600 = 80; Q = 76/80 = 95; OEE = 0.666667 x 0.8 x 0.95 = 50.6667.
    utc(15, 30): Expected(15, 0, 5, 10, 80, 76, 66.6667, 80.0, 95.0, 50.6667),
    # 19:00-19:15 and 19:15-19:30: die change, planned all window -> nothing planned: NULL.
    utc(19, 15): Expected(15, 15, 0, 0, 0, 0, None, None, None, None),
    utc(19, 30): Expected(15, 15, 0, 0, 0, 0, None, None, None, None),
    # 19:30-19:45 and 20:00-20:15: ran 15 min, made nothing -> A = 100, P = 0, Q NULL, OEE = 0.
    utc(19, 45): Expected(15, 0, 0, 15, 0, 0, 100.0, 0.0, None, 0.0),
    utc(20, 15): Expected(15, 0, 0, 15, 0, 0, 100.0, 0.0, None, 0.0),
}


def expected_snapshots() -> dict[tuple[str, datetime], Expected]:
    expected = {}
    for machine, running, special in (
        (PRESS, PRESS_RUNNING, PRESS_WINDOWS),
        (WELD, WELD_RUNNING, WELD_WINDOWS),
    ):
        for n in range(1, 97):
            end = utc(0) + timedelta(minutes=15 * n)
            in_shift = utc(13) < end <= utc(21)
            expected[(machine, end)] = special.get(end, running if in_shift else OFF_SHIFT)
    return expected


# --- running it ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def pi_server() -> Iterator[ServerThread]:
    with ServerThread(PiWebApiSimulator(InMemoryPointSource(press_points())).app) as server:
        yield server


def historian_config(base_url: str) -> str:
    """The seed's `historian_config.yml` shape, credentials from the environment."""
    return f"""\
historian:
  enabled: true
  system_type: osisoft_pi
  data_server: PISRV01
  connection:
    base_url: {base_url}/piwebapi
    auth_type: basic
    username: ${{PI_USERNAME}}
    password: ${{PI_PASSWORD}}
"""


def run_oee(*args: str) -> str:
    """`oee ARGS` in process; its output. Fails the test on a non-zero exit status."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = oee(list(args))
    assert status == 0, f"oee {' '.join(args)} -> {status}:\n{out.getvalue()}"
    return out.getvalue()


def run_job(name: str, partition: str) -> None:
    definitions = load_definitions()
    with dg.instance_for_test() as instance:
        result = definitions.resolve_job_def(name).execute_in_process(
            instance=instance, partition_key=partition, run_config=QUIET_LOGS, raise_on_error=True
        )
    assert result.success, name


def snapshot_rows(database_url: str) -> dict[tuple[str, datetime], dict]:
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            """SELECT machine_id, snapshot_time, scheduled_time, planned_downtime, unplanned_downtime,
                      actual_production_time, total_pieces, good_pieces, availability_pct,
                      performance_raw_pct, quality_pct, oee_pct
               FROM oee_snapshots WHERE org_id = %s""",
            (ORG,),
        )
        names = [c.name for c in cursor.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(r["machine_id"], r["snapshot_time"].astimezone(UTC)): r for r in rows}


def differences(actual: dict, expected: Expected) -> list[str]:
    pairs = {
        "scheduled_time": expected.scheduled,
        "planned_downtime": expected.planned_down,
        "unplanned_downtime": expected.unplanned_down,
        "actual_production_time": expected.run,
        "total_pieces": expected.total,
        "good_pieces": expected.good,
        "availability_pct": expected.availability,
        "performance_raw_pct": expected.performance,
        "quality_pct": expected.quality,
        "oee_pct": expected.oee,
    }
    wrong = []
    for column, want in pairs.items():
        got = actual[column]
        if want is None or got is None:
            if want is not got:
                wrong.append(f"{column}: {got} != {want}")
        elif abs(float(got) - want) > TOLERANCE:
            wrong.append(f"{column}: {float(got)} != {want}")
    return wrong
