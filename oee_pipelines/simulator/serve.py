"""Start the simulated plant's source systems on loopback and describe them as connector config.

`make up` and `oee demo` use this so the real connectors talk to real servers over HTTP exactly as
they would to a plant's MES, ERP and historians; pointing them at the real systems is only a
different `OEE_CONFIG_FILE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.types import ASGIApp

from oee_pipelines.simulator.faults import write_fault_manifest
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.registry import PI_STATE_NAMES
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.mes_rest import SEED_FIELD_NAMES, MesRestCredentials, MesRestSimulator
from oee_pipelines.simulator.servers.mes_soap import MesSoapSimulator
from oee_pipelines.simulator.servers.oracle_ebs import OracleEbsSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import HistorianLogin, PointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import ROOT as SAP_ROOT
from oee_pipelines.simulator.servers.sap_odata import SapCredentials, SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 8701


@dataclass(frozen=True)
class SimulatedSystem:
    """One simulated source system: how to build its app, and the config section that reaches it."""

    name: str
    build: Callable[[SimulatedPlant, SourceData], ASGIApp]
    config: Callable[[str], tuple[str, dict[str, Any]]]  # base URL -> (config section, settings)


def _mes_rest_config(base_url: str) -> tuple[str, dict[str, Any]]:
    """The seed's `config/mes_config.yml` shape, pointed at the simulated MES."""
    credentials = MesRestCredentials()
    return "mes", {
        "enabled": True,
        "system_type": "custom_rest",
        "connection": {
            "base_url": base_url,
            "auth_type": "oauth2",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "timeout_seconds": 30,
        },
        "sync": {
            "schedule_sync_interval_minutes": 15,
            "auto_sync_enabled": True,
            "bidirectional_updates": True,
        },
        "field_mappings": dict(SEED_FIELD_NAMES),
    }


def _sap_config(base_url: str) -> tuple[str, dict[str, Any]]:
    credentials = SapCredentials()
    return "erp", {
        "enabled": True,
        "system_type": "sap_odata",
        "connection": {
            "base_url": base_url + SAP_ROOT,
            "auth_type": "basic",
            "username": credentials.username,
            "password": credentials.password,
        },
    }


def _historian_config(
    system: str, path: str, extra: dict[str, Any]
) -> Callable[[str], tuple[str, dict[str, Any]]]:
    login = HistorianLogin()

    def config(base_url: str) -> tuple[str, dict[str, Any]]:
        connection = {
            "base_url": base_url + path,
            "auth_type": "basic",
            "username": login.username,
            "password": login.password,
        }
        return "historian", {system: {"enabled": True, "connection": connection, **extra}}

    return config


SIMULATED_SYSTEMS: list[SimulatedSystem] = [
    SimulatedSystem("mes_rest", lambda plant, source: MesRestSimulator(source).app, _mes_rest_config),
    SimulatedSystem("mes_soap", lambda plant, source: MesSoapSimulator(source).app, lambda url: ("", {})),
    SimulatedSystem("sap_odata", lambda plant, source: SapODataSimulator(source).app, _sap_config),
    SimulatedSystem("oracle_ebs", lambda plant, source: OracleEbsSimulator(source).app, lambda url: ("", {})),
    SimulatedSystem(
        "pi_web_api",
        lambda plant, source: (
            PiWebApiSimulator(PointSource.from_plant(plant, "pi", state_names=PI_STATE_NAMES)).app
        ),
        _historian_config("pi", "/piwebapi", {"data_server": "PISRV01"}),
    ),
    SimulatedSystem(
        "aveva_historian",
        lambda plant, source: AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva")).app,
        _historian_config("aveva", "", {}),
    ),
]


@dataclass
class SimulatedSources:
    """All simulated systems on consecutive ports from `base_port`; a context manager."""

    plant: SimulatedPlant
    start: datetime
    end: datetime
    base_port: int = DEFAULT_BASE_PORT
    servers: dict[str, ServerThread] = field(default_factory=dict)

    def __enter__(self) -> SimulatedSources:
        source = SourceData.from_plant(self.plant, self.start, self.end)
        try:
            for offset, system in enumerate(SIMULATED_SYSTEMS):
                app = system.build(self.plant, source)
                self.servers[system.name] = ServerThread(app, host=HOST, port=self.base_port + offset).start()
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def base_urls(self) -> dict[str, str]:
        return {name: server.base_url for name, server in self.servers.items()}

    def connector_config(self) -> dict[str, Any]:
        """The OEE_CONFIG_FILE content that points every connector at these servers."""
        config: dict[str, Any] = {}
        for system in SIMULATED_SYSTEMS:
            section, settings = system.config(self.servers[system.name].base_url)
            if section:
                # Several systems share one section (PI and AVEVA under `historian`).
                config.setdefault(section, {}).update(settings)
        return config

    def write_connector_config(self, path: Path) -> Path:
        """The connector config at `path`, and beside it the fault manifest of the served days: a demo
        artifact (`oee demo`'s summary names the injected faults; the pipeline never reads it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Written by the simulator: connectors pointed at the simulated plant on loopback.\n"
            + yaml.safe_dump(self.connector_config(), sort_keys=False)
        )
        last_day = (self.end - timedelta(microseconds=1)).date()
        write_fault_manifest(self.plant, self.start.date(), last_day, path.parent)
        return path
