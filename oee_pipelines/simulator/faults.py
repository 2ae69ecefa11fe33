"""The faults the simulated sensors inject, counted per day, signal and kind: the demo's fault manifest.

Counts replay the same random draws as the readings (`sensors.draw_faults`), so they are exact for
the readings the simulator serves. Written next to the connector config when the simulated plant
starts (`SimulatedSources.write_connector_config`); only `oee demo`'s summary reads it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from oee_pipelines.domain.injected_faults import MANIFEST_FILE, manifest
from oee_pipelines.simulator.events import SECONDS_PER_DAY
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.sensors import (
    LINE_SIGNALS,
    MACHINE_SIGNALS,
    draw_faults,
    signal_rng,
    signal_spec,
)


def injected_faults(plant: SimulatedPlant, first: date, last: date) -> list[dict[str, object]]:
    """Rows of day, signal, fault, count for every process sensor of the plant on first..last."""
    count = SECONDS_PER_DAY // plant.description.sensor_interval_seconds
    owners = [(machine.index, signal) for machine in plant.layout.machines for signal in MACHINE_SIGNALS]
    owners += [(line.index, signal) for line in plant.layout.lines for signal in LINE_SIGNALS]
    rows = []
    day = first
    while day <= last:
        totals: Counter[tuple[str, str]] = Counter()
        for owner_index, signal in owners:
            rng = signal_rng(plant.seed, owner_index, day.toordinal(), signal)
            for fault, found in draw_faults(count, signal_spec(signal).noise, rng).counts().items():
                totals[(signal, fault)] += found
        rows += [
            {"day": day.isoformat(), "signal": signal, "fault": fault, "count": found}
            for (signal, fault), found in sorted(totals.items())
        ]
        day += timedelta(days=1)
    return rows


def write_fault_manifest(plant: SimulatedPlant, first: date, last: date, folder: Path) -> Path:
    path = folder / MANIFEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(injected_faults(plant, first, last), plant.seed), indent=1))
    return path
