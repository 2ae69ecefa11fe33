"""Locate the Dagster instance: DAGSTER_HOME, or data/dagster_home with the packaged dagster.yaml.

The template (the repository's dagster.yaml) keeps runs, events and schedule state in PostgreSQL at
OEE_DAGSTER_STORAGE_URL. When that is unset, it is a `dagster` database beside the warehouse (on the
embedded server by default): the same storage as production. On SQLite every run launch also
created and migrated a per-run event-log file, which made 20 concurrent API launches wait 3.6 s.
"""

from __future__ import annotations

import os
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg
import yaml
from psycopg import sql

from oee_pipelines.services.source_systems import RUN_LIMITS, SOURCE_SYSTEM_POOLS
from oee_pipelines.settings import ConfigError, Settings

# The instance template ships in the package (a symlink to the repository's dagster.yaml that the
# wheel build follows), so a wheel install writes the same instance as a checkout.
DAGSTER_YAML_TEMPLATE = Path(str(files("oee_pipelines.cli") / "dagster.yaml"))
DAGSTER_STORAGE_VARIABLE = "OEE_DAGSTER_STORAGE_URL"
DAGSTER_DATABASE = "dagster"
# Run config for the CLI's in-process runs (demo steps, IoT landing): the CLI prints its own summary;
# the full run logs stay in the Dagster UI.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# The instance the CLI runs its own in-process runs on (`oee demo`'s steps): DAGSTER_HOME's dagster.yaml
# with these settings over it, written beside it. Dagster's local compute-log capture redirects stdout
# and stderr to files for each run and starts four processes to mirror them back to the terminal (per
# stream a `tail -F` and a Python orphan watcher): ~75 ms of CPU per run; a one-step run's Dagster time
# went from 0.215 s to 0.135 s without it (benchmarks/bench_dagster_overhead.py). The CLI's runs print
# to the CLI's terminal already, so they capture nothing; runs launched from the UI, a schedule or a
# sensor keep the capture.
CLI_INSTANCE_FILE = "dagster.cli.yaml"
CLI_INSTANCE_SETTINGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
}


def ensure_dagster_home(settings: Settings, warehouse_url: str) -> Path:
    """Set DAGSTER_HOME when unset (data/dagster_home), give it the project's dagster.yaml, and set
    OEE_DAGSTER_STORAGE_URL when unset to a `dagster` database on the warehouse's server."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(DAGSTER_YAML_TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    if not os.environ.get(DAGSTER_STORAGE_VARIABLE):
        os.environ[DAGSTER_STORAGE_VARIABLE] = ensure_dagster_database(warehouse_url)
    return home


def cli_instance(home: Path) -> dg.DagsterInstance:
    """The Dagster instance of `home` for the CLI's in-process runs: the same storage (the UI shows
    the runs), the same settings, but no compute-log capture (CLI_INSTANCE_SETTINGS)."""
    settings = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8")) or {}
    text = (
        f"# Written by `oee` from dagster.yaml for its in-process runs "
        f"(oee_pipelines/cli/dagster_home.py); edit dagster.yaml instead.\n"
        f"{yaml.safe_dump({**settings, **CLI_INSTANCE_SETTINGS}, sort_keys=False)}"
    )
    path = home / CLI_INSTANCE_FILE
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        written = path.with_name(f".{CLI_INSTANCE_FILE}.{os.getpid()}")
        written.write_text(text, encoding="utf-8")
        written.replace(path)  # whole, even when two commands write it at once
    return dg.DagsterInstance.from_config(str(home), CLI_INSTANCE_FILE)


def apply_pool_limits(instance: dg.DagsterInstance) -> dict[str, int]:
    """Give each source-system pool its limit, unless an operator has set one already.

    Steps of asset-graph runs (backfills of selected assets) carry no job run tags, so only the pools
    hold them; dagster.yaml takes a default limit only, per-pool limits live in the instance's
    storage (`dagster instance concurrency set <pool> <limit>` changes them, and is kept).
    """
    storage = instance.event_log_storage
    configured = storage.get_concurrency_keys()
    applied = {pool: RUN_LIMITS[pool] for pool in SOURCE_SYSTEM_POOLS if pool not in configured}
    for pool, limit in applied.items():
        storage.set_concurrency_slots(pool, limit)
    return applied


def ensure_dagster_database(warehouse_url: str, database: str = DAGSTER_DATABASE) -> str:
    """Create `database` on the warehouse's server if missing; return its SQLAlchemy URL for Dagster.

    The URL names the psycopg2 driver: dagster-postgres is built and tested on it (see
    deploy/dagster.production.yaml).
    """
    try:
        with psycopg.connect(warehouse_url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.errors.DuplicateDatabase:
        pass  # another command created it at the same moment
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{DAGSTER_STORAGE_VARIABLE} is unset and the `{database}` database for Dagster's runs could "
            f"not be created beside the warehouse: {reason}. Create it, or set {DAGSTER_STORAGE_VARIABLE}."
        ) from None
    parts = urlsplit(warehouse_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", path=f"/{database}"))


def load_definitions() -> dg.Definitions:
    from oee_pipelines import definitions

    loaded = definitions.defs
    return loaded() if callable(loaded) and not isinstance(loaded, dg.Definitions) else loaded


def bound_resource(definitions: dg.Definitions, key: str) -> Any:
    """The resource `definitions` binds to `key`: the CLI finds a job's resources by name, never in defs/."""
    resources = definitions.resources or {}
    if key not in resources:
        raise ConfigError(f"the Dagster definitions bind no resource named {key!r}")
    return resources[key]
