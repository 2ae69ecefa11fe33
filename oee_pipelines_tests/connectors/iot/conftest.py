"""IoT connector test fixtures: a real mosquitto on loopback, a sensor registry, a running ingester."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.connectors.iot.ingester import IngesterConfig
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.iot import ingester_thread, sample_sensors


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """mosquitto with persistence on and max_queued_messages 0, stopped by PID afterwards."""
    with MosquittoBroker(tmp_path / "broker", free_port()) as running:
        yield running


@pytest.fixture
def sensors() -> pd.DataFrame:
    """A small `iot_sensors` registry (columns as in sql/001_foundation.sql)."""
    return sample_sensors()


@pytest.fixture
def ingester_config(tmp_path: Path, broker: MosquittoBroker) -> IngesterConfig:
    return IngesterConfig(
        broker_host="127.0.0.1",
        broker_port=broker.port,
        topics=("factory/#",),
        buffer_dir=tmp_path / "buffer",
        client_id="test-ingester",
    )


@pytest.fixture
def running_ingester() -> Callable[[IngesterConfig], object]:
    """`with running_ingester(config) as ingester:` runs `run_ingester` in a thread until the block ends."""
    return ingester_thread
