"""A MES REST and a MES SOAP simulator on loopback, serving the small literal records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines.simulator.servers.mes_rest import MesRestSimulator
from oee_pipelines.simulator.servers.mes_soap import MesSoapSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_simulators import RunningRest, RunningSoap


@pytest.fixture
def source_data() -> SourceData:
    return sample_source_data()


@pytest.fixture
def rest_mes(source_data: SourceData) -> Iterator[RunningRest]:
    simulator = MesRestSimulator(source_data, max_page_size=2)
    with ServerThread(simulator.app) as server:
        yield RunningRest(simulator, server.base_url)


@pytest.fixture
def soap_mes(source_data: SourceData) -> Iterator[RunningSoap]:
    simulator = MesSoapSimulator(source_data)
    with ServerThread(simulator.app) as server:
        yield RunningSoap(simulator, f"{server.base_url}/soap/mes")
