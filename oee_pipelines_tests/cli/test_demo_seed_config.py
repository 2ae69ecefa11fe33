"""`oee demo` driven by the seed's four configuration files (`OEE_CONFIG_DIR`), copied from the seed
with only the addresses pointed at this machine: the MES (REST, OAuth 2), the ERP (SAP OData), the
historians (PI, AVEVA) and the MQTT broker named in the files feed the whole chain to OEE.

The simulated plant stands in for the plant's systems on the ports the files name (8701-8706); the
broker is a mosquitto this test starts, whose port is written into `iot_config.yml` as plant IT would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.dataset as pads
import pytest

from oee_pipelines.cli.iot import mosquitto_executable
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.description import load_plant_description
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.serve import SimulatedSources
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.seed_config import SECRETS, SEED_CONFIG, SEED_FILES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(4200), pytest.mark.usefixtures("simulated_plant_ports")]
OEE = str(Path(sys.executable).parent / "oee")
DEMO_DAY = datetime(2025, 1, 13, tzinfo=UTC)  # `oee demo`'s default first day, run for one day
SOURCE_MARGIN = timedelta(days=7)  # the simulated MES serves orders this far around the demo days


def seed_folder_for_broker(target: Path, broker_port: int) -> Path:
    """The seed folder as plant IT fills it in: the broker's port is the only value changed here."""
    shutil.copytree(SEED_CONFIG, target)
    iot_config = target / "iot_config.yml"
    text = iot_config.read_text()
    assert "port: 1883" in text
    iot_config.write_text(text.replace("port: 1883", f"port: {broker_port}"))
    return target


def counts(database_url: str, *tables: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def test_the_demo_runs_every_source_path_from_the_seeds_configuration_files(
    clean_database: str, tmp_path: Path
) -> None:
    executable = mosquitto_executable()
    assert executable, "mosquitto is installed by scripts/install-system-deps.sh"
    plant = SimulatedPlant(load_plant_description(None), seed=42)
    window = (DEMO_DAY - SOURCE_MARGIN, DEMO_DAY + timedelta(days=1) + SOURCE_MARGIN)
    with (
        MosquittoBroker(tmp_path / "broker", free_port(), executable=executable) as broker,
        SimulatedSources(plant, *window) as sources,
    ):
        assert sources.base_urls()["mes_rest"] == "http://127.0.0.1:8701"  # where the files point
        config_dir = seed_folder_for_broker(tmp_path / "config", broker.port)
        unset = ("OEE_CONFIG_FILE", "OEE_LAKE_ROOT", "OEE_IMPORT_INBOX", "OEE_PLANT_FILE")
        env = {name: value for name, value in os.environ.items() if name not in unset}
        env |= SECRETS | {
            "OEE_CONFIG_DIR": str(config_dir),
            "OEE_DATABASE_URL": clean_database,
            "OEE_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
        done = subprocess.run(
            [OEE, "demo", "--days", "1"], env=env, capture_output=True, text=True, timeout=1500
        )
    assert done.returncode == 0, done.stderr[-4000:]
    assert sorted(p.name for p in config_dir.iterdir()) == sorted(SEED_FILES)
    # No simulated plant was started by the demo: the systems are the ones the files name.
    assert "simulated source systems" not in done.stdout
    assert f"IoT: the configured broker 127.0.0.1:{broker.port}" in done.stdout

    landed = counts(
        clean_database,
        "work_orders",  # MES REST (OAuth 2 client credentials from ${MES_CLIENT_ID} / ${MES_CLIENT_SECRET})
        "recipes",
        "materials",  # SAP OData (basic auth from ${SAP_USERNAME} / ${SAP_PASSWORD})
        "operator_shifts",
        "oee_snapshots",
    )
    assert all(count > 0 for count in landed.values()), landed
    assert landed["oee_snapshots"] == 16 * 96  # every machine's windows of the day

    lake = tmp_path / "data" / "lake" / "telemetry"
    by_source = {
        source: pads.dataset(lake / f"source={source}", format="parquet").count_rows()
        for source in ("pi", "aveva", "mqtt")
    }
    # PI (Berlin) and AVEVA (Chicago) from historian_config.yml; MQTT through the configured broker,
    # on the seed's topic filters `factory/+/temperature` and `factory/+/vibration`.
    assert all(rows > 0 for rows in by_source.values()), by_source
