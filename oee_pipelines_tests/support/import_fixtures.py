"""Fixtures shared by the import tests (defs/imports, services/imports): a small plant in the warehouse (two
organizations), an empty lake and an empty inbox per test, and a writer of files to import."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from oee_pipelines.services.imports import FileImporter
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.import_files import PLANT_SQL


@pytest.fixture
def plant_database(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(PLANT_SQL)
    return clean_database


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def importer(plant_database: str, lake: Lake) -> FileImporter:
    return FileImporter(plant_database, lake)


@pytest.fixture
def write_file(tmp_path: Path):
    def write(name: str, text: str, folder: Path | None = None) -> Path:
        path = (folder or tmp_path / "files") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
