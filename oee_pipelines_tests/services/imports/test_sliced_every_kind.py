"""Every import kind, a CSV in another encoding and a workbook, validated a slice of a few rows at a
time: the outcome and the stored job are exactly those of the file validated whole (the same errors
in the same order, counts, totals), including duplicates and overlapping stops or states whose rows
lie in different slices; a refused file imports nothing, and a good file lands the same rows."""

# ruff: noqa: RUF001  (the Polish text holds an en dash on purpose)

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from oee_pipelines.connectors.files.slices import open_in_slices
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.import_files import query

WHOLE = 1 << 40  # no file is this large: validated whole
# Slices of a handful of rows: every boundary case in a file of a few kB.
SLICE_BYTES = 256
POLISH = "Zażółć gęślą jaźń – łożysko"

DOWNTIME_HEADER = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"
STATE_HEADER = "machine_id,start,end,state,reason_code"
SCHEDULE_HEADER = (
    "external_id,line_id,work_order_id,product_id,recipe_id,planned_start,planned_end,planned_quantity,status"
)
COUNT_HEADER = "machine_id,timestamp,pieces_good,pieces_rejected"


def good_stops(count: int, day: int = 20, description: str = "stop") -> list[str]:
    """Stops of both machines, 10 minutes each, none overlapping."""
    return [
        f"2025-01-{day}T{6 + n // 4:02d}:{n % 4 * 15:02d}:00Z,2025-01-{day}T{6 + n // 4:02d}:"
        f"{n % 4 * 15 + 10:02d}:00Z,MACHINE-A0{1 + n % 2},,BRK-MECH,{description} {n},OP-{n}"
        for n in range(count)
    ]


BAD_DOWNTIME = "\n".join(
    [
        DOWNTIME_HEADER,
        "2025-01-14T08:00:00Z,2025-01-14T08:30:00Z,MACHINE-A01,,BRK-MECH,row 2,",
        "2025-01-14T09:00:00Z,2025-01-14T09:10:00Z,MACHINE-A02,LINE-A1,BREAK,row 3,",
        "yesterday,2025-01-14T09:10:00Z,MACHINE-A02,,BREAK,bad start,",
        "2025-01-14T10:00:00Z,2025-01-14T09:00:00Z,MACHINE-A01,,BREAK,backwards,",
        "2025-01-14T11:00:00Z,2025-01-14T11:10:00Z,MACHINE-Z99,,BREAK,unknown machine,",
        "2025-01-14T11:00:00Z,2025-01-14T11:10:00Z,MACHINE-A01,LINE-Z,BREAK,unknown line,",
        "2025-01-14T12:00:00Z,2025-01-14T12:10:00Z,MACHINE-A01,,brk-mech,unknown code,",
        "2025-01-14T12:20:00Z,2025-01-14T12:25:00Z,MACHINE-A01,,,no code,",
        *good_stops(12),
        # Overlapping row 2 and duplicating row 3, slices away from them.
        "2025-01-14T08:15:00Z,2025-01-14T08:20:00Z,MACHINE-A01,,BRK-MECH,inside row 2,",
        "2025-01-14T09:00:00Z,2025-01-14T09:05:00Z,MACHINE-A02,,BRK-MECH,same start as row 3,",
        "2025-01-14T13:00:00Z,2025-01-14T13:10:00Z,MACHINE-A01,,BREAK,too,many,fields",
        "2025-03-30 02:30:00,2025-03-30 03:30:00,MACHINE-A01,,BREAK,skipped local time,",
        *good_stops(12, day=21),
        # A chain: each overlaps the one before, the first of them the long stop of row 2's machine.
        "2025-01-21T05:00:00Z,2025-01-21T07:00:00Z,MACHINE-A01,,BREAK,long,",
        "2025-01-21T05:30:00Z,2025-01-21T05:40:00Z,MACHINE-A01,,BREAK,inside long,",
        "2025-01-21T05:35:00Z,2025-01-21T05:50:00Z,MACHINE-A01,,BREAK,inside both,",
    ]
)

