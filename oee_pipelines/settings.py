"""The one settings module: environment variables, plus the connector YAML (`OEE_CONFIG_FILE` or
`OEE_CONFIG_DIR`, read and checked by `config/connectors.py` into `Settings.sources`).

Nothing here runs at import time; call `Settings.from_env()` where settings are needed.
Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oee_pipelines.config.connectors import ConnectorConfigError, ConnectorsConfig, load_connector_config

DEFAULT_DAGSTER_GRAPHQL_URL = "http://127.0.0.1:3000/graphql"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the setting in one line."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    lake_root: str
    published_dir: Path
    import_inbox: Path
    iot_buffer_dir: Path
    plant_file: Path | None
    org_id: str
    simulator_seed: int
    # The Dagster webserver the API launches runs on (`services/runs.py`).
    dagster_graphql_url: str = DEFAULT_DAGSTER_GRAPHQL_URL
    # The connector sections as written, `${VAR}` replaced (for display); code reads `sources`.
    connectors: dict[str, Any] = field(default_factory=dict)
    sources: ConnectorsConfig = field(default_factory=ConnectorsConfig)

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("OEE_DATA_DIR", "data")).expanduser().resolve()
        database_url = env.get("OEE_DATABASE_URL") or None
        if database_url and not database_url.startswith(
            ("postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ConfigError("OEE_DATABASE_URL: must be a postgresql:// URL")
        plant_file = Path(env["OEE_PLANT_FILE"]).expanduser() if env.get("OEE_PLANT_FILE") else None
        if plant_file is not None and not plant_file.is_file():
            raise ConfigError(f"OEE_PLANT_FILE: no such file {plant_file}")
        seed_text = env.get("OEE_SIMULATOR_SEED", "42")
        if not seed_text.isdigit():
            raise ConfigError(f"OEE_SIMULATOR_SEED: must be a whole number, got {seed_text!r}")
        config_file, config_dir = env.get("OEE_CONFIG_FILE"), env.get("OEE_CONFIG_DIR")
        try:
            connectors, sources = load_connector_config(
                Path(config_file).expanduser() if config_file else None,
                Path(config_dir).expanduser() if config_dir else None,
                env,
            )
        except ConnectorConfigError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            lake_root=env.get("OEE_LAKE_ROOT") or str(data_dir / "lake"),
            published_dir=Path(env.get("OEE_PUBLISHED_DIR") or data_dir / "published"),
            import_inbox=Path(env.get("OEE_IMPORT_INBOX") or data_dir / "inbox"),
            iot_buffer_dir=Path(env.get("OEE_IOT_BUFFER_DIR") or data_dir / "iot_buffer"),
            plant_file=plant_file,
            org_id=env.get("OEE_ORG_ID", "demo"),
            simulator_seed=int(seed_text),
            dagster_graphql_url=env.get("OEE_DAGSTER_GRAPHQL_URL") or DEFAULT_DAGSTER_GRAPHQL_URL,
            connectors=connectors,
            sources=sources,
        )
