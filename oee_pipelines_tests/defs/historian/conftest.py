"""The demo plant's PI and AVEVA historians on loopback, a warehouse holding a few of their tag mappings
(`support/historian.py`), and the resources `historian_points` runs with."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_pipelines.resources.lake import LakeResource
from oee_pipelines_tests.support.historian_fixtures import historians, mapped_warehouse, plant

__all__ = ["historians", "lake", "mapped_warehouse", "plant"]


@pytest.fixture
def lake(tmp_path: Path) -> LakeResource:
    return LakeResource(root=str(tmp_path / "lake"))
