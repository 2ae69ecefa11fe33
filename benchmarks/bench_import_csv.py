"""Sensor-log CSV import: read, validate every cell, and convert to the telemetry Arrow table; then the
full path users take (`FileImporter`: audit row, duplicate checks against the warehouse and the lake,
validation, site/line completion, Parquet files in the lake) on a scratch embedded PostgreSQL.

The baseline is pyarrow's own CSV reader on the same file with types inferred: the floor for getting
the bytes into columns, before any of the checks that name each bad row.

The same readings as an Excel workbook (fewer rows: openpyxl builds a Python object per cell) are
read and validated, and imported by the full path; their baseline is openpyxl's read-only iteration
of the same workbook's rows, the floor of any import that reads a workbook with openpyxl.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import openpyxl
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv

from benchmarks.common import median_seconds, scratch_warehouse
from oee_pipelines.connectors.files import read_import_file
from oee_pipelines.domain.imports import ImportReference, validate_sensor_log
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake

MACHINES = [f"MACHINE-{index:03d}" for index in range(1, 51)]
SENSORS = ["temperature", "pressure", "vibration", "speed"]
UNITS = {"temperature": "degC", "pressure": "bar", "vibration": "mm/s", "speed": "rpm"}


def write_sensor_log(path: Path, rows: int, seed: int = 11) -> None:
    """A valid sensor log: one reading per second, half the rows with a UTC offset, half plant-local."""
    rng = np.random.default_rng(seed)
    seconds = np.datetime64("2025-10-01T00:00:00", "s") + np.arange(rows)
    stamps = np.datetime_as_string(seconds)
    as_utc = np.char.add(stamps, "Z")
    local = np.char.replace(stamps, "T", " ")
    sensor_index = rng.integers(0, len(SENSORS), rows)
    table = pa.table(
        {
            "timestamp": np.where(np.arange(rows) % 2 == 0, as_utc, local),
            "machine_id": np.array(MACHINES)[rng.integers(0, len(MACHINES), rows)],
            "sensor_type": np.array(SENSORS)[sensor_index],
            "value": np.round(rng.normal(50, 5, rows), 3),
            "unit": np.array([UNITS[s] for s in SENSORS])[sensor_index],
            "quality": rng.choice([100, 100, 100, 50], rows),
        }
    )
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="none"))


def write_sensor_log_xlsx(path: Path, rows: int, seed: int = 11) -> None:
    """The readings of `write_sensor_log` as a workbook, the way Excel saves them: date cells, numbers."""
    rng = np.random.default_rng(seed)
    seconds = np.datetime64("2025-10-01T00:00:00", "s") + np.arange(rows)
    machines = np.array(MACHINES)[rng.integers(0, len(MACHINES), rows)]
    sensor_index = rng.integers(0, len(SENSORS), rows)
    values = np.round(rng.normal(50, 5, rows), 3)
    quality = rng.choice([100, 100, 100, 50], rows)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("readings")
    sheet.append(["timestamp", "machine_id", "sensor_type", "value", "unit", "quality"])
    for second, machine, sensor, value, good in zip(
        seconds.tolist(),
        machines.tolist(),
        sensor_index.tolist(),
        values.tolist(),
        quality.tolist(),
        strict=True,
    ):
        sheet.append([second, machine, SENSORS[sensor], value, UNITS[SENSORS[sensor]], good])
    workbook.save(path)


def _openpyxl_rows(path: Path) -> int:
    """openpyxl's read-only iteration of the first sheet's values: the floor of an XLSX import."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        return sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True)) - 1
    finally:
        workbook.close()


