"""Fixtures for the OEE asset tests: the demo plant's data for a few days, in a fresh warehouse and lake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from oee_pipelines_tests.support.plant_days import OEE_SIGNALS, LoadedPlant, load_plant


@pytest.fixture
def plant_days(clean_database: str, tmp_path: Path) -> Callable[..., LoadedPlant]:
    """Load the plant for first..last (state and counter signals unless told otherwise)."""

    def load(first: date, last: date, signals: list[str] | None = None) -> LoadedPlant:
        return load_plant(clean_database, str(tmp_path / "lake"), first, last, signals or OEE_SIGNALS)

    return load
