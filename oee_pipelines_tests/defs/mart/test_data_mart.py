"""The corrected data mart: downtime minutes overlapping each snapshot's own window, and the table refresh.

The minutes are the ones the OEE stage stores with each snapshot (sql/054); the events below are what the
stage derived them from (the hand-computed overlap cases are in services/oee/test_window_downtime.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import psycopg

from oee_pipelines.defs.mart.assets import MART_TABLE, mart_columns, oee_data_mart, refresh_day
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.exports.queries import TimeRange
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mart.lake_copy import current_days, read_manifest
from oee_pipelines.storage.lake import Lake

SETUP = """
INSERT INTO organizations (id, name) VALUES ('o1', 'Org');
INSERT INTO sites (id, org_id, name) VALUES ('S1', 'o1', 'Site');
INSERT INTO production_lines (id, org_id, site_id, name, code) VALUES ('L1', 'o1', 'S1', 'Line 1', 'L1');
INSERT INTO machines (id, org_id, line_id, name, code) VALUES ('M1', 'o1', 'L1', 'Machine 1', 'M1');
INSERT INTO oee_snapshots (org_id, machine_id, line_id, snapshot_time, window_start, scheduled_time,
                           planned_production_time, actual_production_time, oee_pct,
                           planned_downtime, unplanned_downtime)
VALUES ('o1', 'M1', 'L1', '2025-01-15 10:15+00', '2025-01-15 10:00+00', 15, 13, 8, 50, 2, 5),
       ('o1', 'M1', 'L1', '2025-01-15 10:30+00', '2025-01-15 10:15+00', 15, 15, 10, 60, 0, 5);
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
                                 is_planned, reason_code, source_system)
VALUES ('o1', 'M1', 'L1', '2025-01-15 10:10+00', '2025-01-15 10:20+00', 10, false, 'BRK-MECH', 'derived'),
       ('o1', 'M1', 'L1', '2025-01-15 10:12+00', '2025-01-15 10:14+00', 2, true, 'BREAK', 'derived'),
       -- a reported stop: the derived timeline already holds what counts of it.
       ('o1', 'M1', 'L1', '2025-01-15 10:00+00', '2025-01-15 10:30+00', 30, false, 'BRK-MECH', 'import');
"""


def test_downtime_is_the_minutes_overlapping_each_window_split_planned_unplanned(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        conn.execute(SETUP)
        rows = conn.execute(
            """SELECT snapshot_time, downtime_minutes, planned_downtime_minutes, unplanned_downtime_minutes
               FROM oee_data_mart ORDER BY snapshot_time"""
        ).fetchall()
    # A stop spanning two windows is split between them; the seed counted all 10 minutes (and the
    # 2-minute break) in the window ending 10:15 because they started in its last 5 minutes.
    assert [tuple(float(v) for v in row[1:]) for row in rows] == [(7.0, 2.0, 5.0), (5.0, 0.0, 5.0)]


def test_the_table_refresh_replaces_the_days_rows(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        conn.execute(SETUP)
    warehouse = WarehouseResource(database_url=clean_database)
    columns = mart_columns(warehouse)
    day = ("2025-01-15 00:00+00", "2025-01-16 00:00+00")
    assert refresh_day(warehouse, columns, *day) == 2
    assert refresh_day(warehouse, columns, *day) == 2
    other_day = ("2025-01-16 00:00+00", "2025-01-17 00:00+00")
    assert refresh_day(warehouse, columns, *other_day) == 0
    with psycopg.connect(clean_database) as conn:
        count, downtime = conn.execute(f"SELECT count(*), sum(downtime_minutes) FROM {MART_TABLE}").fetchone()
        indexes = {
            row[0]
            for row in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (MART_TABLE,))
        }
    assert (count, downtime) == (2, 12.0)
    assert any("(org_id, snapshot_time)" in i for i in indexes)
    assert any("(line_id, snapshot_time)" in i for i in indexes)
    assert any("(machine_id, snapshot_time)" in i for i in indexes)


def test_the_asset_writes_the_days_lake_copy_after_the_table(clean_database: str, tmp_path: Path) -> None:
    with psycopg.connect(clean_database) as conn:
        conn.execute(SETUP)
    resources = {
        "warehouse": WarehouseResource(database_url=clean_database),
        "lake": LakeResource(root=str(tmp_path / "lake")),
    }
    result = dg.materialize([oee_data_mart], partition_key="2025-01-15", resources=resources)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("oee_data_mart")
    assert materialization.metadata["lake_copy_rows"].value == 2
    lake = Lake(str(tmp_path / "lake"))
    copy = read_manifest(lake, date(2025, 1, 15))
    assert copy is not None and copy.rows == {"o1": 2}
    day = TimeRange(datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 1, 16, tzinfo=UTC))
    with psycopg.connect(clean_database, autocommit=True) as conn:
        assert current_days(conn, lake, "o1", day) is not None
        # The table's rows were refreshed again (a later run) but not the copy: no longer current.
        refresh_day(
            resources["warehouse"], mart_columns(resources["warehouse"]), *day_bounds(date(2025, 1, 15))
        )
        assert current_days(conn, lake, "o1", day) is None
