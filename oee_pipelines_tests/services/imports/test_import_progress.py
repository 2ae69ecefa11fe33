"""A large file reports its progress while it is imported (what `oee import` shows): the rows read so far
after each slice, then the rows landed; a small file, read whole in a moment, reports only its landing."""

from pathlib import Path

from oee_pipelines.domain.progress import Progress
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake

ROWS = 3_000


def sensor_log(rows: int) -> str:
    lines = ["timestamp,machine_id,sensor_type,value,unit,quality"]
    for index in range(rows):
        hour, minute, second = index // 3600, index // 60 % 60, index % 60
        lines.append(
            f"2025-01-14T{hour:02d}:{minute:02d}:{second:02d}Z,MACHINE-A01,temperature,75.5,degC,100"
        )
    return "\n".join(lines) + "\n"


def test_a_large_file_reports_rows_read_slice_by_slice_then_rows_landed(
    plant_database: str, lake: Lake, tmp_path: Path
) -> None:
    path = tmp_path / "sensor_log_large.csv"
    path.write_text(sensor_log(ROWS))
    heard: list[Progress] = []
    importer = FileImporter(
        plant_database, lake, sliced_from_bytes=0, slice_bytes=20_000, progress=heard.append
    )

    outcome = importer.import_file(path, "sensor_log", org_id="acme", submitted_by="alice")

    assert outcome.status == "SUCCESS" and outcome.rows_imported == ROWS
    checked = [p.done for p in heard if p.unit == "rows checked"]
    assert len(checked) >= 5  # one report per slice of about 20 kB
    assert checked == sorted(checked) and checked[-1] == ROWS and checked[0] < ROWS
    assert all(
        p.task == "import sensor_log_large.csv" and p.total is None for p in heard if p.unit != "rows landed"
    )
    landed = [(p.done, p.total) for p in heard if p.unit == "rows landed"]
    assert landed == [(0, ROWS), (ROWS, ROWS)]
    assert heard[-1].finished


def test_a_small_file_reports_only_its_landing(plant_database: str, lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "sensor_log_small.csv"
    path.write_text(sensor_log(4))
    heard: list[Progress] = []
    importer = FileImporter(plant_database, lake, progress=heard.append)

    outcome = importer.import_file(path, "sensor_log", org_id="acme", submitted_by="alice")

    assert outcome.rows_imported == 4
    assert [(p.unit, p.done, p.total) for p in heard] == [("rows landed", 0, 4), ("rows landed", 4, 4)]
