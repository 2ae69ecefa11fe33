"""A MES REST simulator on loopback, serving the small literal records, and configs to reach it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.mes_soap import MesSoapCredentials, MesSoapSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.connectors.mes.sample_source import FAST_RETRIES, sample_source_data

CREDENTIALS = MesRestCredentials()


@dataclass
class RunningRest:
    simulator: MesRestSimulator
    base_url: str

    def config(self, auth_type: str = "oauth2", **changes: Any) -> SourceConnectionConfig:
        credentials = {
            "oauth2": {"client_id": CREDENTIALS.client_id, "client_secret": CREDENTIALS.client_secret},
            "basic": {"username": CREDENTIALS.username, "password": CREDENTIALS.password},
            "api_key": {"api_key": CREDENTIALS.api_key},
        }[auth_type]
        settings: dict[str, Any] = {
            "system_type": "custom_rest",
            "base_url": self.base_url,
            "auth_type": auth_type,
            "credentials": credentials,
            "field_mappings": SEED_FIELD_NAMES,
            "timeout_seconds": 5.0,
            "page_size": 2,
            **FAST_RETRIES,
        }
        return SourceConnectionConfig.from_mapping({**settings, **changes})


@pytest.fixture
def source_data() -> SourceData:
    return sample_source_data()


@pytest.fixture
def rest_mes(source_data: SourceData) -> Iterator[RunningRest]:
    simulator = MesRestSimulator(source_data, max_page_size=2)
    with ServerThread(simulator.app) as server:
        yield RunningRest(simulator, server.base_url)


@dataclass
class RunningSoap:
    simulator: MesSoapSimulator
    endpoint: str

    def config(self, **changes: Any) -> SourceConnectionConfig:
        credentials = MesSoapCredentials()
        settings: dict[str, Any] = {
            "system_type": "soap",
            "base_url": self.endpoint,
            "auth_type": "basic",
            "credentials": {"username": credentials.username, "password": credentials.password},
            "timeout_seconds": 5.0,
            **FAST_RETRIES,
        }
        return SourceConnectionConfig.from_mapping({**settings, **changes})


@pytest.fixture
def soap_mes(source_data: SourceData) -> Iterator[RunningSoap]:
    simulator = MesSoapSimulator(source_data)
    with ServerThread(simulator.app) as server:
        yield RunningSoap(simulator, f"{server.base_url}/soap/mes")
