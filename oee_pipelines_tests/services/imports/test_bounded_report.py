"""A file with thousands of bad rows: the outcome and the stored job list the first 1,000, count every one."""

from __future__ import annotations

from pathlib import Path

from oee_pipelines.cli.imports import print_outcome
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.import_files import query, sensor_log_with_bad_rows

DUPLICATE = "timestamp: duplicate row (same machine_id, sensor_type, timestamp)"
UNKNOWN_MACHINE = "machine_id: unknown machine"


def test_five_thousand_bad_rows_are_reported_bounded_and_nothing_lands(
    importer: FileImporter, write_file, plant_database: str, lake: Lake, capsys
) -> None:
    outcome = importer.import_file(
        write_file("sensor_log_bad.csv", sensor_log_with_bad_rows(3_000, 2_000)),
        "sensor_log",
        org_id="acme",
        submitted_by="alice",
    )

    assert (outcome.status, outcome.rows_read, outcome.rows_imported) == ("REJECTED", 5_001, 0)
    body = outcome.as_dict()
    assert len(body["errors"]) == 1_000 and body["errors"][0]["row"] == 3
    assert body["truncated"] is True
    assert body["error_counts"] == {DUPLICATE: 3_000, UNKNOWN_MACHINE: 2_000}
    assert (body["total_errors"], body["total_bad_rows"]) == (5_000, 5_000)
    assert list(Path(lake.root).rglob("*.parquet")) == []
    [(errors, counts, total_errors, bad_rows)] = query(
        plant_database, "SELECT errors, error_counts, total_errors, total_bad_rows FROM import_jobs"
    )
    assert len(errors) == 1_000 and errors[-1]["row"] == 1_002
    assert counts == {DUPLICATE: 3_000, UNKNOWN_MACHINE: 2_000}
    assert (total_errors, bad_rows) == (5_000, 5_000)

    print_outcome(outcome)
    printed = capsys.readouterr().out.splitlines()
    assert len([line for line in printed if line.startswith("  row ")]) == 1_000
    assert "the first 1000 of 5000 errors (5000 bad rows) are listed" in printed[1_001]
    assert printed[-2:] == [f"       3000  {DUPLICATE}", f"       2000  {UNKNOWN_MACHINE}"]


def test_a_file_level_refusal_counts_its_one_error(
    importer: FileImporter, write_file, plant_database: str
) -> None:
    outcome = importer.import_file(
        write_file("sensor_log_empty.csv", ""), "sensor_log", org_id="acme", submitted_by="a"
    )

    assert outcome.status == "REJECTED" and len(outcome.errors) == 1
    assert outcome.total_errors == 1 and not outcome.truncated
    assert outcome.error_counts == {f"file: {outcome.errors[0]['reason']}": 1}
