"""Fixtures shared by the MES/ERP tests (defs/mes, defs/erp, services/mes_erp): the seeded warehouse and the
MES/ERP simulators serving the sample records. Each folder's conftest imports them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_sources import RunningSources, running_sources, seed_reference


@pytest.fixture
def warehouse_url(clean_database: str) -> str:
    """The session warehouse, emptied, with the reference rows the sample records point at."""
    seed_reference(clean_database)
    return clean_database


@pytest.fixture
def source_data() -> SourceData:
    return sample_source_data()


@pytest.fixture
def sources(source_data: SourceData) -> Iterator[RunningSources]:
    with running_sources(source_data) as running:
        yield running
