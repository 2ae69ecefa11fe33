"""`oee demo`'s summary names the simulator's injected faults and the checks that caught them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from oee_pipelines.cli.summary import print_summary
from oee_pipelines.domain.injected_faults import MANIFEST_FILE, manifest
from oee_pipelines.domain.quality import check_ranges
from oee_pipelines.services.quality_alerts import replace_day_alerts
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.telemetry_rows import utc

DAY = date(2025, 1, 15)


@pytest.fixture
def warehouse_with_alerts(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('demo', 'Demo')")
        conn.execute("INSERT INTO sites (id, org_id, name) VALUES ('S1', 'demo', 'Site')")
        conn.execute(
            "INSERT INTO production_lines (id, org_id, site_id, name, code) "
            "VALUES ('L1', 'demo', 'S1', 'L', 'L')"
        )
        conn.execute(
            "INSERT INTO machines (id, org_id, line_id, name, code) VALUES ('M1', 'demo', 'L1', 'M', 'M')"
        )
    telemetry = pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": "M1",
            "signal": "temperature",
            "ts": [utc("2025-01-15 10:05"), utc("2025-01-15 10:06"), utc("2025-01-15 13:00")],
            "value": [150.0, 160.0, 170.0],
            "text_value": None,
            "quality": 100,
        }
    )
    ranges = pd.DataFrame(
        {
            "machine_id": ["M1"],
            "signal_type": ["temperature"],
            "min_value": [10.0],
            "max_value": [90.0],
            "violation_action": ["ALERT"],
            "is_active": [True],
        }
    )
    with psycopg.connect(clean_database) as conn:
        replace_day_alerts(conn, check_ranges(telemetry, ranges).alerts, DAY, ["OUT_OF_RANGE"])
    return clean_database


def write_manifest(folder: Path) -> None:
    rows = [
        {"day": DAY.isoformat(), "signal": "temperature", "fault": "spike", "count": 3},
        {"day": DAY.isoformat(), "signal": "temperature", "fault": "duplicate", "count": 2},
    ]
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest(rows, seed=42)))


def test_the_summary_puts_each_injected_fault_beside_the_check_that_caught_it(
    warehouse_with_alerts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path)
    print_summary(warehouse_with_alerts, Settings.from_env({"OEE_DATA_DIR": str(tmp_path)}), DAY, DAY)
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = lines.index(
        f"faults the simulator injected, {DAY} .. {DAY} ({MANIFEST_FILE}), and the checks that caught them:"
    )
    spike, duplicate = lines[header + 1], lines[header + 2]
    assert spike.split()[:4] == ["out-of-range", "spikes", "3", "readings"]
    assert spike.endswith("-> caught by readings_within_range: 3 readings in 2 OUT_OF_RANGE")
    assert duplicate.endswith("-> not caught by any check")
    assert "data_quality_alerts                 2" in out  # two sensor-hours, not three readings


def test_no_manifest_no_fault_lines(
    warehouse_with_alerts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print_summary(warehouse_with_alerts, Settings.from_env({"OEE_DATA_DIR": str(tmp_path)}), DAY, DAY)
    assert "faults the simulator injected" not in capsys.readouterr().out
