"""The local Dagster instance: the repo's dagster.yaml on a `dagster` database beside the warehouse."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from oee_pipelines.cli.dagster_home import (
    DAGSTER_STORAGE_VARIABLE,
    DAGSTER_YAML_TEMPLATE,
    apply_pool_limits,
    ensure_dagster_database,
    ensure_dagster_home,
)
from oee_pipelines.services.source_systems import ERP, HISTORIAN, MES
from oee_pipelines.settings import ConfigError, Settings


def _database_exists(warehouse_url: str, name: str) -> bool:
    with psycopg.connect(warehouse_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """Whatever `ensure_dagster_home` sets in os.environ is undone after the test."""
    with patch.dict(os.environ):
        yield


def test_ensure_dagster_home_copies_the_yaml_and_points_storage_beside_the_warehouse(
    database_url: str, data_dir: Path, restored_environment: None
) -> None:
    os.environ["OEE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.pop(DAGSTER_STORAGE_VARIABLE, None)

    home = ensure_dagster_home(Settings.from_env(), database_url)

    assert os.environ["DAGSTER_HOME"] == str(home)
    assert home == (data_dir / "dagster_home").resolve()
    assert (home / "dagster.yaml").read_text() == DAGSTER_YAML_TEMPLATE.read_text()
    storage_url = urlsplit(dg.EnvVar(DAGSTER_STORAGE_VARIABLE).get_value() or "")
    assert (storage_url.scheme, storage_url.path) == ("postgresql+psycopg2", "/dagster")
    assert _database_exists(database_url, "dagster")


def test_a_configured_storage_url_is_kept(
    database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, restored_environment: None
) -> None:
    configured = "postgresql+psycopg2://dagster:secret@dagster-db.plant.local:5432/dagster"
    monkeypatch.setenv("OEE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "home"))
    monkeypatch.setenv(DAGSTER_STORAGE_VARIABLE, configured)

    ensure_dagster_home(Settings.from_env(), database_url)

    assert dg.EnvVar(DAGSTER_STORAGE_VARIABLE).get_value() == configured


def test_the_repo_yaml_keeps_runs_in_the_created_database(
    database_url: str, scratch_database_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage_url = ensure_dagster_database(database_url, scratch_database_name)
    assert ensure_dagster_database(database_url, scratch_database_name) == storage_url  # idempotent
    monkeypatch.setenv(DAGSTER_STORAGE_VARIABLE, storage_url)
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML_TEMPLATE.read_text())

    @dg.asset
    def one_row() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize([one_row], instance=instance)
    assert result.success

    dagster_db = urlunsplit(urlsplit(database_url)._replace(path=f"/{scratch_database_name}"))
    with psycopg.connect(dagster_db) as conn:
        runs = conn.execute("SELECT run_id, status FROM runs").fetchall()
    assert runs == [(result.run_id, "SUCCESS")]


def test_a_role_that_may_not_create_databases_gets_one_line_naming_the_setting(
    database_url: str, scratch_database_name: str
) -> None:
    role = f"oee_no_createdb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    parts = urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    as_role = urlunsplit(parts._replace(netloc=f"{role}@{host}"))
    try:
        with pytest.raises(ConfigError) as raised:
            ensure_dagster_database(as_role, scratch_database_name)
        message = str(raised.value)
        assert f"the `{scratch_database_name}` database" in message
        assert "permission denied to create database" in message
        assert message.endswith(f"Create it, or set {DAGSTER_STORAGE_VARIABLE}.")
        assert not _database_exists(database_url, scratch_database_name)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_source_system_pools_get_their_limits_and_an_operators_limit_is_kept() -> None:
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(HISTORIAN, 5)  # as `dagster instance concurrency set historian 5`

        applied = apply_pool_limits(instance)

        assert applied == {MES: 1, ERP: 1}
        limits = {pool: storage.get_concurrency_info(pool).slot_count for pool in (MES, ERP, HISTORIAN)}
        assert limits == {MES: 1, ERP: 1, HISTORIAN: 5}
        assert apply_pool_limits(instance) == {}  # a second start changes nothing
