"""Sensor-log CSV import: read, validate every cell, and convert to the telemetry Arrow table; then the
full path users take (`FileImporter`: audit row, duplicate checks against the warehouse and the lake,
validation, site/line completion, Parquet files in the lake) on a scratch embedded PostgreSQL.

The baseline is pyarrow's own CSV reader on the same file with types inferred: the floor for getting
the bytes into columns, before any of the checks that name each bad row.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
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


def run(quick: bool) -> list[dict]:
    rows = 100_000 if quick else 1_000_000
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
    baseline_rate = rows / baseline_seconds
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
    ]


def _result(name: str, rows: int, seconds: float, baseline_rate: float) -> dict:
    return {
        "name": name,
        "value": rows / seconds,
        "unit": "rows/s",
        "seconds": seconds,
        "baseline_name": "pyarrow.csv.read_csv of the same file",
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
