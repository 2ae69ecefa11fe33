"""A second plant, not the demo plant, onboarded only through the public contracts, end to end.

Tsubame Metalworks (org `tsubame`) has one site in Asia/Tokyo (UTC+9, no DST) with one night shift,
22:00-06:00 local: it crosses local midnight and is 13:00-21:00 UTC of the same UTC day. One line,
two machines:

- `TSU-PRESS-1` reports to a PI Web API server (state names `Run` / `Stop` / `Setup`, a digital state
  set; cumulative good / reject counters rolling over at 65,536, every minute);
- `TSU-WELD-1` has no historian and no sensors: its states and counts come from spreadsheets (the
  machine-state log and production-count templates).

Everything reaches the warehouse through what a plant's IT would use: `oee plant apply` (the plant
model file below), `oee import` (the schedule, the state log and the counts) and the connector
configuration (`historian_config.yml` in `OEE_CONFIG_DIR`, pointing at a PI Web API server on
loopback that serves the hand-written points below: the pipeline reaches it only over HTTP). Then
the historian backfill and the OEE job run for one UTC day, and EVERY 15-minute snapshot of both
machines is compared with the values computed by hand below, to 0.01 percentage points, including
the NULL rules of docs/oee-model.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_pipelines.simulator.servers.point_source import HistorianLogin
from oee_pipelines_tests.support.second_plant import (
    DAY,
    ORG,
    PLANT_MODEL,
    SCHEDULE_CSV,
    WELD_STATE_LOG_CSV,
    differences,
    expected_snapshots,
    historian_config,
    pi_server,
    run_job,
    run_oee,
    snapshot_rows,
    weld_counts_csv,
)

pytestmark = pytest.mark.slow


def test_a_second_plant_onboarded_through_the_public_contracts_gets_the_hand_computed_oee(
    clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    files = {
        "plant.yaml": PLANT_MODEL,
        "schedule.csv": SCHEDULE_CSV,
        "weld_states.csv": WELD_STATE_LOG_CSV,
        "weld_counts.csv": weld_counts_csv(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    login = HistorianLogin()
    for name, value in {
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_LAKE_ROOT": str(tmp_path / "lake"),
        "OEE_CONFIG_DIR": str(config_dir),
        "OEE_ORG_ID": ORG,
        "PI_USERNAME": login.username,
        "PI_PASSWORD": login.password,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OEE_CONFIG_FILE", raising=False)

    run_oee("plant", "apply", str(tmp_path / "plant.yaml"))
    run_oee("import", str(tmp_path / "schedule.csv"), "--type", "schedule", "--org", ORG)
    run_oee("import", str(tmp_path / "weld_states.csv"), "--type", "machine_state_log", "--org", ORG)
    run_oee("import", str(tmp_path / "weld_counts.csv"), "--type", "production_count", "--org", ORG)
    with pi_server() as server:
        (config_dir / "historian_config.yml").write_text(historian_config(server.base_url))
        run_job("historian_backfill_job", DAY.isoformat())
    run_job("oee_daily_job", DAY.isoformat())

    actual = snapshot_rows(clean_database)
    expected = expected_snapshots()
    assert set(actual) == set(expected)  # every window of the day, both machines
    wrong = {key: diff for key in expected if (diff := differences(actual[key], expected[key]))}
    assert wrong == {}
