"""The simulator's fault manifest counts exactly the faults its readings carry."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc

from oee_pipelines.domain.injected_faults import MANIFEST_FILE, injected_totals
from oee_pipelines.simulator.faults import injected_faults, write_fault_manifest
from oee_pipelines.simulator.sensors import signal_spec
from oee_pipelines_tests.support.plant_days import demo_plant

DAY = date(2025, 1, 15)


def test_spike_duplicate_and_questionable_counts_match_the_served_readings() -> None:
    plant = demo_plant()
    counts = {(row["signal"], row["fault"]): row["count"] for row in injected_faults(plant, DAY, DAY)}
    for signal in ("temperature", "humidity"):
        table = plant.telemetry(DAY, DAY + timedelta(days=1), signals=[signal])
        above = pc.sum(pc.greater(table["value"], signal_spec(signal).max_value)).as_py()
        assert counts[(signal, "spike")] == above > 0
        keys = table.select(["machine_id", "ts"]).to_pandas()
        assert counts[(signal, "duplicate")] == int(keys.duplicated().sum()) > 0
        questionable = pc.sum(pc.equal(table["quality"], 50)).as_py()
        assert counts[(signal, "questionable")] == questionable
    assert {fault for _, fault in counts} == {"spike", "duplicate", "dropout", "questionable"}


def test_the_manifest_file_holds_every_day_of_the_window(tmp_path: Path) -> None:
    plant = demo_plant()
    path = write_fault_manifest(plant, DAY, DAY + timedelta(days=1), tmp_path)
    assert path == tmp_path / MANIFEST_FILE
    document = json.loads(path.read_text())
    assert {row["day"] for row in document["faults"]} == {"2025-01-15", "2025-01-16"}
    one_day = injected_totals(document, DAY, DAY)
    assert one_day["spike"] == sum(
        row["count"] for row in injected_faults(plant, DAY, DAY) if row["fault"] == "spike"
    )
