"""Every definition loads, and `dagster definitions validate` accepts the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oee_pipelines.cli.dagster_home import load_definitions

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_definitions_load_with_every_resource_bound() -> None:
    definitions = load_definitions()
    asset_keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert {"machines", "production_lines", "shifts", "recipes"} <= asset_keys
    assert definitions.resolve_job_def("reference_data_job") is not None


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "oee_pipelines.definitions"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "OEE_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
