"""The one settings module: environment variables, plus an optional YAML file for connectors.

Nothing here runs at import time; call `Settings.from_env()` where settings are needed.
Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the setting in one line."""


_ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)\}")


def _interpolate(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """Replace `${NAME}` in YAML strings with environment variables, so secrets stay out of files."""
    if isinstance(value, dict):
        return {key: _interpolate(item, environ, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, environ, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"{where}: environment variable {name} is referenced but not set")
            return environ[name]

        return _ENV_REFERENCE.sub(substitute, value)
    return value


def load_connector_config(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Read the connector YAML (sections `mes`, `erp`, `historian`, `iot`) with `${VAR}` interpolation."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"OEE_CONFIG_FILE: no such file {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"OEE_CONFIG_FILE: {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"OEE_CONFIG_FILE: {path} must hold a mapping at the top level")
    unknown = sorted(set(raw) - CONNECTOR_SECTIONS)
    if unknown:
        raise ConfigError(
            f"OEE_CONFIG_FILE: unknown section '{unknown[0]}' in {path} "
            f"(expected one of {', '.join(sorted(CONNECTOR_SECTIONS))})"
        )
    return _interpolate(raw, environ, path.name)


CONNECTOR_SECTIONS = {"mes", "erp", "historian", "iot"}


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
    connectors: dict[str, Any] = field(default_factory=dict)

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
        config_file = env.get("OEE_CONFIG_FILE")
        connectors = load_connector_config(Path(config_file), env) if config_file else {}
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
            connectors=connectors,
        )
