"""MES/ERP resources: configuration from the connector YAML, secrets as EnvVar, unconfigured use named."""

from __future__ import annotations

import dagster as dg
import pytest

from oee_pipelines.config.connectors import Connection, SourceSystemConfig
from oee_pipelines.defs.resources import source_system_fields
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.mes import MESResource, SourceNotConfiguredError


def test_unconfigured_resource_loads_and_names_the_config_file_when_used() -> None:
    with pytest.raises(SourceNotConfiguredError, match=r"OEE_CONFIG_FILE.*`erp:`"):
        ERPResource().connector()


def test_credentials_written_as_env_references_are_bound_as_env_vars() -> None:
    section = SourceSystemConfig(
        section="mes",
        origin="mes_config.yml",
        system_type="custom_rest",
        connection=Connection(
            base_url="http://mes",
            credentials={"client_id": "id", "client_secret": "s3cret"},
            credential_env_vars={"client_secret": "MES_CLIENT_SECRET"},
        ),
    )

    settings = source_system_fields(section)

    assert settings["client_id"] == "id"
    assert settings["client_secret"] == dg.EnvVar("MES_CLIENT_SECRET")


def test_connection_config_carries_the_credentials_and_settings() -> None:
    resource = MESResource(
        system_type="soap", base_url="http://mes/soap", username="u", password="p", page_size=7
    )

    config = resource.connection_config()

    assert (config.system_type, config.page_size, dict(config.credentials)) == (
        "soap",
        7,
        {"username": "u", "password": "p"},
    )
