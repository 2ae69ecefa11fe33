"""`historian_points` against the simulated PI and AVEVA servers, the embedded warehouse and a tmp lake."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
import pytest

from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines_tests.support.historian import INACTIVE_TAG, PI_MACHINE, Historians

DAYS = ["2025-01-13", "2025-01-14", "2025-01-15"]
FAILING_DAY = "2025-01-14"
HISTORIAN_POINTS = dg.AssetKey("historian_points")


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def backfill(
    instance: dg.DagsterInstance,
    historians: Historians,
    warehouse: WarehouseResource,
    lake: LakeResource,
    first: str,
    last: str,
    extra_tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [historian_points],
        instance=instance,
        resources={"historian": historians.resource(), "warehouse": warehouse, "lake": lake},
        tags={**range_tags(first, last), **(extra_tags or {})},
        raise_on_error=False,
    )


def lake_points(lake: LakeResource, days: list[str]) -> pa.Table:
    tables = [
        lake.lake().read_folder(f"telemetry/source={source}/date={day}", TELEMETRY_SCHEMA)
        for source in ("pi", "aveva")
        for day in days
    ]
    return pa.concat_tables(tables)


def checksum(points: pa.Table) -> str:
    """Order-insensitive digest of every column but the run id (which names the run that wrote it)."""
    frame = points.drop(["ingest_run_id"]).to_pandas()
    frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def job_rows(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            """SELECT historian_system, job_status, points_fetched, points_imported, unmapped_tags,
                      error_message, dagster_run_id, start_time, end_time, tags
               FROM historian_backfill_jobs ORDER BY job_id"""
        ).fetchall()


def partition_status(instance: dg.DagsterInstance) -> dict[str, str]:
    statuses = instance.get_status_by_partition(HISTORIAN_POINTS, DAYS, historian_points.partitions_def)
    return {day: status.value for day, status in (statuses or {}).items()}


def test_backfilling_the_same_days_twice_leaves_identical_points(
    historians: Historians,
    mapped_warehouse: WarehouseResource,
    lake: LakeResource,
    plant: SimulatedPlant,
    clean_database: str,
) -> None:
    with dg.instance_for_test() as instance:
        first = backfill(instance, historians, mapped_warehouse, lake, DAYS[0], DAYS[-1])
        assert first.success
        points_after_first = lake_points(lake, DAYS)
        second = backfill(instance, historians, mapped_warehouse, lake, DAYS[0], DAYS[-1])
        assert second.success
        points_after_second = lake_points(lake, DAYS)
        assert partition_status(instance) == dict.fromkeys(DAYS, "MATERIALIZED")
        materializations = instance.fetch_materializations(HISTORIAN_POINTS, limit=10).records
        assert len(materializations) == 6  # one per day per run
        # Each day's materialization carries that day's own figures, not the run's.
        latest = {str(r.partition_key): r.asset_materialization for r in materializations[:3]}
        assert sorted(latest) == DAYS
        for day, materialization in latest.items():
            assert materialization is not None
            assert (
                materialization.metadata["first_timestamp"].value
                >= datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp()
            )
            assert materialization.metadata["points_imported"].value > 0

    assert points_after_first.num_rows > 0
    assert points_after_second.num_rows == points_after_first.num_rows
    assert checksum(points_after_second) == checksum(points_after_first)
    assert set(points_after_second["ingest_run_id"].to_pylist()) == {second.run_id}
    assert set(points_after_second["source_system"].to_pylist()) == {"pi", "aveva"}
    assert INACTIVE_TAG not in set(points_after_second["source_ref"].to_pylist())

    # The cumulative counter became exactly the plant's per-minute increments, day by day.
    frame = points_after_second.to_pandas()
    good = frame[(frame["machine_id"] == PI_MACHINE) & (frame["signal"] == "pieces_good")]
    for day in DAYS:
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        truth = plant.pieces(start - timedelta(minutes=1), start + timedelta(days=1))
        in_window = (truth["ts"] >= start) & (truth["ts"] < start + timedelta(days=1))
        expected = truth[in_window & (truth["machine_id"] == PI_MACHINE)]["good"].sum()
        in_day = good[(good["ts"] >= start) & (good["ts"] < start + timedelta(days=1))]
        assert in_day["value"].sum() == pytest.approx(expected)

    rows = job_rows(clean_database)
    assert [(row[0], row[1], row[6]) for row in rows] == [
        ("pi", "COMPLETED", first.run_id),
        ("aveva", "COMPLETED", first.run_id),
        ("pi", "COMPLETED", second.run_id),
        ("aveva", "COMPLETED", second.run_id),
    ]
    last_pi = rows[2]
    assert last_pi[3] == points_after_second["source_system"].to_pylist().count("pi")
    assert last_pi[2] >= last_pi[3]  # fetched includes the counters' look-back before each day
    assert (last_pi[7], last_pi[8]) == (
        datetime(2025, 1, 13, tzinfo=UTC),
        datetime(2025, 1, 16, tzinfo=UTC),
    )


def test_a_failing_day_leaves_the_others_materialized_and_a_rerun_completes_it(
    historians: Historians, mapped_warehouse: WarehouseResource, lake: LakeResource, clean_database: str
) -> None:
    # Every PI request for the failing day (it reads from an hour before midnight) answers 500.
    historians.pi.switches.fail_path_contains = "startTime=2025-01-13T23"
    historians.pi.switches.fail_next = 10_000
    with dg.instance_for_test() as instance:
        failed = backfill(instance, historians, mapped_warehouse, lake, DAYS[0], DAYS[-1])
        assert not failed.success
        assert partition_status(instance) == {
            "2025-01-13": "MATERIALIZED",
            FAILING_DAY: "FAILED",
            "2025-01-15": "MATERIALIZED",
        }
        failure = failed.get_step_failure_events()[-1].step_failure_data
        reason = failure.user_failure_data.description if failure.user_failure_data else failure.error.message
        assert "1 of 3 days failed" in reason
        assert f"{FAILING_DAY}: pi:" in reason and "HTTP 500" in reason
        # Two step retries re-fetched only the failing day: each good day was materialized once.
        materialized = [
            record.partition_key
            for record in instance.fetch_materializations(HISTORIAN_POINTS, limit=10).records
        ]
        assert sorted(materialized) == ["2025-01-13", "2025-01-15"]
        assert lake.lake().list_files(f"telemetry/source=pi/date={FAILING_DAY}") == []
        (row,) = job_rows(clean_database)[:1]
        assert row[1] == "FAILED" and FAILING_DAY in row[5]

        historians.pi.switches.reset()
        rerun = dg.materialize(
            [historian_points],
            instance=instance,
            resources={"historian": historians.resource(), "warehouse": mapped_warehouse, "lake": lake},
            partition_key=FAILING_DAY,
        )
        assert rerun.success
        assert partition_status(instance) == dict.fromkeys(DAYS, "MATERIALIZED")
    assert lake_points(lake, [FAILING_DAY]).num_rows > 0
    assert job_rows(clean_database)[-1][1] == "COMPLETED"


def test_unmapped_tags_are_reported_and_a_narrowed_run_keeps_the_other_tags(
    historians: Historians, mapped_warehouse: WarehouseResource, lake: LakeResource, clean_database: str
) -> None:
    day = DAYS[0]
    pressure_tag = "SITE-01.L001.M001.Pressure"
    with dg.instance_for_test() as instance:
        assert backfill(instance, historians, mapped_warehouse, lake, day, day).success
        before = lake_points(lake, [day])
        narrowed = BackfillRequest(system="pi", tags=(pressure_tag, INACTIVE_TAG), org_id="demo")
        result = backfill(instance, historians, mapped_warehouse, lake, day, day, narrowed.run_tags())
        assert result.success
        (event,) = result.get_asset_materialization_events()
        metadata = event.materialization.metadata
    after = lake_points(lake, [day])
    assert checksum(after) == checksum(before)
    assert INACTIVE_TAG not in set(after["source_ref"].to_pylist())
    unmapped = metadata["unmapped_tags"].value
    assert list(unmapped) == [f"pi:{INACTIVE_TAG}"] and unmapped[f"pi:{INACTIVE_TAG}"] > 1000
    row = job_rows(clean_database)[-1]
    assert row[0] == "pi" and row[4] == [INACTIVE_TAG] and row[9] == [pressure_tag, INACTIVE_TAG]
    rewritten = after.filter(pa.compute.equal(after["source_ref"], pressure_tag))
    assert set(rewritten["ingest_run_id"].to_pylist()) == {result.run_id}
    assert row[3] == rewritten.num_rows
