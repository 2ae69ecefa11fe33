"""Telemetry checks: the blocking check stops the OEE chain on a day without machine state."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from oee_pipelines_tests.support.plant_days import load_plant, materialize_days

DAY = date(2025, 1, 15)


def test_a_day_without_machine_state_blocks_the_oee_assets(clean_database: str, tmp_path: Path) -> None:
    loaded = load_plant(clean_database, str(tmp_path / "lake"), DAY, DAY, ["pieces_good", "temperature"])
    result = materialize_days(loaded, DAY, DAY, raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["machine_state_present"].passed
    assert checks["machine_state_present"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["machine_state_present"].metadata["days_without_machine_state"].value == DAY.isoformat()
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "enriched_telemetry" in materialized
    assert materialized.isdisjoint({"oee_downtime_events", "oee_snapshots", "shift_reports", "oee_data_mart"})
    # The soft checks still report: the simulator's temperature has spikes; counters have no gaps.
    assert not checks["readings_within_range"].passed
    assert checks["readings_within_range"].severity == dg.AssetCheckSeverity.WARN
