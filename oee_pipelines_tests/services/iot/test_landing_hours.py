"""The landing's hours cut once, not per hour: each hour gets exactly the rows the former per-hour filter
gave it, in the same order; and one warehouse connection serves a landing while each hour's quarantine
rows are still committed (and replaced on a re-landing) hour by hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.connectors.iot.landing import BufferSource, decode_segments, hour_status
from oee_pipelines.domain.iot_mapping import map_readings
from oee_pipelines.services.iot import IotLanding
from oee_pipelines.services.iot.landing import HOUR, hour_batches
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.iot import (
    ELEVEN,
    LATER,
    TEN,
    registry_frame,
    temperature,
    write_buffer,
)

TWELVE = ELEVEN + timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def shuffled_hours(buffer_dir: Path) -> None:
    """Readings of three hours, out of time order, with a duplicate and unknown sensors in two hours."""
    write_buffer(
        buffer_dir,
        temperature(ELEVEN + 5 * MINUTE, 31.0),
        temperature(TEN + 10 * MINUTE, 21.0),
        temperature(TWELVE, 40.0),
        temperature(TEN, 20.0),
        temperature(ELEVEN + 30 * MINUTE, 32.0),
        temperature(TEN + 10 * MINUTE, 21.0),  # a duplicate
        temperature(ELEVEN + 40 * MINUTE, 1.0, sensor_id="NOPE"),
        temperature(TWELVE + 59 * MINUTE, 41.0),
        temperature(TEN + 59 * MINUTE, 22.0),
        temperature(TWELVE + 1 * MINUTE, 2.0, sensor_id="NOPE"),
    )


def test_each_hour_gets_the_rows_the_per_hour_filter_gave_in_their_order(tmp_path: Path) -> None:
    shuffled_hours(tmp_path)
    source = BufferSource(tmp_path)
    batches = list(hour_batches(source, [TEN, ELEVEN, TWELVE], registry_frame(), "run-1"))

    readings = decode_segments(source.segments_holding(TEN))
    whole = map_readings(readings.raw, registry_frame(), "run-1")
    for hour, batch in zip([TEN, ELEVEN, TWELVE], batches, strict=True):
        start = pa.scalar(pd.Timestamp(hour), pa.timestamp("us", tz="UTC"))
        end = pa.scalar(pd.Timestamp(hour + HOUR), pa.timestamp("us", tz="UTC"))
        in_hour = pc.and_(pc.greater_equal(whole.telemetry["ts"], start), pc.less(whole.telemetry["ts"], end))
        assert batch.telemetry.equals(whole.telemetry.filter(in_hour))
    assert [batch.telemetry.column("value").to_pylist() for batch in batches] == [
        [21.0, 20.0, 22.0],
        [31.0, 32.0],
        [40.0, 41.0],
    ]
    assert [batch.stats.duplicates_removed for batch in batches] == [1, 0, 0]
    assert [batch.quarantine["reason"].tolist() for batch in batches] == [
        [],
        ["unknown sensor"],
        ["unknown sensor"],
    ]


def test_one_connection_lands_every_hour_and_each_hour_is_committed(
    tmp_path: Path, registry_database: str
) -> None:
    buffer_dir, lake = tmp_path / "buffer", Lake(str(tmp_path / "lake"))
    shuffled_hours(buffer_dir)
    landing = IotLanding(lake, registry_database, "demo")

    def quarantine_by_hour() -> list[tuple[object, int]]:
        with psycopg.connect(registry_database) as conn:
            return conn.execute(
                "SELECT hour_start, count(*) FROM iot_quarantine GROUP BY hour_start ORDER BY hour_start"
            ).fetchall()

    summary = landing.land(buffer_dir, [TEN, ELEVEN, TWELVE], "run-1")
    first = quarantine_by_hour()
    again = landing.land(buffer_dir, [TEN, ELEVEN, TWELVE], "run-2")  # a re-landing replaces, never adds

    assert (summary.hours, summary.readings, summary.duplicates_removed, summary.quarantined) == (3, 7, 1, 2)
    assert first == [(ELEVEN, 1), (TWELVE, 1)]
    assert quarantine_by_hour() == first
    assert (again.readings, again.quarantined) == (7, 2)
    assert hour_status(buffer_dir, now=LATER).landed == [TEN, ELEVEN, TWELVE]
    with psycopg.connect(registry_database) as conn:
        runs = conn.execute("SELECT DISTINCT dagster_run_id FROM iot_quarantine").fetchall()
    assert runs == [("run-2",)]
