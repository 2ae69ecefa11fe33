"""A large CSV validated a slice at a time: a bad file is refused with exactly the outcome and stored job
of validating it whole (keys already imported included); a good file lands the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from oee_pipelines.connectors.files.csv_reader import read_csv_file_in_slices
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.import_files import (
    GOOD_SENSOR_LOG,
    SENSOR_LOG_WITH_THREE_BAD_ROWS,
    query,
    sensor_log_with_bad_rows,
)

WHOLE = 1 << 40  # no file is this large: validated whole


def import_both_ways(database: str, lake: Lake, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outcome validating `path` in slices, then validating it whole (both without job ids)."""
    assert read_csv_file_in_slices(path, path.name, from_bytes=0) is not None  # it can be sliced
    outcomes = []
    for sliced_from_bytes in (0, WHOLE):
        importer = FileImporter(database, lake, sliced_from_bytes=sliced_from_bytes)
        outcome = importer.import_file(path, "sensor_log", org_id="acme", submitted_by="alice").as_dict()
        outcome.pop("job_id")
        outcomes.append(outcome)
    return outcomes[0], outcomes[1]


def stored_jobs(database: str) -> list[tuple]:
    return query(
        database,
        """SELECT status, rows_read, rows_imported, errors, error_counts, total_errors, total_bad_rows
           FROM import_jobs ORDER BY job_id""",
    )


def test_a_file_of_many_bad_rows_is_refused_the_same_in_slices(
    plant_database: str, lake: Lake, write_file
) -> None:
    path = write_file("sensor_log_bad.csv", sensor_log_with_bad_rows(3_000, 2_000))

    sliced, whole = import_both_ways(plant_database, lake, path)

    assert sliced == whole
    assert (sliced["status"], sliced["total_bad_rows"], len(sliced["errors"])) == ("REJECTED", 5_000, 1_000)
    first, second = stored_jobs(plant_database)
    assert first == second
    assert list(Path(lake.root).rglob("*.parquet")) == []


def test_keys_already_imported_are_reported_the_same_in_slices(
    importer: FileImporter, plant_database: str, lake: Lake, write_file
) -> None:
    landed = importer.import_file(
        write_file("good.csv", GOOD_SENSOR_LOG), "sensor_log", org_id="acme", submitted_by="alice"
    )
    assert landed.status == "SUCCESS"
    again = GOOD_SENSOR_LOG.splitlines(keepends=True)[1:3]
    path = write_file("overlapping.csv", SENSOR_LOG_WITH_THREE_BAD_ROWS + "".join(again))

    sliced, whole = import_both_ways(plant_database, lake, path)

    assert sliced == whole
    already = [error["row"] for error in sliced["errors"] if error["reason"].startswith("already imported")]
    assert already == [7, 8] and sliced["total_bad_rows"] == 5
    assert stored_jobs(plant_database)[1] == stored_jobs(plant_database)[2]


def test_a_good_file_lands_the_same_from_slices(plant_database: str, tmp_path: Path, write_file) -> None:
    path = write_file(
        "good.csv", GOOD_SENSOR_LOG + SENSOR_LOG_WITH_THREE_BAD_ROWS.splitlines(keepends=True)[1]
    )
    landed = []
    for sliced_from_bytes, folder in ((0, "sliced"), (WHOLE, "whole")):
        lake = Lake(str(tmp_path / folder))
        importer = FileImporter(plant_database, lake, sliced_from_bytes=sliced_from_bytes)
        outcome = importer.import_file(path, "sensor_log", org_id="acme", submitted_by="alice").as_dict()
        # The same file again is refused as already imported: forget the first import's job.
        query(plant_database, "DELETE FROM import_jobs RETURNING job_id")
        files = sorted(Path(lake.root).rglob("*.parquet"))
        tables = [pq.read_table(file).drop_columns(["ingest_run_id"]) for file in files]
        landed.append((outcome, [file.parent.relative_to(lake.root) for file in files], tables))

    (sliced, sliced_folders, sliced_tables), (whole, whole_folders, whole_tables) = landed
    assert (sliced["status"], sliced["rows_imported"], sliced["errors"]) == ("SUCCESS", 5, [])
    for outcome in (sliced, whole):
        del outcome["job_id"]
    assert sliced == whole
    assert sliced_folders == whole_folders and len(sliced_folders) == 2
    assert all(a.equals(b) for a, b in zip(sliced_tables, whole_tables, strict=True))
