"""The API tests' two-organization warehouse and lake, plus a downtime row written to attack a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.published import PublishedFilesResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines_tests.support.tenant_warehouse import (
    HOSTILE_DESCRIPTION,
    HOSTILE_DOWNTIME_SQL,
    build_lake,
    seed_warehouse,
)


@pytest.fixture(scope="module")
def warehouse_url(database_url: str) -> str:
    seed_warehouse(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HOSTILE_DOWNTIME_SQL, (HOSTILE_DESCRIPTION,))
    return database_url


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture
def published_root(tmp_path: Path) -> Path:
    return tmp_path / "published"


@pytest.fixture
def resources(warehouse_url: str, lake_root: str, published_root: Path) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url),
        "lake": LakeResource(root=lake_root),
        "published_files": PublishedFilesResource(root=str(published_root)),
    }
