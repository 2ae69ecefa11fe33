from __future__ import annotations

from pathlib import Path

import pytest

from oee_pipelines.settings import ConfigError, Settings


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({"OEE_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert settings.lake_root == str(tmp_path / "lake")
    assert settings.org_id == "demo"
    assert settings.embedded_pgdata == tmp_path / "pgdata"


def test_database_url_must_be_postgresql() -> None:
    with pytest.raises(ConfigError, match=r"^OEE_DATABASE_URL: must be a postgresql:// URL$"):
        Settings.from_env({"OEE_DATABASE_URL": "mysql://x"})


def test_connector_yaml_interpolates_env_and_names_unknown_sections(tmp_path: Path) -> None:
    config = tmp_path / "connectors.yml"
    config.write_text("mes:\n  system_type: custom_rest\n  connection:\n    client_secret: '${MES_SECRET}'\n")
    settings = Settings.from_env({"OEE_CONFIG_FILE": str(config), "MES_SECRET": "s3cret"})
    assert settings.connectors["mes"]["connection"]["client_secret"] == "s3cret"

    with pytest.raises(ConfigError, match=r"connection\.client_secret: environment variable MES_SECRET"):
        Settings.from_env({"OEE_CONFIG_FILE": str(config)})

    config.write_text("mess:\n  system_type: custom_rest\n")
    with pytest.raises(ConfigError, match="unknown section 'mess'"):
        Settings.from_env({"OEE_CONFIG_FILE": str(config)})