BAD_STATE_LOG = "\n".join(
    [
        STATE_HEADER,
        "MACHINE-A01,2025-01-14T08:00:00Z,2025-01-14T09:00:00Z,RUNNING,",
        "MACHINE-A02,2025-01-14T08:00:00Z,,BREAK,",
        "MACHINE-A01,2025-01-14T09:00:00Z,,running,",
        "MACHINE-A01,2025-01-14T09:30:00Z,,JAM,",
        "MACHINE-A01,2025-01-14T09:40:00Z,,RUNNING,BRK-MECH",
        "MACHINE-A01,2025-01-14T09:50:00Z,,STOPPED,NOPE",
        "MACHINE-A01,2025-01-14T09:55:00Z,,,",
        "MACHINE-A02,2025-01-14T10:00:00Z,2025-01-14T09:00:00Z,BREAK,",
        "MACHINE-Z99,2025-01-14T10:00:00Z,,RUNNING,",
        *[f"MACHINE-A02,2025-01-15T{8 + n // 6:02d}:{n % 6 * 10:02d}:00Z,,RUNNING," for n in range(20)],
        # Inside row 2's state, and the same start as row 3, slices away from them.
        "MACHINE-A01,2025-01-14T08:30:00Z,,BREAK,",
        "MACHINE-A02,2025-01-14T08:00:00Z,,RUNNING,",
        "MACHINE-A01,not a time,,RUNNING,",
        *[f"MACHINE-A01,2025-01-16T{8 + n // 6:02d}:{n % 6 * 10:02d}:00Z,,RUNNING," for n in range(20)],
    ]
)

BAD_SCHEDULE = "\n".join(
    [
        SCHEDULE_HEADER,
        "SCH-1,LINE-A1,,,,2025-01-14T06:00:00Z,2025-01-14T14:00:00Z,1000,",
        "SCH-2,LINE-Z,,,,2025-01-14T06:00:00Z,2025-01-14T14:00:00Z,1000,",
        "SCH-3,LINE-A1,,PRODUCT-X,,2025-01-14T06:00:00Z,2025-01-14T14:00:00Z,-5,",
        "SCH-4,LINE-A1,,,,2025-01-14T14:00:00Z,2025-01-14T06:00:00Z,2.5,",
        ",LINE-A1,,,,2025-01-14T06:00:00Z,2025-01-14T14:00:00Z,,",
        *[
            f"SCH-{10 + n},LINE-A1,,,,2025-01-15T06:00:00Z,2025-01-15T14:00:00Z,{n},released"
            for n in range(25)
        ],
        "SCH-1,LINE-A1,,,,2025-01-16T06:00:00Z,2025-01-16T14:00:00Z,10,",
        "SCH-12,LINE-A1,,,,2025-01-16T06:00:00Z,2025-01-16T14:00:00Z,10,",
    ]
)

BAD_COUNTS = "\n".join(
    [
        COUNT_HEADER,
        "MACHINE-A01,2025-01-14T08:15:00Z,120,3",
        "MACHINE-A01,2025-01-14T08:30:00Z,-1,0",
        "MACHINE-A02,2025-01-14T08:30:00Z,1.5,0",
        "MACHINE-Z99,2025-01-14T08:30:00Z,10,",
        "MACHINE-A01,not a time,5,0",
        "MACHINE-A02,2025-01-14T09:00:00Z,,0",
        "MACHINE-A02,2025-01-14T09:15:00Z,abc,x",
        *[f"MACHINE-A02,2025-01-15T{8 + n // 4:02d}:{n % 4 * 15:02d}:00Z,{n},0" for n in range(25)],
        "MACHINE-A01,2025-01-14T08:15:00Z,5,0",
    ]
)

BAD_FILES = {
    "downtime": BAD_DOWNTIME,
    "machine_state_log": BAD_STATE_LOG,
    "schedule": BAD_SCHEDULE,
    "production_count": BAD_COUNTS,
}


