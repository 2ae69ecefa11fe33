"""Findings grouped into one alert per sensor, rule and hour, and the summary a failed check shows."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.domain.alerts import group_hourly
from oee_pipelines.domain.quality import check_ranges, drop_duplicates
from oee_pipelines_tests.support.telemetry_rows import utc


def reading(machine: str, signal: str, ts: str, value: float) -> dict:
    return {
        "org_id": "demo",
        "machine_id": machine,
        "signal": signal,
        "ts": utc(ts),
        "value": value,
        "text_value": None,
        "quality": 100,
    }


RANGES = pd.DataFrame(
    {
        "machine_id": ["M1", "M1", "M2"],
        "signal_type": ["temperature", "pressure", "temperature"],
        "min_value": [10.0, 1.0, 10.0],
        "max_value": [90.0, 5.0, 90.0],
        "violation_action": ["ALERT", "REJECT", "ALERT"],
        "is_active": [True, True, True],
    }
)


def test_out_of_range_readings_in_two_hours_make_two_alerts_with_count_first_last_and_worst() -> None:
    telemetry = pd.DataFrame(
        [
            reading("M1", "temperature", "2025-01-06 10:05", 95.0),
            reading("M1", "temperature", "2025-01-06 10:40", 150.0),  # the worst of the hour
            reading("M1", "temperature", "2025-01-06 10:50", 50.0),  # within range
            reading("M1", "temperature", "2025-01-06 10:59:59", 5.0),  # 5 below the minimum
            reading("M1", "temperature", "2025-01-06 11:00", 120.0),  # the next hour
            reading("M1", "temperature", "2025-01-06 11:30", 2.0),
            reading("M2", "temperature", "2025-01-06 10:10", 99.0),  # another sensor
        ]
    )
    result = check_ranges(telemetry, RANGES)
    assert result.counts["violations"] == 6  # per reading, as before
    alerts = result.alerts.sort_values(["machine_id", "timestamp_utc"]).reset_index(drop=True)
    assert len(alerts) == 3
    rows = alerts.to_dict("records")
    ten, eleven, other = rows
    assert (ten["machine_id"], ten["metric_name"], ten["timestamp_utc"]) == (
        "M1",
        "temperature",
        utc("2025-01-06 10:00"),
    )
    assert ten["reading_count"] == 3
    assert (ten["first_reading_at"], ten["first_value"]) == (utc("2025-01-06 10:05"), 95.0)
    assert (ten["last_reading_at"], ten["last_value"]) == (utc("2025-01-06 10:59:59"), 5.0)
    assert ten["metric_value"] == 150.0  # 60 above 90 beats 5 below 10 and 5 above 90
    assert (ten["expected_min"], ten["expected_max"], ten["details"]) == (10.0, 90.0, {"action": "ALERT"})
    assert eleven["timestamp_utc"] == utc("2025-01-06 11:00") and eleven["reading_count"] == 2
    assert (eleven["first_value"], eleven["last_value"], eleven["metric_value"]) == (120.0, 2.0, 120.0)
    assert (other["machine_id"], other["reading_count"], other["first_value"]) == ("M2", 1, 99.0)
    assert set(alerts["partition_date"].astype(str)) == {"2025-01-06"}


def test_duplicates_in_two_hours_make_two_alerts_counting_the_removed_readings() -> None:
    telemetry = pd.DataFrame(
        [
            reading("M1", "pressure", "2025-01-06 09:58:00", 3.0),
            reading("M1", "pressure", "2025-01-06 09:58:00.500", 3.0),  # duplicate, 09:00 hour
            reading("M1", "pressure", "2025-01-06 10:01:00", 3.5),
            reading("M1", "pressure", "2025-01-06 10:01:00.200", 3.5),  # duplicate
            reading("M1", "pressure", "2025-01-06 10:01:00.900", 3.5),  # duplicate of the one above
            reading("M1", "pressure", "2025-01-06 10:30:00", 4.0),
            reading("M1", "pressure", "2025-01-06 10:30:00", 4.0),  # exact repeat
        ]
    )
    result = drop_duplicates(telemetry)
    assert result.counts == {"readings": 7, "duplicates": 4}
    alerts = result.alerts.sort_values("timestamp_utc").reset_index(drop=True)
    assert list(alerts["timestamp_utc"]) == [utc("2025-01-06 09:00"), utc("2025-01-06 10:00")]
    assert list(alerts["reading_count"]) == [1, 3]
    assert list(alerts["metric_value"]) == [1.0, 3.0]
    assert list(alerts["first_reading_at"]) == [
        utc("2025-01-06 09:58:00.500"),
        utc("2025-01-06 10:01:00.200"),
    ]
    assert list(alerts["last_reading_at"]) == [utc("2025-01-06 09:58:00.500"), utc("2025-01-06 10:30:00")]
    assert list(alerts["first_value"]) == [3.0, 3.5] and list(alerts["last_value"]) == [3.0, 4.0]


def test_severity_is_the_most_severe_finding_and_unknown_metrics_are_refused() -> None:
    telemetry = pd.DataFrame(
        [
            reading("M1", "pressure", "2025-01-06 10:05", 9.0),  # REJECT: ERROR
            reading("M1", "pressure", "2025-01-06 10:06", 0.5),
        ]
    )
    alerts = check_ranges(telemetry, RANGES).alerts
    assert list(alerts["severity"]) == ["ERROR"] and list(alerts["reading_count"]) == [2]
    assert list(alerts["metric_value"]) == [9.0]  # 4 above 5 beats 0.5 below 1
    with pytest.raises(ValueError, match="metric must be one of"):
        group_hourly(alerts, metric="mean")


def test_no_findings_give_an_empty_frame_with_the_table_columns() -> None:
    result = check_ranges(pd.DataFrame([reading("M1", "temperature", "2025-01-06 10:05", 50.0)]), RANGES)
    assert result.alerts.empty and "reading_count" in result.alerts.columns
