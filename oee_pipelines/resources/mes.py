"""The MES as a Dagster resource; which MES (REST, SOAP) is `system_type` in the configuration.

`SourceSystemResource` holds the settings every MES/ERP connector takes (the seed's
`config/mes_config.yml`, read by `config/connectors.py`), with each credential a top-level field so
it can be bound as a `dg.EnvVar`. An unconfigured or disabled (`enabled: false`) resource loads, and
says so only when it is used.
"""

from __future__ import annotations

import dagster as dg

from oee_pipelines.connectors.mes import MESConnector, SourceConnectionConfig, make_mes_connector

CREDENTIAL_NAMES = ("client_id", "client_secret", "username", "password", "api_key")


class SourceNotConfiguredError(Exception):
    """The pipeline needs a source system that the connector YAML does not describe."""


class SourceSystemResource(dg.ConfigurableResource):
    """Connection settings of one MES or ERP (see `SourceConnectionConfig` for their meaning)."""

    section: str = ""  # the YAML section this came from (`mes`, `erp`), for error messages
    enabled: bool = True  # `enabled: false` in the section: configured but switched off
    config_origin: str = ""  # the file the section came from, for error messages
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
        if not self.enabled:
            raise SourceNotConfiguredError(
                f"the `{self.section}` source system is disabled (`{self.section}.enabled: false` in "
                f"{self.config_origin or 'the connector configuration'}): set it to true to use it"
            )
        if not self.is_configured:
            raise SourceNotConfiguredError(
                f"no `{self.section}` section configured: set OEE_CONFIG_FILE to a YAML file with a "
                f"`{self.section}:` section, or OEE_CONFIG_DIR to a folder with {self.section}_config.yml "
                "(enabled, system_type, connection, sync, field_mappings; docs/mes-erp.md)"
            )
        credentials = {name: getattr(self, name) for name in CREDENTIAL_NAMES if getattr(self, name)}
        excluded = {"section", "enabled", "config_origin", "parallel_requests", *CREDENTIAL_NAMES}
        settings = self.model_dump(exclude=excluded)
        return SourceConnectionConfig.from_mapping({**settings, "credentials": credentials})


class MESResource(SourceSystemResource):
    """The plant's MES (`system_type`: `custom_rest` or `soap`)."""

    section: str = "mes"

    def connector(self) -> MESConnector:
        """A new connector; use it as a context manager so its connections are closed."""
        return make_mes_connector(self.connection_config())
