"""`iot_sensor_batches`: an hour of the buffer lands as lake files per source, quarantine per hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import orjson
import psycopg
import pyarrow.parquet as pq
import pytest

from oee_pipelines.connectors.iot.landing import hour_status
from oee_pipelines.defs.iot.assets import iot_sensor_batches
from oee_pipelines_tests.support.iot import (
    ELEVEN,
    HUMIDITY_URL,
    TEN,
    temperature,
    write_buffer,
)

LATER = TEN + timedelta(days=1000)


def hour_file(tmp_path: Path, source: str, hour: str = "10", day: str = "2025-01-13") -> Path:
    return tmp_path / "lake" / "telemetry" / f"source={source}" / f"date={day}" / f"hour={hour}.parquet"


def quarantine_reasons(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT org_id, to_char(hour_start AT TIME ZONE 'UTC', 'HH24'), reason FROM iot_quarantine "
            "ORDER BY hour_start, reason"
        ).fetchall()
    return [(org, hour, reason.split(":")[0]) for org, hour, reason in rows]


def test_an_hour_lands_per_source_deduplicated_with_its_quarantine(
    tmp_path: Path, buffer_dir: Path, resources: dict, registry_database: str
) -> None:
    write_buffer(
        buffer_dir,
        temperature(TEN, 20.0),
        temperature(TEN, 20.0),  # a redelivery
        temperature(TEN + timedelta(minutes=1), 21.0),
        temperature(TEN, 5.0, sensor_id="TEMP-UNKNOWN"),
        b"{not json",
        temperature(ELEVEN, 30.0),  # the next hour: not part of this partition
    )
    write_buffer(
        buffer_dir,
        orjson.dumps({"sensor_id": "HUM-L001", "humidity": 45.0, "timestamp": TEN.isoformat()}),
        source_system="http",
        topic=HUMIDITY_URL,
        writer_name="http-poller",
    )

    result = dg.materialize([iot_sensor_batches], resources=resources, partition_key="2025-01-13-10:00")

    mqtt = pq.read_table(hour_file(tmp_path, "mqtt"))
    assert sorted(mqtt.column("value").to_pylist()) == [20.0, 21.0]
    assert set(mqtt.column("source_system").to_pylist()) == {"mqtt"}
    assert mqtt.column("ingest_run_id").to_pylist() == [result.run_id] * 2
    assert pq.read_table(hour_file(tmp_path, "http")).column("signal").to_pylist() == ["humidity"]
    assert not hour_file(tmp_path, "mqtt", hour="11").exists()
    assert quarantine_reasons(registry_database) == [
        ("demo", "10", "malformed JSON"),
        ("demo", "10", "unknown sensor"),
    ]
    metadata = result.asset_materializations_for_node("iot_sensor_batches")[0].metadata
    assert metadata["readings_landed"].value == 3
    assert metadata["duplicates_removed"].value == 1
    assert metadata["quarantined_by_reason"].value == {"malformed JSON": 1, "unknown sensor": 1}
    assert metadata["sensors_seen"].value == 2
    assert metadata["first_timestamp"].value == TEN.timestamp()
    assert hour_status(buffer_dir, now=LATER).landed == [TEN]


def test_a_rerun_after_late_readings_replaces_the_hour_file_and_its_quarantine(
    tmp_path: Path, buffer_dir: Path, resources: dict, registry_database: str
) -> None:
    write_buffer(buffer_dir, temperature(TEN, 20.0), b"{not json")
    dg.materialize([iot_sensor_batches], resources=resources, partition_key="2025-01-13-10:00")
    write_buffer(buffer_dir, temperature(TEN, 20.0), temperature(TEN + timedelta(minutes=30), 22.0))
    assert hour_status(buffer_dir, now=LATER).late == [TEN]

    dg.materialize([iot_sensor_batches], resources=resources, partition_key="2025-01-13-10:00")

    assert sorted(pq.read_table(hour_file(tmp_path, "mqtt")).column("value").to_pylist()) == [20.0, 22.0]
    assert quarantine_reasons(registry_database) == [("demo", "10", "malformed JSON")]
    assert hour_status(buffer_dir, now=LATER).to_land == []


def test_a_ranged_backfill_lands_every_hour_in_one_run(
    tmp_path: Path, buffer_dir: Path, resources: dict
) -> None:
    write_buffer(buffer_dir, temperature(TEN, 20.0), temperature(ELEVEN, 30.0))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [iot_sensor_batches],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2025-01-13-10:00",
                "dagster/asset_partition_range_end": "2025-01-13-11:00",
            },
        )
        materialized = instance.get_materialized_partitions(dg.AssetKey("iot_sensor_batches"))
    assert result.success
    assert materialized == {"2025-01-13-10:00", "2025-01-13-11:00"}
    assert pq.read_table(hour_file(tmp_path, "mqtt", hour="11")).column("value").to_pylist() == [30.0]
    assert hour_status(buffer_dir, now=LATER).landed == [TEN, ELEVEN]


def test_without_a_sensor_registry_nothing_lands(
    tmp_path: Path, buffer_dir: Path, clean_database: str, resources: dict
) -> None:
    write_buffer(buffer_dir, temperature(TEN, 20.0))
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("DELETE FROM iot_sensors")
    with pytest.raises(dg.Failure, match="iot_sensors is empty"):
        dg.materialize([iot_sensor_batches], resources=resources, partition_key="2025-01-13-10:00")
    assert hour_status(buffer_dir, now=LATER).landed == []