def import_both_ways(
    database: str, lake: Lake, path: Path, kind: str, **options: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outcome validating `path` in slices of a few rows, then validating it whole (no job ids)."""
    with open_in_slices(path, from_bytes=0, xlsx_from_bytes=0, slice_bytes=SLICE_BYTES) as sliced:
        assert len(list(sliced.slices())) >= 4  # it really is read in several slices
    outcomes = []
    for sliced_from_bytes in (0, WHOLE):
        importer = FileImporter(database, lake, sliced_from_bytes=sliced_from_bytes, slice_bytes=SLICE_BYTES)
        outcome = importer.import_file(path, kind, org_id="acme", submitted_by="alice", **options).as_dict()
        outcome.pop("job_id")
        outcomes.append(outcome)
    return outcomes[0], outcomes[1]


def stored_jobs(database: str) -> list[tuple]:
    return query(
        database,
        """SELECT status, rows_read, rows_imported, errors, error_counts, total_errors, total_bad_rows
           FROM import_jobs ORDER BY job_id""",
    )


def nothing_landed(database: str, lake: Lake) -> bool:
    stops = query(database, "SELECT count(*) FROM oee_downtime_events")[0][0]
    schedules = query(database, "SELECT count(*) FROM production_schedules")[0][0]
    return stops == 0 and schedules == 0 and not list(Path(lake.root).rglob("*.parquet"))


def reasons(outcome: dict[str, Any], start: str) -> list[tuple[int, str]]:
    return [(e["row"], e["reason"]) for e in outcome["errors"] if e["reason"].startswith(start)]


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_of_each_kind_is_refused_the_same_in_slices(
    kind: str, plant_database: str, lake: Lake, write_file
) -> None:
    path = write_file(f"{kind}.csv", BAD_FILES[kind] + "\n")

    sliced, whole = import_both_ways(plant_database, lake, path, kind)

    assert sliced == whole
    assert sliced["status"] == "REJECTED" and sliced["rows_imported"] == 0
    assert sliced["total_bad_rows"] >= 6 and len(sliced["error_counts"]) >= 5
    first, second = stored_jobs(plant_database)
    assert first == second
    assert nothing_landed(plant_database, lake)


def test_overlaps_and_duplicates_are_found_across_slices(plant_database: str, lake: Lake, write_file) -> None:
    stops = write_file("downtime.csv", BAD_DOWNTIME + "\n")
    states = write_file("states.csv", BAD_STATE_LOG + "\n")

    downtime, _ = import_both_ways(plant_database, lake, stops, "downtime")
    state_log, _ = import_both_ways(plant_database, lake, states, "machine_state_log")

    assert reasons(downtime, "overlaps") == [
        (22, "overlaps the stop of the same machine in row 2"),
        (23, "overlaps the stop of the same machine in row 3"),
        (39, "overlaps the stop of the same machine in row 38"),
        (40, "overlaps the stop of the same machine in row 39"),
    ]
    assert reasons(downtime, "duplicate") == [(23, "duplicate of row 3 (same machine_id, start_timestamp)")]
    assert downtime["error_counts"]["start_timestamp: overlaps the stop of the same machine in row N"] == 4
    assert reasons(state_log, "overlaps") == [(31, "overlaps the state of the same machine in row 2")]
    assert reasons(state_log, "duplicate") == [(32, "duplicate of row 3 (same machine_id, start)")]


def test_stops_already_imported_are_reported_the_same_in_slices(
    importer: FileImporter, plant_database: str, lake: Lake, write_file
) -> None:
    earlier = "\n".join([DOWNTIME_HEADER, *good_stops(3, day=22)]) + "\n"
    assert importer.import_file(
        write_file("earlier.csv", earlier), "downtime", org_id="acme", submitted_by="alice"
    ).landed
    again = "\n".join([DOWNTIME_HEADER, *good_stops(20, day=23), *good_stops(3, day=22)]) + "\n"

    sliced, whole = import_both_ways(plant_database, lake, write_file("again.csv", again), "downtime")

    assert sliced == whole
    assert [error["row"] for error in sliced["errors"]] == [22, 23, 24]
    assert {error["reason"] for error in sliced["errors"]} == {
        "already imported (same machine_id, start_timestamp)"
    }
    assert stored_jobs(plant_database)[1] == stored_jobs(plant_database)[2]


GOOD_STATE_LOG = "\n".join(
    [
        STATE_HEADER,
        # States without an end run until the machine's next row, several slices later.
        "MACHINE-A01,2025-01-14T06:00:00Z,,RUNNING,",
        *[f"MACHINE-A02,2025-01-14T{6 + n // 6:02d}:{n % 6 * 10:02d}:00Z,,RUNNING," for n in range(20)],
        "MACHINE-A01,2025-01-14T09:00:00Z,2025-01-14T09:30:00Z,BREAK,",
        "MACHINE-A02,2025-01-14T10:00:00Z,2025-01-14T10:05:00Z,STOPPED,BRK-MECH",
        "MACHINE-A01,2025-01-14T11:00:00Z,,RUNNING,",
    ]
)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("downtime", "\n".join([DOWNTIME_HEADER, *good_stops(30)])),
        ("schedule", "\n".join(BAD_SCHEDULE.splitlines()[:2] + BAD_SCHEDULE.splitlines()[6:31])),
        ("machine_state_log", GOOD_STATE_LOG),
    ],
)
def test_a_good_file_lands_the_same_from_slices(
    kind: str, text: str, plant_database: str, tmp_path: Path, write_file
) -> None:
    path = write_file(f"{kind}.csv", text + "\n")
    landed = []
    for sliced_from_bytes, folder in ((0, "sliced"), (WHOLE, "whole")):
        lake = Lake(str(tmp_path / folder))
        importer = FileImporter(
            plant_database, lake, sliced_from_bytes=sliced_from_bytes, slice_bytes=SLICE_BYTES
        )
        outcome = importer.import_file(path, kind, org_id="acme", submitted_by="alice").as_dict()
        outcome.pop("job_id")
        stops = query(
            plant_database,
            """SELECT machine_id, line_id, start_time, end_time, reason_code, description, operator_id
               FROM oee_downtime_events ORDER BY machine_id, start_time""",
        )
        schedules = query(
            plant_database,
            """SELECT external_id, line_id, planned_start, planned_end, planned_quantity, status
               FROM production_schedules ORDER BY external_id""",
        )
        files = sorted(Path(lake.root).rglob("*.parquet"))
        tables = [pq.read_table(file).drop_columns(["ingest_run_id"]).to_pylist() for file in files]
        landed.append((outcome, stops, schedules, tables))
        # The same rows again would be refused as already imported: forget the first import.
        query(plant_database, "DELETE FROM import_jobs RETURNING job_id")
        query(plant_database, "DELETE FROM oee_downtime_events RETURNING 1")
        query(plant_database, "DELETE FROM production_schedules RETURNING 1")

    (sliced, *sliced_rows), (whole, *whole_rows) = landed
    assert sliced["status"] == "SUCCESS" and sliced["rows_imported"] >= 20
    assert sliced == whole
    assert sliced_rows == whole_rows
    assert any(sliced_rows)


def test_a_windows_1250_file_is_transcoded_and_sliced(
    plant_database: str, lake: Lake, tmp_path: Path
) -> None:
    bad = tmp_path / "bad@cp1250.csv"
    bad.write_bytes((BAD_DOWNTIME.replace("row 3", POLISH) + "\n").encode("cp1250"))
    good = tmp_path / "good.csv"
    good.write_bytes(
        ("\n".join([DOWNTIME_HEADER, *good_stops(30, description=POLISH)]) + "\n").encode("cp1250")
    )

    sliced, whole = import_both_ways(plant_database, lake, bad, "downtime")
    importer = FileImporter(plant_database, lake, sliced_from_bytes=0, slice_bytes=SLICE_BYTES)
    landed = importer.import_file(good, "downtime", org_id="acme", submitted_by="alice")

    assert sliced == whole and sliced["status"] == "REJECTED" and sliced["total_bad_rows"] >= 10
    assert landed.status == "SUCCESS" and landed.rows_imported == 30
    stored = query(plant_database, "SELECT description FROM oee_downtime_events ORDER BY start_time")
    assert stored[0][0] == f"{POLISH} 0" and len(stored) == 30


def test_a_utf16_sensor_log_is_transcoded_and_sliced(plant_database: str, lake: Lake, tmp_path: Path) -> None:
    rows = [
        f"2025-01-14T{10 + n // 60:02d}:{n % 60:02d}:00Z,MACHINE-A0{1 + n % 2},température,{n}.5,°C,100"
        for n in range(40)
    ]
    text = "\n".join(
        ["timestamp,machine_id,sensor_type,value,unit,quality", *rows, rows[0], rows[1].replace("100", "101")]
    )
    path = tmp_path / "readings.csv"
    path.write_bytes((text + "\n").encode("utf-16"))

    sliced, whole = import_both_ways(plant_database, lake, path, "sensor_log")

    assert sliced == whole
    assert sliced["total_bad_rows"] == 2 and nothing_landed(plant_database, lake)


def test_an_ambiguous_large_file_is_refused_as_a_small_one_is(
    plant_database: str, lake: Lake, tmp_path: Path
) -> None:
    path = tmp_path / "downtime.csv"
    french = "Arrêt planifié : réglage de la tête – œuvre"
    path.write_bytes(
        ("\n".join([DOWNTIME_HEADER, *good_stops(30, description=french)]) + "\n").encode("cp1252")
    )

    outcomes = []
    for sliced_from_bytes in (0, WHOLE):
        importer = FileImporter(
            plant_database, lake, sliced_from_bytes=sliced_from_bytes, slice_bytes=SLICE_BYTES
        )
        outcome = importer.import_file(path, "downtime", org_id="acme", submitted_by="alice").as_dict()
        outcome.pop("job_id")
        outcomes.append(outcome)

    assert outcomes[0] == outcomes[1]
    assert "cp1250 ('Arręt'), cp1252 ('Arrêt')" in outcomes[0]["errors"][0]["reason"]
    assert nothing_landed(plant_database, lake)


def write_workbook(path: Path, text: str) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in text.splitlines():
        sheet.append([cell or None for cell in line.split(",")])
    workbook.save(path)
    return path


def test_a_workbook_is_streamed_in_slices(plant_database: str, lake: Lake, tmp_path: Path) -> None:
    lines = BAD_DOWNTIME.splitlines()
    # A workbook row cannot have too many fields: drop that row, and add a blank spacer row.
    text = "\n".join(line for line in lines if "too,many" not in line).replace("row 2,\n", "row 2,\n,,,,,,\n")
    path = write_workbook(tmp_path / "downtime.xlsx", text)

    sliced, whole = import_both_ways(plant_database, lake, path, "downtime")

    assert sliced == whole
    assert sliced["status"] == "REJECTED" and sliced["total_bad_rows"] >= 10
    assert reasons(sliced, "overlaps")[0] == (23, "overlaps the stop of the same machine in row 2")
    assert nothing_landed(plant_database, lake)
