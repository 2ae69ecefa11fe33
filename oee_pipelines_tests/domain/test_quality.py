"""Data-quality rules: ranges with their actions, duplicates, completeness, performance above 105 %."""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.quality import (
    check_completeness,
    check_performance,
    check_ranges,
    drop_duplicates,
    expected_intervals_from_iot_sensors,
)
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
        "machine_id": ["M1", "M1", "M1", "M2"],
        "signal_type": ["temperature", "pressure", "vibration", "temperature"],
        "min_value": [10.0, 1.0, 0.0, 10.0],
        "max_value": [90.0, 5.0, 2.0, 90.0],
        "violation_action": ["ALERT", "DEGRADE", "REJECT", "REJECT"],
        "is_active": [True, True, True, False],
    }
)


def test_range_actions_alert_keeps_degrade_sets_50_reject_removes() -> None:
    telemetry = pd.DataFrame(
        [
            reading("M1", "temperature", "2025-01-06 10:00", 95.0),
            reading("M1", "pressure", "2025-01-06 10:00", 9.0),
            reading("M1", "vibration", "2025-01-06 10:00", 3.0),
            reading("M1", "vibration", "2025-01-06 10:01", 1.0),
            reading("M2", "temperature", "2025-01-06 10:00", 500.0),  # rule inactive
            reading("M1", "speed", "2025-01-06 10:00", 1e9),  # no rule
        ]
    )
    result = check_ranges(telemetry, RANGES)
    assert result.counts == {"checked": 4, "violations": 3, "alerted": 1, "degraded": 1, "rejected": 1}
    quality = {
        (m, s, ts.strftime("%H:%M")): q
        for m, s, ts, q in result.frame[["machine_id", "signal", "ts", "quality"]].itertuples(index=False)
    }
    assert quality == {
        ("M1", "temperature", "10:00"): 100,
        ("M1", "pressure", "10:00"): 50,
        ("M1", "vibration", "10:01"): 100,
        ("M2", "temperature", "10:00"): 100,
        ("M1", "speed", "10:00"): 100,
    }
    alerts = result.alerts.set_index("metric_name")
    assert (
        alerts.loc["vibration", "severity"] == "ERROR" and alerts.loc["temperature", "severity"] == "WARNING"
    )
    assert (alerts.loc["pressure", "expected_min"], alerts.loc["pressure", "expected_max"]) == (1.0, 5.0)
    assert alerts.loc["pressure", "details"] == {"action": "DEGRADE"}
    assert set(result.alerts["alert_type"]) == {"OUT_OF_RANGE"}


def test_duplicates_are_same_value_within_one_second() -> None:
    telemetry = pd.DataFrame(
        [
            reading("M1", "temperature", "2025-01-06 10:00:00", 50.0),
            reading("M1", "temperature", "2025-01-06 10:00:00.400", 50.0),  # duplicate
            reading("M1", "temperature", "2025-01-06 10:00:00.500", 51.0),  # other value
            reading("M1", "temperature", "2025-01-06 10:00:01.500", 50.0),  # 1.1 s after the last 50
            reading("M1", "pressure", "2025-01-06 10:00:00.100", 50.0),  # other signal
            reading("M2", "temperature", "2025-01-06 10:00:00", 50.0),  # other machine
        ]
    )
    result = drop_duplicates(telemetry)
    assert result.counts == {"readings": 6, "duplicates": 1}
    assert len(result.frame) == 5 and utc("2025-01-06 10:00:00.400") not in set(result.frame["ts"])
    alert = result.alerts.iloc[0]
    assert (alert["alert_type"], alert["machine_id"], alert["metric_value"]) == ("DUPLICATE", "M1", 1.0)


def test_completeness_gaps_and_hourly_share() -> None:
    sensors = pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": ["M1"],
            "sensor_type": ["temperature"],
            "polling_interval_seconds": [60],
            "is_active": [True],
        }
    )
    expected = expected_intervals_from_iot_sensors(sensors)
    stamps = [
        ts
        for ts in pd.date_range(utc("2025-01-06 10:00"), periods=120, freq="1min")
        if not utc("2025-01-06 10:20") < ts < utc("2025-01-06 10:30")
    ]
    telemetry = pd.DataFrame([reading("M1", "temperature", str(ts.tz_localize(None)), 1.0) for ts in stamps])
    result = check_completeness(telemetry, expected, utc("2025-01-06 10:00"), utc("2025-01-06 12:00"))
    gaps = result.alerts[result.alerts["alert_type"] == "GAP"]
    # One alert for the hour the gap starts in, bounded by the readings around the silence.
    assert list(gaps["timestamp_utc"]) == [utc("2025-01-06 10:00")] and list(gaps["metric_value"]) == [600.0]
    assert list(gaps["first_reading_at"]) == [utc("2025-01-06 10:20")]
    assert list(gaps["last_reading_at"]) == [utc("2025-01-06 10:30")]
    assert list(gaps["reading_count"]) == [1]
    assert list(result.frame["present"]) == [51, 60] and list(result.frame["expected"]) == [60, 60]
    low = result.alerts[result.alerts["alert_type"] == "LOW_COMPLETENESS"]
    assert list(low["timestamp_utc"]) == [utc("2025-01-06 10:00")]
    assert list(low["reading_count"]) == [60 - 51]  # the missing readings
    assert result.counts == {"sensors": 1, "gaps": 1, "hours_below_share": 1}


def test_completeness_reports_a_silent_sensor_for_the_whole_range() -> None:
    expected = pd.DataFrame(
        {"org_id": "demo", "machine_id": ["M1"], "signal": ["pressure"], "expected_interval_s": [10.0]}
    )
    empty = pd.DataFrame([reading("M1", "temperature", "2025-01-06 10:00", 1.0)])
    result = check_completeness(empty, expected, utc("2025-01-06 10:00"), utc("2025-01-06 11:00"))
    assert result.counts["gaps"] == 1 and list(result.frame["share"]) == [0.0]


def test_performance_above_105_raises_an_alert() -> None:
    snapshots = pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": ["M1", "M2", "M3"],
            "snapshot_time": utc("2025-01-06 10:15"),
            "performance_raw_pct": [104.9, 105.1, None],
            "work_order_id": ["WO-1", "WO-2", None],
        }
    )
    result = check_performance(snapshots)
    assert list(result.alerts["machine_id"]) == ["M2"]
    assert result.alerts.iloc[0]["expected_max"] == 105.0
    assert result.counts == {"snapshots": 3, "above_limit": 1}
