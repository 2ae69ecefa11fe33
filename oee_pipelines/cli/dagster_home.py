"""Locate the Dagster instance: DAGSTER_HOME, or data/dagster_home with the repo's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from oee_pipelines.settings import Settings

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def ensure_dagster_home(settings: Settings) -> Path:
    """Set DAGSTER_HOME when unset (data/dagster_home) and give it the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def load_definitions() -> dg.Definitions:
    from oee_pipelines import definitions

    loaded = definitions.defs
    return loaded() if callable(loaded) and not isinstance(loaded, dg.Definitions) else loaded
