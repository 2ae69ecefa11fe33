"""`iot_sensor_batches` logs its progress at INFO in the run's event log (the Dagster UI): hours landed
of the run's hours and the readings landed so far; the landing service reports every hour."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from oee_pipelines.defs.iot.assets import iot_sensor_batches
from oee_pipelines.domain.progress import PROGRESS_PREFIX, Progress
from oee_pipelines.services.iot import IotLanding
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.iot import ELEVEN, TEN, temperature, write_buffer


def test_a_ranged_landing_logs_hours_done_and_readings_so_far_at_info(
    buffer_dir: Path, resources: dict
) -> None:
    write_buffer(buffer_dir, temperature(TEN, 20.0), temperature(ELEVEN, 30.0), temperature(ELEVEN, 31.0))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [iot_sensor_batches],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2025-01-13-10:00",
                "dagster/asset_partition_range_end": "2025-01-13-12:00",
            },
        )
        lines = [
            (entry.level, entry.user_message)
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is None and entry.user_message.startswith(PROGRESS_PREFIX)
        ]
    assert result.success
    assert lines == [
        (20, "progress: iot_sensor_batches 1/3 hours; 1 readings landed, 0 quarantined - 2025-01-13 10:00"),
        (20, "progress: iot_sensor_batches 2/3 hours; 3 readings landed, 0 quarantined - 2025-01-13 11:00"),
        (20, "progress: iot_sensor_batches 3/3 hours; 3 readings landed, 0 quarantined - 2025-01-13 12:00"),
    ]


def test_the_landing_service_reports_every_hour_to_its_callback(
    tmp_path: Path, buffer_dir: Path, registry_database: str
) -> None:
    write_buffer(buffer_dir, temperature(TEN, 20.0), temperature(ELEVEN, 30.0))
    heard: list[Progress] = []
    hours = [TEN, ELEVEN, ELEVEN + timedelta(hours=1), ELEVEN + timedelta(hours=2)]
    landing = IotLanding(Lake(str(tmp_path / "lake")), registry_database, "demo")
    summary = landing.land(buffer_dir, hours, "run-1", progress=heard.append)
    assert [(p.done, p.total, p.unit) for p in heard] == [
        (1, 4, "hours"),
        (2, 4, "hours"),
        (3, 4, "hours"),
        (4, 4, "hours"),
    ]
    assert [p.counts["readings landed"] for p in heard] == [1, 2, 2, 2]
    assert heard[-1].finished and summary.readings == 2
    assert [p.detail for p in heard] == [f"{pd.Timestamp(h):%Y-%m-%d %H:00}" for h in hours]
