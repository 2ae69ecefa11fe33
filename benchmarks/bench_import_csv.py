"""Sensor-log CSV import: read, validate every cell, and convert to the telemetry Arrow table.

The baseline is pyarrow's own CSV reader on the same file with types inferred: the floor for getting
the bytes into columns, before any of the checks that name each bad row.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from benchmarks.common import median_seconds
from oee_pipelines.connectors.files import read_import_file
from oee_pipelines.domain.imports import ImportReference, validate_sensor_log

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
    if outcome != {"landed": rows, "errors": 0}:
        raise AssertionError(f"expected {rows} rows landed without errors, got {outcome}")
    import_rate, baseline_rate = rows / import_seconds, rows / baseline_seconds
    return [
        {
            "name": f"sensor-log CSV import {rows:,} rows (read, validate, to Arrow)",
            "value": import_rate,
            "unit": "rows/s",
            "seconds": import_seconds,
            "baseline_name": "pyarrow.csv.read_csv of the same file",
            "baseline_value": baseline_rate,
            "ratio": import_rate / baseline_rate,
        }
    ]
