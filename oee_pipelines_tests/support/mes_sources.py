"""A small warehouse and real MES/ERP simulators on loopback, shared by the MES/ERP asset tests, the
MES/ERP API tests and the MES sync benchmark.

The warehouse holds the reference rows the sample MES records point at (organization `demo`,
LINE-001 with MACHINE-001, LINE-002, PROD-001); the simulators serve the connector tests' sample
records (five schedules and work orders on LINE-001 from 2025-01-13, recipe RCP-001).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.mes import MESResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.mes_soap import MesSoapCredentials, MesSoapSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapCredentials, SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData

# The sync window of the sample records, as the run-config builder takes it (parsed values).
WINDOW = {"start": datetime(2025, 1, 13, tzinfo=UTC), "end": datetime(2025, 1, 14, tzinfo=UTC)}
FAST_RETRIES: dict[str, Any] = {
    "retry_attempts": 3,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "timeout_seconds": 5.0,
}

REFERENCE_SQL = """
INSERT INTO organizations (id, name) VALUES ('demo', 'Demo');
INSERT INTO sites (id, org_id, name) VALUES ('SITE-01', 'demo', 'Plant 1');
INSERT INTO production_lines (id, org_id, site_id, name, code) VALUES
  ('LINE-001', 'demo', 'SITE-01', 'Bottling 1', 'L001'), ('LINE-002', 'demo', 'SITE-01', 'Canning 1', 'L002');
INSERT INTO machines (id, org_id, line_id, name, code) VALUES
  ('MACHINE-001', 'demo', 'LINE-001', 'Filler', 'F1');
INSERT INTO products (id, org_id, code, name) VALUES ('PROD-001', 'demo', 'BTL-500', 'Bottle 500 ml');
"""


def seed_reference(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(REFERENCE_SQL)


def mes_rest_resource(base_url: str) -> MESResource:
    credentials = MesRestCredentials()
    return MESResource(
        system_type="custom_rest",
        base_url=base_url,
        auth_type="oauth2",
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        field_mappings=dict(SEED_FIELD_NAMES),
        page_size=2,
        **FAST_RETRIES,
    )


def mes_soap_resource(base_url: str) -> MESResource:
    credentials = MesSoapCredentials()
    return MESResource(
        system_type="soap",
        base_url=f"{base_url}/soap/mes",
        auth_type="basic",
        username=credentials.username,
        password=credentials.password,
        **FAST_RETRIES,
    )


def sap_resource(base_url: str) -> ERPResource:
    credentials = SapCredentials()
    return ERPResource(
        system_type="sap_odata",
        base_url=f"{base_url}/sap/opu/odata/sap",
        auth_type="basic",
        username=credentials.username,
        password=credentials.password,
        **FAST_RETRIES,
    )


@dataclass
class RunningSources:
    """The simulators, their shared `SourceData`, and the resources that reach them."""

    source: SourceData
    mes_rest: MesRestSimulator
    mes_rest_url: str
    mes_soap_url: str
    sap_url: str

    def resources(self, database_url: str, mes: str = "rest") -> dict[str, Any]:
        return {
            "warehouse": WarehouseResource(database_url=database_url),
            "mes": mes_rest_resource(self.mes_rest_url)
            if mes == "rest"
            else mes_soap_resource(self.mes_soap_url),
            "erp": sap_resource(self.sap_url),
        }


@contextmanager
def running_sources(source: SourceData) -> Iterator[RunningSources]:
    """MES REST, MES SOAP and SAP OData simulators over one `SourceData`, stopped afterwards."""
    mes_rest = MesRestSimulator(source, max_page_size=2)
    with (
        ServerThread(mes_rest.app) as rest,
        ServerThread(MesSoapSimulator(source).app) as soap,
        ServerThread(SapODataSimulator(source, max_page_size=2).app) as sap,
    ):
        yield RunningSources(source, mes_rest, rest.base_url, soap.base_url, sap.base_url)


def rows(database_url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()
