"""`oee import`: one file through the shared landing path, its report on stdout, and the exit status."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from oee_pipelines.cli import main
from oee_pipelines_tests.support.import_files import (
    GOOD_SENSOR_LOG,
    PLANT_SQL,
    SENSOR_LOG_WITH_THREE_BAD_ROWS,
)


@pytest.fixture
def environment(clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(PLANT_SQL)
    monkeypatch.setenv("OEE_DATABASE_URL", clean_database)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OEE_ORG_ID", "acme")
    return tmp_path / "data" / "lake"


def test_a_good_file_lands_and_exits_0(
    environment: Path, tmp_path: Path, capsys, clean_database: str
) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(GOOD_SENSOR_LOG)

    status = main(["import", str(path), "--type", "sensor_log", "--submitted-by", "carol"])

    assert status == 0
    assert (
        "sensor_log.csv (sensor_log) SUCCESS: 4 rows read, 4 imported, 0 rejected" in capsys.readouterr().out
    )
    assert len(list(environment.rglob("import-*.parquet"))) == 2
    with psycopg.connect(clean_database) as conn:
        assert conn.execute("SELECT submitted_by, org_id FROM import_jobs").fetchall() == [("carol", "acme")]


def test_a_bad_file_prints_every_error_and_exits_1(environment: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(SENSOR_LOG_WITH_THREE_BAD_ROWS)

    status = main(["import", str(path), "--type", "sensor_log"])

    out = capsys.readouterr().out
    assert status == 1
    assert "REJECTED: 5 rows read, 0 imported, 5 rejected" in out
    assert "row 3 value '75,6': not a number" in out
    assert "row 4 machine_id 'MACHINE-Z99': unknown machine" in out
    assert "row 6 quality '101': quality must be between 0 and 100" in out
    assert not environment.exists() or not list(environment.rglob("*.parquet"))


def test_quarantine_lands_the_valid_rows(environment: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(SENSOR_LOG_WITH_THREE_BAD_ROWS)

    assert main(["import", str(path), "--type", "sensor_log", "--quarantine-invalid"]) == 0
    assert "PARTIAL: 5 rows read, 2 imported, 3 rejected" in capsys.readouterr().out


def test_a_missing_file_or_unknown_org_exits_2(environment: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "sensor_log.csv"
    path.write_text(GOOD_SENSOR_LOG)

    assert main(["import", str(tmp_path / "nothing.csv"), "--type", "downtime"]) == 2
    assert main(["import", str(path), "--type", "sensor_log", "--org", "nobody"]) == 2
    assert "no organization 'nobody'" in capsys.readouterr().err
