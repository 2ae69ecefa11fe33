"""SAP OData and Oracle EBS simulators on loopback, serving the small literal records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines.simulator.servers.oracle_ebs import OracleEbsSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_simulators import RunningOracle, RunningSap


@pytest.fixture
def source_data() -> SourceData:
    return sample_source_data()


@pytest.fixture
def sap(source_data: SourceData) -> Iterator[RunningSap]:
    simulator = SapODataSimulator(source_data, max_page_size=2)
    with ServerThread(simulator.app) as server:
        yield RunningSap(simulator, server.base_url)


@pytest.fixture
def oracle(source_data: SourceData) -> Iterator[RunningOracle]:
    simulator = OracleEbsSimulator(source_data)
    with ServerThread(simulator.app) as server:
        yield RunningOracle(simulator, server.base_url)
