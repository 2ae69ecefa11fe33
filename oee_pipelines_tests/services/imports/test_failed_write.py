"""A telemetry file whose lake write fails on one of its days leaves nothing of itself, and every day
imported before exactly as it was; imported again once the disk has room, it lands in full."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.faults import disk_full_at
from oee_pipelines_tests.support.import_files import query

HEADER = "timestamp,machine_id,sensor_type,value,unit,quality\n"
MORNING = HEADER + "2025-01-14T08:00:00Z,MACHINE-A01,temperature,70.0,degC,100\n"
# Two days: the afternoon of the morning's day, then the next day.
TWO_DAYS = (
    HEADER
    + "2025-01-14T16:00:00Z,MACHINE-A01,temperature,71.0,degC,100\n"
    + "2025-01-15T08:00:00Z,MACHINE-A01,temperature,72.0,degC,100\n"
)


def files_and_bytes(lake: Lake) -> dict[str, bytes]:
    root = Path(lake.root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_failed_second_day_leaves_no_first_day_and_the_earlier_import_intact(
    importer: FileImporter, write_file, plant_database: str, lake: Lake
) -> None:
    importer.import_file(write_file("morning.csv", MORNING), "sensor_log", org_id="acme", submitted_by="a")
    before = files_and_bytes(lake)
    two_days = write_file("two_days.csv", TWO_DAYS)

    with disk_full_at("date=2025-01-15"), pytest.raises(OSError) as failure:
        importer.import_file(two_days, "sensor_log", org_id="acme", submitted_by="a")

    assert failure.value.errno == errno.ENOSPC
    assert files_and_bytes(lake) == before  # no file of the failed import, staged or published
    assert lake.read_folder("telemetry/source=import/date=2025-01-14").num_rows == 1
    assert query(plant_database, "SELECT status FROM import_jobs ORDER BY job_id") == [
        ("SUCCESS",),
        ("FAILED",),
    ]

    retried = importer.import_file(two_days, "sensor_log", org_id="acme", submitted_by="a")

    assert (retried.status, retried.rows_imported) == ("SUCCESS", 2)
    assert lake.read_folder("telemetry/source=import/date=2025-01-14").num_rows == 2
    assert lake.read_folder("telemetry/source=import/date=2025-01-15").num_rows == 1
    assert not [name for name in files_and_bytes(lake) if not name.endswith(".parquet")]
