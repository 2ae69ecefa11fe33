"""The embedded server's settings: applied once, rewritten only when someone changed them."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from oee_pipelines.storage.embedded_postgres import _SERVER_SETTINGS, EmbeddedPostgres


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's tmp folder: the server may run as its own system user (see conftest.py).
    folder = Path(tempfile.mkdtemp(prefix="oee-test-embedded-"))
    embedded = EmbeddedPostgres(folder / "pgdata")
    try:
        yield embedded
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _settings(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", (list(_SERVER_SETTINGS),)
        )
        return dict(rows.fetchall())


def test_start_applies_the_settings_and_a_second_start_leaves_the_config_file_alone(
    server: EmbeddedPostgres,
) -> None:
    url = server.start()
    assert _settings(url) == _SERVER_SETTINGS
    auto_conf = server.pgdata / "postgresql.auto.conf"
    written = auto_conf.stat().st_mtime_ns
    assert server.start() == url
    assert auto_conf.stat().st_mtime_ns == written


def test_a_setting_changed_behind_its_back_is_set_again(server: EmbeddedPostgres) -> None:
    url = server.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET work_mem")
        conn.execute("SELECT pg_reload_conf()")
    _wait_for(lambda: _settings(url)["work_mem"] != _SERVER_SETTINGS["work_mem"])
    server.start()
    _wait_for(lambda: _settings(url) == _SERVER_SETTINGS)
    assert _settings(url) == _SERVER_SETTINGS


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """A reload reaches new backends once the postmaster has read the file (SIGHUP is asynchronous)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