def run(quick: bool) -> list[dict]:
    rows = 100_000 if quick else 1_000_000
    xlsx_rows = 10_000 if quick else 100_000
    repeats = 1 if quick else 3
    reference = ImportReference(
        org_id="demo",
        plant_timezone="UTC",
        machine_ids=frozenset(MACHINES),
        line_ids=frozenset(),
    )
    with tempfile.TemporaryDirectory(prefix="oee-bench-import-") as folder:
        path = Path(folder) / "sensor_log.csv"
        write_sensor_log(path, rows)
        outcome: dict[str, int] = {}

        def import_file() -> None:
            result = validate_sensor_log(read_import_file(path), reference)
            outcome["landed"], outcome["errors"] = result.rows.num_rows, len(result.report.errors)

        baseline_seconds = median_seconds(lambda: pa_csv.read_csv(path), repeats)
        import_seconds = median_seconds(import_file, repeats)
        full_seconds = _full_path_seconds(path, Path(folder) / "lake", rows, repeats)
        if outcome != {"landed": rows, "errors": 0}:
            raise AssertionError(f"expected {rows} rows landed without errors, got {outcome}")

        workbook = Path(folder) / "sensor_log.xlsx"
        write_sensor_log_xlsx(workbook, xlsx_rows)

        def import_workbook() -> None:
            result = validate_sensor_log(read_import_file(workbook), reference)
            outcome["landed"], outcome["errors"] = result.rows.num_rows, len(result.report.errors)

        xlsx_baseline_seconds = median_seconds(lambda: _openpyxl_rows(workbook), repeats)
        xlsx_import_seconds = median_seconds(import_workbook, repeats)
        if outcome != {"landed": xlsx_rows, "errors": 0}:
            raise AssertionError(f"expected {xlsx_rows} workbook rows without errors, got {outcome}")
        xlsx_full_seconds = _full_path_seconds(workbook, Path(folder) / "lake", xlsx_rows, repeats)
    baseline_rate = rows / baseline_seconds
    xlsx_baseline_rate = xlsx_rows / xlsx_baseline_seconds
    return [
        _result(
            f"sensor-log CSV import {rows:,} rows (read, validate, to Arrow)",
            rows,
            import_seconds,
            baseline_rate,
        ),
        _result(
            f"sensor-log CSV import {rows:,} rows, full path (audit, validate, duplicates, land in the lake)",
            rows,
            full_seconds,
            baseline_rate,
        ),
        _result(
            f"sensor-log XLSX import {xlsx_rows:,} rows (read, validate, to Arrow)",
            xlsx_rows,
            xlsx_import_seconds,
            xlsx_baseline_rate,
            XLSX_BASELINE,
        ),
        _result(
            f"sensor-log XLSX import {xlsx_rows:,} rows, full path "
            "(audit, validate, duplicates, land in the lake)",
            xlsx_rows,
            xlsx_full_seconds,
            xlsx_baseline_rate,
            XLSX_BASELINE,
        ),
    ]


CSV_BASELINE = "pyarrow.csv.read_csv of the same file"
XLSX_BASELINE = "openpyxl read-only iteration of the same workbook"


def _result(
    name: str, rows: int, seconds: float, baseline_rate: float, baseline_name: str = CSV_BASELINE
) -> dict:
    return {
        "name": name,
        "value": rows / seconds,
        "unit": "rows/s",
        "seconds": seconds,
        "baseline_name": baseline_name,
        "baseline_value": baseline_rate,
        "ratio": rows / seconds / baseline_rate,
    }


def _full_path_seconds(path: Path, lake_root: Path, rows: int, repeats: int) -> float:
    """`FileImporter.import_file` timed from a clean state each time (the same file twice is refused)."""
    with scratch_warehouse() as url:
        _load_plant(url)
        importer = FileImporter(url, Lake(str(lake_root)))
        landed: list[int] = []

        def forget_earlier_imports() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE import_jobs CASCADE")
            importer.lake.remove_folder("telemetry")

        def import_file() -> None:
            outcome = importer.import_file(path, "sensor_log", org_id="demo", submitted_by="bench")
            landed.append(outcome.rows_imported)

        seconds = median_seconds(import_file, repeats, before=forget_earlier_imports)
    if landed != [rows] * repeats:
        raise AssertionError(f"expected {rows} rows landed on every run, got {landed}")
    return seconds


def _load_plant(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('demo', 'Demo')")
        conn.execute("INSERT INTO sites (id, org_id, name) VALUES ('SITE-01', 'demo', 'Plant')")
        conn.execute(
            "INSERT INTO production_lines (id, org_id, site_id, name, code) "
            "VALUES ('LINE-001', 'demo', 'SITE-01', 'Line', 'L1')"
        )
        with conn.cursor().copy("COPY machines (id, org_id, line_id, name, code) FROM STDIN") as copy:
            for machine in MACHINES:
                copy.write_row((machine, "demo", "LINE-001", machine, machine))
