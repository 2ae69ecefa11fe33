"""A failed data-quality check on `enriched_telemetry` says what failed and where to look."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg

from oee_pipelines.defs.telemetry.assets import enriched_telemetry
from oee_pipelines.defs.telemetry.checks import (
    no_duplicate_readings,
    readings_within_range,
    telemetry_complete,
)
from oee_pipelines_tests.support.plant_days import load_plant

DAY = date(2025, 1, 15)


def test_failed_checks_name_the_rule_the_counts_the_worst_sensors_and_where_to_look(
    clean_database: str, tmp_path: Path
) -> None:
    loaded = load_plant(clean_database, str(tmp_path / "lake"), DAY, DAY, ["machine_state", "temperature"])
    result = dg.materialize(
        [enriched_telemetry, readings_within_range, no_duplicate_readings, telemetry_complete],
        resources=loaded.resources,
        partition_key=DAY.isoformat(),
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    with psycopg.connect(clean_database) as conn:
        stored = conn.execute(
            """SELECT machine_id, metric_name, count(*), sum(reading_count) FROM data_quality_alerts
               WHERE alert_type = 'OUT_OF_RANGE' GROUP BY 1, 2 ORDER BY 4 DESC, 3 DESC, 1, 2"""
        ).fetchall()
        hours = conn.execute(
            """SELECT count(*) FROM (
                   SELECT DISTINCT machine_id, metric_name, date_trunc('hour', timestamp_utc)
                   FROM data_quality_alerts WHERE alert_type = 'OUT_OF_RANGE') AS sensor_hours"""
        ).fetchone()[0]
    assert stored, "the simulator's temperature spikes give OUT_OF_RANGE alerts"
    ranges = checks["readings_within_range"]
    assert not ranges.passed and ranges.severity == dg.AssetCheckSeverity.WARN
    metadata = {name: value.value for name, value in ranges.metadata.items()}
    # One alert per sensor and hour; the readings they stand for are counted beside them.
    alerts, readings = sum(row[2] for row in stored), sum(row[3] for row in stored)
    assert metadata["out_of_range_alerts"] == alerts == hours
    assert metadata["out_of_range_readings"] == readings > alerts
    assert metadata["failed"].startswith(
        f"OUT_OF_RANGE: {alerts:,} alerts (sensor-hours), {readings:,} readings"
    )
    assert "sensor_range_config" in metadata["rule"]
    worst_machine, worst_signal, worst_alerts, worst_readings = stored[0]
    table = metadata["worst_sensors"].splitlines()
    assert len(table) == 2 + min(5, len(stored))
    assert table[2].startswith(
        f"| {worst_machine} | {worst_signal} | OUT_OF_RANGE | {worst_alerts} | {worst_readings} |"
    )
    where = metadata["where_to_look"]
    assert f"Start with {worst_machine} {worst_signal}" in where
    assert f"telemetry/source=*/date={DAY.isoformat()}/" in where
    assert f"partition_date BETWEEN '{DAY.isoformat()}' AND '{DAY.isoformat()}'" in where
    # Humidity (HTTP, polled every interval) was not loaded: the completeness check fails on it.
    complete = {name: value.value for name, value in checks["telemetry_complete"].metadata.items()}
    assert not checks["telemetry_complete"].passed
    assert complete["failed"].startswith("GAP: ") and "LOW_COMPLETENESS: " in complete["failed"]
    assert complete["worst_sensors"].splitlines()[2].split(" | ")[1] == "humidity"
    assert "polling interval" in complete["where_to_look"]
