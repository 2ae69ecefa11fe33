"""Bad configuration stops the CLI with one line naming the setting, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oee_pipelines.storage.migrations import SQL_DIR

OEE = [str(Path(sys.executable).parent / "oee")]


def run_oee(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OEE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SQL_DIR.parent,
    )


def test_unreachable_database_url_is_one_line(tmp_path: Path) -> None:
    result = run_oee(
        ["db", "migrate"],
        {"OEE_DATABASE_URL": "postgresql://oee@127.0.0.1:9/oee", "OEE_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "oee: configuration error: OEE_DATABASE_URL: cannot connect to 127.0.0.1:9/oee"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_plant_file_names_the_setting(tmp_path: Path) -> None:
    result = run_oee(
        ["db", "url"], {"OEE_PLANT_FILE": str(tmp_path / "nope.yaml"), "OEE_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "OEE_PLANT_FILE: no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unsupported_system_type_in_the_config_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "mes_config.yml").write_text("mes:\n  enabled: true\n  system_type: 'sap_me'\n")
    result = run_oee(["db", "url"], {"OEE_CONFIG_DIR": str(folder), "OEE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "oee: configuration error: mes_config.yml: mes.system_type: 'sap_me' is not supported "
        "(supported: custom_rest, soap)"
    )
