"""MES (REST, SOAP) and ERP (SAP OData, Oracle EBS) simulators on loopback, and the connector configs
that reach them (the connector tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.mes_soap import MesSoapCredentials, MesSoapSimulator
from oee_pipelines.simulator.servers.oracle_ebs import OracleCredentials, OracleEbsSimulator
from oee_pipelines.simulator.servers.sap_odata import SapCredentials, SapODataSimulator
from oee_pipelines_tests.support.mes_samples import FAST_RETRIES

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
