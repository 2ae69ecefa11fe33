"""The one landing path (`FileImporter`): all or nothing, the audit row, duplicates, and each target."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from oee_pipelines.services.imports import FileImporter, ImportSetupError
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.import_files import (
    DOWNTIME_CSV,
    GOOD_SENSOR_LOG,
    SCHEDULE_CSV,
    SENSOR_LOG_WITH_THREE_BAD_ROWS,
    query,
)


def lake_files(lake: Lake) -> list[str]:
    return sorted(p.relative_to(lake.root).as_posix() for p in Path(lake.root).rglob("*.parquet"))


def test_a_file_with_three_bad_rows_reports_all_three_and_imports_nothing(
    importer: FileImporter, write_file, plant_database: str, lake: Lake
) -> None:
    outcome = importer.import_file(
        write_file("sensor_log_bad.csv", SENSOR_LOG_WITH_THREE_BAD_ROWS),
        "sensor_log",
        org_id="acme",
        submitted_by="alice",
    )

    assert outcome.status == "REJECTED"
    assert [(e["row"], e["column"], e["value"]) for e in outcome.errors] == [
        (3, "value", "75,6"),
        (4, "machine_id", "MACHINE-Z99"),
        (6, "quality", "101"),
    ]
    assert (outcome.rows_read, outcome.rows_imported, outcome.rows_rejected) == (5, 0, 5)
    assert lake_files(lake) == []
    [(status, read, imported, rejected, errors, who, checksum)] = query(
        plant_database,
        "SELECT status, rows_read, rows_imported, rows_rejected, errors, submitted_by, checksum "
        "FROM import_jobs",
    )
    assert (status, read, imported, rejected, who) == ("REJECTED", 5, 0, 5, "alice")
    assert [e["row"] for e in errors] == [3, 4, 6] and len(checksum) == 64


def test_a_good_sensor_log_lands_one_file_per_day_with_site_and_line(
    importer: FileImporter, write_file, plant_database: str, lake: Lake
) -> None:
    outcome = importer.import_file(
        write_file("sensor_log_good.csv", GOOD_SENSOR_LOG), "sensor_log", org_id="acme", submitted_by="bob"
    )

    assert outcome.status == "SUCCESS" and outcome.rows_imported == 4
    assert [day.isoformat() for day in outcome.affected_days] == ["2025-01-14", "2025-01-15"]
    job = outcome.job_id
    assert lake_files(lake) == [
        f"telemetry/source=import/date=2025-01-14/import-{job}.parquet",
        f"telemetry/source=import/date=2025-01-15/import-{job}.parquet",
    ]
    landed = pq.read_table(outcome.lake_files[0]).to_pylist()
    assert {(row["site_id"], row["line_id"]) for row in landed} == {("SITE-A1", "LINE-A1")}
    assert {(row["source_system"], row["source_ref"], row["ingest_run_id"]) for row in landed} == {
        ("import", "sensor_log_good.csv", f"import-{job}")
    }
    assert query(plant_database, "SELECT status, rows_imported FROM import_jobs") == [("SUCCESS", 4)]


def test_the_same_file_again_is_refused_and_lands_nothing_more(
    importer: FileImporter, write_file, plant_database: str, lake: Lake
) -> None:
    first = importer.import_file(
        write_file("sensor_log_a.csv", GOOD_SENSOR_LOG), "sensor_log", org_id="acme", submitted_by="bob"
    )
    again = importer.import_file(
        write_file("renamed.csv", GOOD_SENSOR_LOG), "sensor_log", org_id="acme", submitted_by="bob"
    )

    assert again.status == "REJECTED" and again.duplicate_of_job == first.job_id
    assert "already imported" in again.errors[0]["reason"]
    assert len(lake_files(lake)) == 2
    assert query(plant_database, "SELECT status FROM import_jobs ORDER BY job_id") == [
        ("SUCCESS",),
        ("REJECTED",),
    ]


def test_rows_imported_before_are_duplicates_named_per_row(
    importer: FileImporter, write_file, lake: Lake
) -> None:
    importer.import_file(write_file("a.csv", GOOD_SENSOR_LOG), "sensor_log", org_id="acme", submitted_by="x")
    overlapping = [*GOOD_SENSOR_LOG.splitlines()[:2], "2025-01-14T12:00:00Z,MACHINE-A01,temperature,1,degC,"]
    outcome = importer.import_file(
        write_file("b.csv", "\n".join(overlapping) + "\n"), "sensor_log", org_id="acme", submitted_by="x"
    )

    assert outcome.status == "REJECTED"
    assert [(e["row"], e["reason"]) for e in outcome.errors] == [
        (2, "already imported (same machine_id, sensor_type, timestamp)")
    ]
    assert len(lake_files(lake)) == 2


def test_downtime_lands_in_the_warehouse_with_formulas_kept_as_text(
    importer: FileImporter, write_file, plant_database: str
) -> None:
    outcome = importer.import_file(
        write_file("downtime.csv", DOWNTIME_CSV), "downtime", org_id="acme", submitted_by="x"
    )

    assert outcome.status == "SUCCESS"
    # The second stop runs over midnight, so both days changed.
    assert [day.isoformat() for day in outcome.affected_days] == ["2025-01-14", "2025-01-15"]
    rows = query(
        plant_database,
        "SELECT machine_id, line_id, is_planned, description, source_system, source_ref "
        "FROM oee_downtime_events ORDER BY start_time",
    )
    assert rows == [
        ("MACHINE-A01", "LINE-A1", False, "Conveyor belt torn", "import", "downtime.csv"),
        ("MACHINE-A02", "LINE-A1", True, "=cmd|' /C calc'!A0", "import", "downtime.csv"),
    ]
    again = DOWNTIME_CSV.replace("Conveyor belt torn", "torn belt")
    duplicate = importer.import_file(
        write_file("downtime2.csv", again), "downtime", org_id="acme", submitted_by="x"
    )
    assert [e["row"] for e in duplicate.errors] == [2, 3]
    assert query(plant_database, "SELECT count(*) FROM oee_downtime_events") == [(2,)]


def test_schedules_land_and_a_known_external_id_is_a_duplicate(
    importer: FileImporter, write_file, plant_database: str
) -> None:
    assert importer.import_file(
        write_file("s.csv", SCHEDULE_CSV), "schedule", org_id="acme", submitted_by="x"
    ).landed
    changed = SCHEDULE_CSV.replace("1000", "999")
    outcome = importer.import_file(write_file("s2.csv", changed), "schedule", org_id="acme", submitted_by="x")

    assert [(e["row"], e["column"]) for e in outcome.errors] == [(2, "external_id"), (3, "external_id")]
    assert query(
        plant_database,
        "SELECT external_id, planned_quantity, status, source_system FROM production_schedules ORDER BY 1",
    ) == [
        ("SCH-1", 1000, "scheduled", "import"),
        ("SCH-2", 800, "released", "import"),
    ]


def test_quarantine_lands_the_valid_rows_and_keeps_the_others(
    importer: FileImporter, write_file, plant_database: str, lake: Lake
) -> None:
    outcome = importer.import_file(
        write_file("sensor_log_bad.csv", SENSOR_LOG_WITH_THREE_BAD_ROWS),
        "sensor_log",
        org_id="acme",
        submitted_by="x",
        quarantine_invalid=True,
    )

    assert (outcome.status, outcome.rows_imported, outcome.rows_rejected) == ("PARTIAL", 2, 3)
    assert pq.read_table(outcome.lake_files[0]).num_rows == 2
    kept = query(
        plant_database, "SELECT row_number, cells, errors FROM import_rejected_rows ORDER BY row_number"
    )
    assert [(row, cells["machine_id"]) for row, cells, _ in kept] == [
        (3, "MACHINE-A01"),
        (4, "MACHINE-Z99"),
        (6, "MACHINE-A01"),
    ]
    assert "unknown machine" in kept[1][2]


def test_binary_and_empty_files_are_rejected_with_a_file_level_reason(
    importer: FileImporter, tmp_path: Path, plant_database: str
) -> None:
    binary = tmp_path / "sensor_log.csv"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 100)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    refused = [
        importer.import_file(path, "sensor_log", org_id="acme", submitted_by="x") for path in (binary, empty)
    ]

    assert [o.status for o in refused] == ["REJECTED", "REJECTED"]
    assert "binary" in refused[0].errors[0]["reason"] and "empty" in refused[1].errors[0]["reason"]
    stored = query(plant_database, "SELECT status, errors FROM import_jobs ORDER BY job_id")
    assert [json.dumps(errors) for _, errors in stored][1].count("empty") == 1


def test_another_organizations_machines_are_unknown(importer: FileImporter, write_file) -> None:
    text = GOOD_SENSOR_LOG.replace("MACHINE-A02", "MACHINE-B01")
    outcome = importer.import_file(write_file("x.csv", text), "sensor_log", org_id="acme", submitted_by="x")

    assert {(e["value"], e["reason"]) for e in outcome.errors} == {("MACHINE-B01", "unknown machine")}


def test_an_unknown_organization_or_type_is_refused_before_anything_is_recorded(
    importer: FileImporter, write_file, plant_database: str
) -> None:
    path = write_file("x.csv", GOOD_SENSOR_LOG)
    with pytest.raises(ImportSetupError, match="no organization 'nobody'"):
        importer.import_file(path, "sensor_log", org_id="nobody", submitted_by="x")
    with pytest.raises(ImportSetupError, match="unknown import type"):
        importer.import_file(path, "recipes", org_id="acme", submitted_by="x")
    assert query(plant_database, "SELECT count(*) FROM import_jobs") == [(0,)]


def test_the_warehouse_refuses_a_second_landed_job_for_one_checksum(plant_database: str) -> None:
    insert = (
        "INSERT INTO import_jobs (org_id, import_type, file_name, checksum, submitted_by, status) "
        "VALUES ('acme', 'sensor_log', 'f.csv', 'abc', 'x', %s)"
    )
    with psycopg.connect(plant_database, autocommit=True) as conn:
        conn.execute(insert, ("REJECTED",))
        conn.execute(insert, ("SUCCESS",))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("PARTIAL",))
