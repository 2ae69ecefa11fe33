"""IoT landing fixtures: a buffer written by the real intake, a warehouse with a sensor registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psycopg
import pytest

from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines_tests.support.iot import REGISTRY_SQL, registry_frame


@pytest.fixture
def registry_database(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(REGISTRY_SQL)
    return clean_database


@pytest.fixture
def buffer_dir(tmp_path: Path) -> Path:
    return tmp_path / "buffer"


@pytest.fixture
def resources(tmp_path: Path, buffer_dir: Path, registry_database: str) -> dict[str, object]:
    return {
        "iot": IoTBufferResource(buffer_dir=str(buffer_dir), org_id="demo"),
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(database_url=registry_database),
    }


@pytest.fixture
def sensors_frame() -> pd.DataFrame:
    """The registry of `REGISTRY_SQL` as a frame, for landing without the warehouse."""
    return registry_frame()
