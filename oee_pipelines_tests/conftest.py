"""Shared fixtures: a real PostgreSQL (embedded, or OEE_TEST_DATABASE_URL), migrated once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.migrations import migrate
from oee_pipelines_tests.support.ports import hold_simulated_plant_ports


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long end-to-end tests (`slow`) first. Collected last (top-level files come after the
    folders), they left one xdist worker running them alone for the last minutes of `make test`."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated warehouse. The embedded server is started for this session and stopped after it."""
    external = os.environ.get("OEE_TEST_DATABASE_URL")
    if external:
        migrate(external)
        yield external
        return
    # Not under pytest's tmp folder: pytest may tighten its permissions, and the server runs as its
    # own system user when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="oee-test-warehouse-"))
    server = EmbeddedPostgres(folder / "pgdata")
    url = server.start()
    try:
        migrate(url)
        yield url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The session warehouse with every table emptied (the schema stays)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                """SELECT tablename FROM pg_tables
                   WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'"""
            ).fetchall()
        ]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    return database_url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty OEE_DATA_DIR for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def simulated_plant_ports() -> Iterator[None]:
    """Hold the machine-wide lock on the simulated plant's fixed ports for one test (support/ports.py)."""
    with hold_simulated_plant_ports():
        yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Figures a test recorded with `record_property("summary", ...)` (e.g. the Schemathesis run's
    request count), printed after the run: under pytest-xdist a worker's own output is not shown."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    lines = [
        f"{report.nodeid}: {value}"
        for report in reports
        for name, value in getattr(report, "user_properties", [])
        if name == "summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "recorded figures")
        for line in lines:
            terminalreporter.write_line(line)
