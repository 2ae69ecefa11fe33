"""The IoT kill test: N readings over MQTT (QoS 1) while the ingester process is SIGKILLed twice.

Reuses the zero-loss machinery of `oee_pipelines_tests/support/iot.py` (the
ingester as a child process, the background publisher, landing every complete hour into a lake,
redelivering a tenth of the messages after landing, landing the late hours again and counting the
lake's rows and distinct readings) with the simulated plant's MQTT sensors, at N = 100,000 (10,000
with --short).
The ingester is killed when a quarter and when 60 % of the readings are buffered, and restarted.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.iot import IngesterProcess, buffered_payloads, run_with_faults, wait_until
from reliability.common import ScenarioResult, scratch_folder

KILL_AT = (0.25, 0.6)


def run(short: bool) -> ScenarioResult:
    count = 10_000 if short else 100_000
    sensors = SimulatedPlant(load_plant_description(), seed=42).iot_sensors()
    kills: list[int] = []

    def kill_twice(buffer_dir: Path, ingester: IngesterProcess) -> None:
        for fraction in KILL_AT:
            wait_until(lambda f=fraction: len(buffered_payloads(buffer_dir)) >= count * f, seconds=120)
            kills.append(len(buffered_payloads(buffer_dir)))
            ingester.kill()
            ingester.start()

    started = time.monotonic()
    with scratch_folder("iot") as folder, MosquittoBroker(folder / "broker", free_port()) as broker:
        fault = functools.partial(kill_twice, folder / "buffer")
        counts = run_with_faults(folder, broker, sensors, count, fault)
    elapsed = time.monotonic() - started
    result = ScenarioResult(f"IoT kill test: {count:,} MQTT readings, ingester SIGKILLed twice")
    result.figures = {
        "killed with readings buffered": ", ".join(f"{buffered:,}" for buffered in kills),
        "distinct readings landed": f"{counts.distinct:,} of {count:,}",
        "rows in the lake": f"{counts.rows:,}",
        "duplicates removed": (
            f"{counts.duplicates_removed:,} ({counts.redelivered:,} redelivered after landing)"
        ),
        "quarantined": counts.quarantined,
        "duration": f"{elapsed:.1f} s",
    }
    if counts.distinct != count:
        result.lost.append(f"{count - counts.distinct:,} readings")
    if counts.rows != counts.distinct:
        result.lost.append(f"{counts.rows - counts.distinct:,} readings held twice in the lake")
    if counts.quarantined:
        result.lost.append(f"{counts.quarantined} readings quarantined")
    return result
