"""A machine whose data comes only from spreadsheets gets OEE: a day's machine-state log and production
counts imported through the import service, then the OEE chain as for a connected machine.

The demo plant is loaded as the OEE tests load it, except that one machine's historian telemetry is
removed: its state and pieces come only from the two imported files. The machine is in Berlin (UTC+1
in January), Early shift 05:00-13:00 UTC with its lunch break 09:00-09:30 UTC, so the windows checked
below (ending 08:00, 10:15 and 10:30 UTC) are 15 scheduled minutes without planned stops.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pytest

from oee_pipelines.services.imports import FileImporter
from oee_pipelines_tests.support.plant_days import (
    load_plant,
    materialize_days,
    telemetry_day,
    write_source_day,
)

WEDNESDAY = date(2025, 1, 15)
DAY_START = datetime(2025, 1, 15, tzinfo=UTC)
# Pieces per 15 minutes while running all window; none in the stopped window; the window of the restart.
GOOD, REJECTED = 540, 6
RESTART_GOOD, RESTART_REJECTED = 200, 10


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def state_log(machine: str) -> str:
    """Running all day but a breakdown 10:00-10:20 UTC; the last state ends at midnight."""
    rows = [
        (DAY_START, DAY_START + timedelta(hours=10), "RUNNING", ""),
        (DAY_START + timedelta(hours=10), DAY_START + timedelta(hours=10, minutes=20), "STOPPED", "BRK-MECH"),
        (DAY_START + timedelta(hours=10, minutes=20), DAY_START + timedelta(days=1), "running", ""),
    ]
    lines = [f"{machine},{stamp(start)},{stamp(end)},{state},{code}" for start, end, state, code in rows]
    return "\n".join(["machine_id,start,end,state,reason_code", *lines]) + "\n"


def counts(machine: str) -> str:
    """One row per 15-minute window end, 00:15 .. 24:00 UTC."""
    lines = []
    for index in range(1, 97):
        end = DAY_START + timedelta(minutes=15 * index)
        if end == DAY_START + timedelta(hours=10, minutes=15):
            good, rejected = 0, 0
        elif end == DAY_START + timedelta(hours=10, minutes=30):
            good, rejected = RESTART_GOOD, RESTART_REJECTED
        else:
            good, rejected = GOOD, REJECTED
        lines.append(f"{machine},{stamp(end)},{good},{rejected}")
    return "\n".join(["machine_id,timestamp,pieces_good,pieces_rejected", *lines]) + "\n"


def snapshot(url: str, machine: str, hour: int, minute: int) -> dict[str, object]:
    columns = [
        "scheduled_time",
        "planned_downtime",
        "planned_production_time",
        "unplanned_downtime",
        "unknown_time",
        "actual_production_time",
        "ideal_production_time",
        "total_pieces",
        "good_pieces",
        "rejected_pieces",
        "availability_pct",
        "performance_raw_pct",
        "quality_pct",
        "oee_pct",
    ]
    at = DAY_START + timedelta(hours=hour, minutes=minute)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT {', '.join(columns)} FROM oee_snapshots WHERE machine_id = %s AND snapshot_time = %s",
            (machine, at),
        ).fetchone()
    assert row is not None, f"no snapshot of {machine} at {at}"
    return {
        name: (float(value) if value is not None else None) for name, value in zip(columns, row, strict=True)
    }


def test_a_spreadsheet_only_machine_gets_oee_from_its_state_log_and_counts(
    clean_database: str, tmp_path: Path
) -> None:
    loaded = load_plant(clean_database, str(tmp_path / "lake"), WEDNESDAY, WEDNESDAY)
    machines = loaded.plant.machines().sort_values("id")
    machine = str(machines["id"].iloc[0])
    for day in (WEDNESDAY, WEDNESDAY + timedelta(days=1)):
        table = telemetry_day(loaded.plant, day)
        write_source_day(loaded.lake, table.filter(pc.not_equal(table["machine_id"], machine)), day)
    org_id = str(machines["org_id"].iloc[0]) if "org_id" in machines else "demo"
    importer = FileImporter(clean_database, loaded.lake)
    files = tmp_path / "files"
    files.mkdir()
    (files / "states.csv").write_text(state_log(machine), encoding="utf-8")
    (files / "counts.csv").write_text(counts(machine), encoding="utf-8")

    states = importer.import_file(
        files / "states.csv", "machine_state_log", org_id=org_id, submitted_by="test"
    )
    pieces = importer.import_file(
        files / "counts.csv", "production_count", org_id=org_id, submitted_by="test"
    )

    assert (states.status, states.rows_read, states.rows_imported) == ("SUCCESS", 3, 3), states.errors
    assert (pieces.status, pieces.rows_read, pieces.rows_imported) == ("SUCCESS", 96, 96), pieces.errors
    assert states.affected_days == [WEDNESDAY, WEDNESDAY + timedelta(days=1)]  # the end mark at midnight
    result = materialize_days(loaded, WEDNESDAY, WEDNESDAY)
    assert result.success

    # 07:45-08:00: running all 15 minutes. A = 15/15; Q = 540/546; P = ideal time / run time.
    running = snapshot(clean_database, machine, 8, 0)
    assert running["scheduled_time"] == running["planned_production_time"] == 15.0
    assert running["actual_production_time"] == 15.0 and running["unknown_time"] == 0.0
    assert (running["good_pieces"], running["rejected_pieces"], running["total_pieces"]) == (
        540.0,
        6.0,
        546.0,
    )
    assert running["availability_pct"] == pytest.approx(100.0, abs=0.01)
    assert running["quality_pct"] == pytest.approx(100.0 * 540 / 546, abs=0.01)  # 98.90
    # The ideal cycle time per piece is one of the line's products' (1.5 s or 2.0 s).
    cycle_seconds = running["ideal_production_time"] * 60.0 / 546.0  # type: ignore[operator]
    assert min(abs(cycle_seconds - 1.5), abs(cycle_seconds - 2.0)) < 1e-6
    assert running["performance_raw_pct"] == pytest.approx(100.0 * 546 * cycle_seconds / (15 * 60), abs=0.01)
    expected_oee = 100.0 * (540 / 546) * (546 * cycle_seconds / 900)
    assert running["oee_pct"] == pytest.approx(expected_oee, abs=0.01)

    # 10:00-10:15: stopped by BRK-MECH all window (an unplanned breakdown of 20 minutes, not a small
    # stop). Run time 0 with time planned: A = 0, OEE = 0, P and Q NULL.
    stopped = snapshot(clean_database, machine, 10, 15)
    assert stopped["planned_production_time"] == stopped["unplanned_downtime"] == 15.0
    assert stopped["actual_production_time"] == 0.0 and stopped["total_pieces"] == 0.0
    assert stopped["availability_pct"] == 0.0 and stopped["oee_pct"] == 0.0
    assert stopped["performance_raw_pct"] is None and stopped["quality_pct"] is None

    # 10:15-10:30: stopped until 10:20, then running: run 10 of 15 minutes; 200 good of 210.
    restart = snapshot(clean_database, machine, 10, 30)
    assert restart["unplanned_downtime"] == pytest.approx(5.0)
    assert restart["actual_production_time"] == pytest.approx(10.0)
    assert restart["availability_pct"] == pytest.approx(100.0 * 10 / 15, abs=0.01)  # 66.67
    assert restart["quality_pct"] == pytest.approx(100.0 * 200 / 210, abs=0.01)  # 95.24
    assert restart["performance_raw_pct"] == pytest.approx(100.0 * 210 * cycle_seconds / 600, abs=0.01)
    assert restart["oee_pct"] == pytest.approx(
        (10 / 15) * (210 * cycle_seconds / 600) * (200 / 210) * 100.0, abs=0.01
    )
    with psycopg.connect(clean_database) as conn:
        [(stops,)] = conn.execute(
            """SELECT count(*) FROM oee_downtime_events WHERE machine_id = %s AND reason_code = 'BRK-MECH'
                 AND start_time = %s AND end_time = %s""",
            (machine, DAY_START + timedelta(hours=10), DAY_START + timedelta(hours=10, minutes=20)),
        ).fetchall()
    assert stops == 1
