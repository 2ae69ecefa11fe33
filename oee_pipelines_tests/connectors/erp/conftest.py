"""SAP OData and Oracle EBS simulators on loopback, serving the small literal records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.simulator.servers.oracle_ebs import OracleCredentials, OracleEbsSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapCredentials, SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.connectors.mes.sample_source import FAST_RETRIES, sample_source_data


@dataclass
class RunningSap:
    simulator: SapODataSimulator
    base_url: str

    def config(self, **changes: Any) -> SourceConnectionConfig:
        credentials = SapCredentials()
        settings: dict[str, Any] = {
            "system_type": "sap_odata",
            "base_url": f"{self.base_url}/sap/opu/odata/sap",
            "credentials": {"username": credentials.username, "password": credentials.password},
            "timeout_seconds": 5.0,
            **FAST_RETRIES,
        }
        return SourceConnectionConfig.from_mapping({**settings, **changes})


@dataclass
class RunningOracle:
    simulator: OracleEbsSimulator
    base_url: str

    def config(self, **changes: Any) -> SourceConnectionConfig:
        credentials = OracleCredentials()
        settings: dict[str, Any] = {
            "system_type": "oracle_ebs",
            "base_url": self.base_url,
            "credentials": {"username": credentials.username, "password": credentials.password},
            "timeout_seconds": 5.0,
            **FAST_RETRIES,
        }
        return SourceConnectionConfig.from_mapping({**settings, **changes})


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
