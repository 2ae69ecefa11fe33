"""The MES as a Dagster resource; which MES (REST, SOAP) is `system_type` in the configuration.

`SourceSystemResource` holds the settings every MES/ERP connector takes (the seed's
`config/mes_config.yml`), with each credential a top-level field so it can be bound as a
`dg.EnvVar`. An unconfigured resource loads, and names `OEE_CONFIG_FILE` only when it is used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from oee_pipelines.connectors.mes import MESConnector, SourceConnectionConfig, make_mes_connector

CREDENTIAL_NAMES = ("client_id", "client_secret", "username", "password", "api_key")
_WHOLE_ENV_REFERENCE = re.compile(r"^\$\{([A-Z0-9_]+)\}$")


class SourceNotConfiguredError(Exception):
    """The pipeline needs a source system that the connector YAML does not describe."""


class SourceSystemResource(dg.ConfigurableResource):
    """Connection settings of one MES or ERP (see `SourceConnectionConfig` for their meaning)."""

    section: str = ""  # the YAML section this came from (`mes`, `erp`), for error messages
    system_type: str = ""
    base_url: str = ""
    auth_type: str = "basic"
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 30.0
    field_mappings: dict[str, str] = {}
    page_size: int = 500
    org_id: str = "demo"
    id_prefix: str = ""
    token_path: str = "/oauth/token"
    api_key_header: str = "X-API-Key"
    service_options: dict[str, str] = {}
    retry_attempts: int = 5
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    # Single-record calls (one work order, one recipe) are sent this many at a time.
    parallel_requests: int = 8

    @property
    def is_configured(self) -> bool:
        return bool(self.system_type)

    def connection_config(self) -> SourceConnectionConfig:
        if not self.is_configured:
            raise SourceNotConfiguredError(
                f"no `{self.section}` section configured: set OEE_CONFIG_FILE to a YAML file with a "
                f"`{self.section}:` section (system_type, base_url, auth_type, credentials; docs/mes-erp.md)"
            )
        credentials = {name: getattr(self, name) for name in CREDENTIAL_NAMES if getattr(self, name)}
        settings = self.model_dump(exclude={"section", "parallel_requests", *CREDENTIAL_NAMES})
        return SourceConnectionConfig.from_mapping({**settings, "credentials": credentials})


class MESResource(SourceSystemResource):
    """The plant's MES (`system_type`: `custom_rest` or `soap`)."""

    section: str = "mes"

    def connector(self) -> MESConnector:
        """A new connector; use it as a context manager so its connections are closed."""
        return make_mes_connector(self.connection_config())


def resource_settings(section: Mapping[str, Any], raw_section: Mapping[str, Any]) -> dict[str, Any]:
    """Resource fields from a connector YAML section.

    `section` is the interpolated section (`Settings.connectors`), `raw_section` the same section as
    written; a credential written as `${NAME}` is bound as `dg.EnvVar("NAME")`, so the Dagster UI
    shows the variable's name and never the secret.
    """
    settings = {name: value for name, value in section.items() if name != "credentials"}
    raw_credentials = raw_section.get("credentials") or {}
    for name, value in (section.get("credentials") or {}).items():
        if name not in CREDENTIAL_NAMES:
            raise ValueError(f"unknown credential {name!r}; expected one of {', '.join(CREDENTIAL_NAMES)}")
        reference = _WHOLE_ENV_REFERENCE.match(str(raw_credentials.get(name, "")))
        settings[name] = dg.EnvVar(reference.group(1)) if reference else value
    return settings


def raw_connector_sections() -> dict[str, Any]:
    """The connector YAML as written (`${VAR}` references kept), or {} when OEE_CONFIG_FILE is unset.

    `Settings.from_env()` has already read and checked the file; this only recovers the references.
    """
    config_file = os.environ.get("OEE_CONFIG_FILE")
    if not config_file:
        return {}
    raw = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
    return raw if isinstance(raw, dict) else {}
