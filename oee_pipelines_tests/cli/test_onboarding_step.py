"""The demo's onboarding step: the simulated plant's model file, applied by the `plant_model` asset, and
its templates, imported; a second run changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.cli.onboarding import PLANT_MODEL_VARIABLE, run_plant_onboarding, write_demo_plant_model
from oee_pipelines.settings import Settings


def test_the_simulated_plant_onboards_through_its_model_file_and_templates(
    clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", clean_database)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OEE_PLANT_FILE", raising=False)
    monkeypatch.setenv(PLANT_MODEL_VARIABLE, str(write_demo_plant_model(Settings.from_env())))
    definitions = load_definitions()
    day = date(2025, 1, 13)
    with dg.instance_for_test() as instance:
        run_plant_onboarding(definitions, instance, day, day)
        first = capsys.readouterr().out
        run_plant_onboarding(definitions, instance, day, day)
        second = capsys.readouterr().out
    folder = tmp_path / "data" / "onboarding"
    assert {p.name for p in folder.iterdir()} == {
        "plant_model.yaml",
        "reason_codes.csv",
        "sensor_ranges.xlsx",
    }
    assert first.startswith("applied plant model") and ": 0 rows changed" not in first.splitlines()[0]
    assert [line.split(": ", 1)[1].split("  ")[0] for line in second.splitlines()] == ["0 rows changed"] * 3
    with psycopg.connect(clean_database) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table} WHERE org_id = 'demo'").fetchone()[0]  # type: ignore[index]
            for table in ("machines", "reason_codes", "sensor_range_config", "historian_tag_mappings")
        }
        machine_ids = {row[0] for row in conn.execute("SELECT id FROM machines")}
    assert counts == {
        "machines": 16,
        "reason_codes": 12,
        "sensor_range_config": 68,
        "historian_tag_mappings": 80,
    }
    assert "MACHINE-001" in machine_ids  # the plant's own ids, as its MES and historians send them
