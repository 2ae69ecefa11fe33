"""The one writer of `data_quality_alerts` on a real warehouse: grouped rows, a re-run replaces them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg
import pytest

from oee_pipelines.domain.alerts import DUPLICATE, OUT_OF_RANGE, concat_alerts
from oee_pipelines.domain.quality import check_ranges, drop_duplicates
from oee_pipelines.services.quality_alerts import day_alerts, replace_day_alerts
from oee_pipelines_tests.support.telemetry_rows import utc

DAY = date(2025, 1, 6)
TYPES = [OUT_OF_RANGE, DUPLICATE]
RANGES = pd.DataFrame(
    {
        "machine_id": ["M1"],
        "signal_type": ["temperature"],
        "min_value": [10.0],
        "max_value": [90.0],
        "violation_action": ["ALERT"],
        "is_active": [True],
    }
)


def reading(ts: str, value: float) -> dict:
    return {
        "org_id": "demo",
        "machine_id": "M1",
        "signal": "temperature",
        "ts": utc(ts),
        "value": value,
        "text_value": None,
        "quality": 100,
    }


TELEMETRY = pd.DataFrame(
    [
        reading("2025-01-06 10:05", 95.0),
        reading("2025-01-06 10:40", 150.0),
        reading("2025-01-06 10:40", 150.0),  # a repeated spike: out of range twice, then removed
        reading("2025-01-06 11:15", 2.0),
        reading("2025-01-06 11:20", 50.0),
    ]
)


def day_findings(telemetry: pd.DataFrame) -> pd.DataFrame:
    ranges = check_ranges(telemetry, RANGES)
    return concat_alerts([ranges.alerts, drop_duplicates(ranges.frame).alerts])


@pytest.fixture
def warehouse(clean_database: str) -> str:
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
    return clean_database


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT alert_type, metric_name, timestamp_utc, reading_count, first_reading_at, first_value,
                      last_reading_at, last_value, metric_value
               FROM data_quality_alerts ORDER BY alert_type, timestamp_utc"""
        ).fetchall()


def test_a_day_is_written_grouped_and_a_rerun_replaces_it_without_duplicates(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        assert replace_day_alerts(conn, day_findings(TELEMETRY), DAY, TYPES) == 3
    first = rows(warehouse)
    assert first == [
        ("DUPLICATE", "temperature", utc("2025-01-06 10:00"), 1, utc("2025-01-06 10:40"), 150.0,
         utc("2025-01-06 10:40"), 150.0, 1.0),
        ("OUT_OF_RANGE", "temperature", utc("2025-01-06 10:00"), 3, utc("2025-01-06 10:05"), 95.0,
         utc("2025-01-06 10:40"), 150.0, 150.0),
        ("OUT_OF_RANGE", "temperature", utc("2025-01-06 11:00"), 1, utc("2025-01-06 11:15"), 2.0,
         utc("2025-01-06 11:15"), 2.0, 2.0),
    ]  # fmt: skip
    with psycopg.connect(warehouse) as conn:
        replace_day_alerts(conn, day_findings(TELEMETRY), DAY, TYPES)
    assert rows(warehouse) == first  # the same rows, not twice as many
    # A re-run after the sensor was fixed in the 11:00 hour leaves only the 10:00 hour's alerts.
    with psycopg.connect(warehouse) as conn:
        replace_day_alerts(conn, day_findings(TELEMETRY.iloc[:3]), DAY, TYPES)
        read = day_alerts(conn, [DAY], [OUT_OF_RANGE])
    assert [row[2] for row in rows(warehouse)] == [utc("2025-01-06 10:00")] * 2
    assert list(read["reading_count"]) == [3] and list(read["metric_value"]) == [150.0]
    assert read.iloc[0]["first_reading_at"] == utc("2025-01-06 10:05")


def test_rows_of_other_stages_count_one_reading(warehouse: str) -> None:
    other = pd.DataFrame(
        [
            {
                "org_id": "demo",
                "machine_id": "M1",
                "alert_type": "UNMAPPED_STATE",
                "timestamp_utc": utc("2025-01-06 08:00"),
                "metric_name": "unmapped_state_readings",
                "metric_value": 4.0,
                "details": {"tag": "T"},
            }
        ]
    )
    with psycopg.connect(warehouse) as conn:
        replace_day_alerts(conn, other, DAY, ["UNMAPPED_STATE"])
        read = day_alerts(conn, [DAY], ["UNMAPPED_STATE"])
    assert list(read["reading_count"]) == [1] and read["first_reading_at"].isna().all()
