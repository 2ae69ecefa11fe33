"""Daylight-saving days end to end: a Warsaw plant's OEE over both change days equals the simulator's.

A small simulated plant in Europe/Warsaw (`support/daylight_saving_plant.py`: three shifts every
day, one line of two machines) is onboarded through its plant model file (`oee plant apply`); its
MES REST and PI Web API servers run on free loopback ports and are reached only through the
connector configuration. For each change day the MES schedule sync, the historian backfill and the
OEE job run for the UTC day partitions holding the local day and the night before it:

- spring, 2025-03-30 (02:00 CET -> 03:00 CEST): partitions 03-29 and 03-30;
- autumn, 2025-10-26 (03:00 CEST -> 02:00 CET): partitions 10-25 and 10-26.

Then: the local day has 92 (spring) or 100 (autumn) snapshots per machine, every UTC window once;
the night shift across the change is scheduled 7 h or 9 h per machine; and every shift lying
wholly in the partitions has the OEE, factors and times of the simulator's ground truth (computed
from its own event log, `simulator/truth.py`) within 0.01 percentage points.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from oee_pipelines.domain.days import site_day_bounds
from oee_pipelines.simulator.onboarding import write_plant_model
from oee_pipelines_tests.support.daylight_saving_plant import (
    AUTUMN,
    ORG,
    SPRING,
    WARSAW,
    differing,
    query,
    run_change_day,
    true_shift_oee,
    utc_midnight,
    warsaw_plant,
)
from oee_pipelines_tests.support.second_plant import run_oee

pytestmark = pytest.mark.slow

# Shift report column -> ground-truth column (summed over the shift's windows and machines).
COMPARED = {
    "availability_pct": "availability_pct",
    "performance_raw_pct": "performance_raw_pct",
    "quality_pct": "quality_pct",
    "oee_pct": "oee_pct",
    "planned_production_time": "planned_production_minutes",
    "actual_production_time": "run_minutes",
    "total_pieces": "total_pieces",
    "good_pieces": "good_pieces",
}


def test_both_change_days_have_their_windows_shift_lengths_and_true_oee(
    clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant = warsaw_plant()
    config_file = tmp_path / "sources.yml"
    for name, value in {
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_LAKE_ROOT": str(tmp_path / "lake"),
        "OEE_ORG_ID": ORG,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OEE_CONFIG_DIR", raising=False)
    run_oee("plant", "apply", str(write_plant_model(plant, tmp_path / "plant.yaml")))
    # Written per change day, pointing at that day's simulated MES and PI servers.
    monkeypatch.setenv("OEE_CONFIG_FILE", str(config_file))

    for change in (SPRING, AUTUMN):
        run_change_day(plant, change, config_file)

        local_start, local_end = site_day_bounds(change.local_day, WARSAW)
        windows = query(
            clean_database,
            """SELECT machine_id, count(*) AS windows, count(DISTINCT snapshot_time) AS distinct_windows,
                      min(snapshot_time) AS first_end, max(snapshot_time) AS last_end
               FROM oee_snapshots WHERE window_start >= %s AND window_start < %s GROUP BY machine_id""",
            (local_start, local_end),
        )
        assert len(windows) == 2, change.name
        assert windows["windows"].tolist() == [change.windows] * 2, change.name
        assert windows["distinct_windows"].tolist() == [change.windows] * 2, change.name
        # First to last window end is the local day's length: nothing lost or doubled in between.
        span = windows["last_end"] - windows["first_end"] + pd.Timedelta(minutes=15)
        assert span.tolist() == [local_end - local_start] * 2, change.name

        first, last = utc_midnight(change.utc_days[0]), utc_midnight(change.utc_days[1]) + timedelta(days=1)
        scheduled = query(
            clean_database,
            """SELECT s.machine_id, s.shift_id, s.shift_date, sum(s.scheduled_time) AS scheduled_minutes
               FROM oee_snapshots s WHERE snapshot_time > %s AND snapshot_time <= %s
               GROUP BY s.machine_id, s.shift_id, s.shift_date""",
            (first, last),
        )
        night_date = change.local_day - timedelta(days=1)
        night = scheduled[(scheduled["shift_id"] == "WAW-SHIFT-3") & (scheduled["shift_date"] == night_date)]
        assert night["scheduled_minutes"].astype(float).tolist() == [60.0 * change.night_hours] * 2, (
            change.name
        )

        reports = query(clean_database, "SELECT * FROM shift_reports WHERE org_id = %s", (ORG,))
        truth = true_shift_oee(plant, first, last)
        # Both days' early and late shifts and the night across the change.
        assert len(truth) == 5, change.name
        truth_night = truth[(truth["shift_id"] == "WAW-SHIFT-3") & (truth["shift_date"] == night_date)]
        assert truth_night["scheduled_minutes"].tolist() == [2 * 60.0 * change.night_hours], change.name
        report_night = reports.merge(truth_night[["line_id", "shift_id", "shift_date"]])
        hours = (report_night["shift_end"] - report_night["shift_start"]).dt.total_seconds() / 3600
        assert hours.tolist() == [change.night_hours], change.name
        assert differing(reports, truth, COMPARED) == {column: [] for column in COMPARED}, change.name
        # The comparison has substance: downtime and imperfect factors in every compared shift.
        assert (truth["availability_pct"] < 100).all() and (truth["performance_raw_pct"] < 100).all()
