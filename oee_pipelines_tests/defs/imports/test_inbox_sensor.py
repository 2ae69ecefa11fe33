"""The inbox path: the sensor's run requests and cursor, the run that lands a file and moves it with its
report, and the daily partitions it reports for the OEE stage to rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from oee_pipelines.defs.imports.assets import imported_downtime, imported_files, imported_sensor_logs
from oee_pipelines.defs.imports.jobs import IMPORT_FILE_JOB, import_file_job, import_file_run_config
from oee_pipelines.defs.imports.sensors import import_inbox_sensor
from oee_pipelines.defs.partitions import daily_partitions
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.imports import InboxPathError, file_checksum
from oee_pipelines_tests.support.import_files import (
    DOWNTIME_CSV,
    GOOD_SENSOR_LOG,
    SENSOR_LOG_WITH_THREE_BAD_ROWS,
    query,
)

# Stands in for the OEE stage's condition (coordination is by asset key only): rebuild the built
# partitions whose upstream partitions changed.
REBUILD_CHANGED_DAYS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


@dg.asset(
    partitions_def=daily_partitions,
    deps=["imported_sensor_logs", "imported_downtime"],
    automation_condition=REBUILD_CHANGED_DAYS,
)
def enriched_stand_in() -> None:
    return None


@pytest.fixture
def inbox_root(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    return root


@pytest.fixture
def definitions(plant_database: str, inbox_root: Path, tmp_path: Path) -> dg.Definitions:
    return dg.Definitions(
        assets=[imported_files, imported_sensor_logs, imported_downtime, enriched_stand_in],
        jobs=[import_file_job],
        sensors=[import_inbox_sensor],
        resources={
            "warehouse": WarehouseResource(database_url=plant_database),
            "lake": LakeResource(root=str(tmp_path / "lake")),
            "import_inbox": ImportInboxResource(root=str(inbox_root), org_id="acme"),
        },
    )


def tick(
    definitions: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"import_inbox": definitions.resources["import_inbox"]}
    )
    return import_inbox_sensor(context)


def run(
    definitions: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    job = definitions.resolve_job_def(IMPORT_FILE_JOB)
    return job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags)


def test_the_sensor_requests_one_run_per_new_file_keyed_on_its_checksum(
    definitions: dg.Definitions, inbox_root: Path, write_file
) -> None:
    good = write_file("sensor_log_line1.csv", GOOD_SENSOR_LOG, inbox_root)
    stops = write_file("week3.csv", DOWNTIME_CSV, inbox_root / "downtime")
    write_file("sensor_log_copying.csv.part", GOOD_SENSOR_LOG, inbox_root)
    write_file("notes.csv", GOOD_SENSOR_LOG + "x\n", inbox_root)

    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(definitions, instance)
        again = tick(definitions, instance, first.cursor)

    requests = {request.tags["oee/import_file"]: request for request in first.run_requests}
    assert sorted(requests) == ["downtime/week3.csv", "sensor_log_line1.csv"]
    assert requests["sensor_log_line1.csv"].run_key == file_checksum(good)
    assert requests["downtime/week3.csv"].run_config == import_file_run_config(str(stops), "downtime")
    # The cursor remembers every file already handled (notes.csv too, so it is warned about once).
    assert sorted(json.loads(first.cursor)["files"]) == [
        "downtime/week3.csv",
        "notes.csv",
        "sensor_log_line1.csv",
    ]
    assert again.run_requests == [] and again.cursor == first.cursor


def test_runs_land_good_files_reject_bad_ones_and_move_both_with_their_report(
    definitions: dg.Definitions, inbox_root: Path, write_file, plant_database: str
) -> None:
    write_file("sensor_log_good.csv", GOOD_SENSOR_LOG, inbox_root)
    write_file("sensor_log_bad.csv", SENSOR_LOG_WITH_THREE_BAD_ROWS, inbox_root)

    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(definitions, instance)
        results = [run(definitions, instance, request) for request in first.run_requests]
        after = tick(definitions, instance, first.cursor)

    assert all(result.success for result in results)
    assert sorted(p.name for p in inbox_root.iterdir()) == ["processed", "rejected"]
    [processed_report] = (inbox_root / "processed").glob("*.report.json")
    [rejected_report] = (inbox_root / "rejected").glob("*.report.json")
    assert sorted(p.name for p in (inbox_root / "processed").iterdir()) == sorted(
        [processed_report.name, processed_report.name.removesuffix(".report.json")]
    )
    assert json.loads(processed_report.read_text())["status"] == "SUCCESS"
    rejected = json.loads(rejected_report.read_text())
    assert rejected["status"] == "REJECTED" and [e["row"] for e in rejected["errors"]] == [3, 4, 6]
    run_ids = {result.run_id for result in results}
    assert {row[0] for row in query(plant_database, "SELECT dagster_run_id FROM import_jobs")} == run_ids
    assert after.run_requests == [] and json.loads(after.cursor)["files"] == {}


def test_the_same_content_dropped_again_gets_the_same_run_key_and_never_lands_twice(
    definitions: dg.Definitions, inbox_root: Path, write_file, tmp_path: Path, plant_database: str
) -> None:
    write_file("sensor_log_monday.csv", GOOD_SENSOR_LOG, inbox_root)
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(definitions, instance)
        run(definitions, instance, first.run_requests[0])
        write_file("sensor_log_monday_copy.csv", GOOD_SENSOR_LOG, inbox_root)
        second = tick(definitions, instance, first.cursor)
        # Dagster launches one run per run key; were the copy run anyway, the import refuses it.
        run(definitions, instance, second.run_requests[0])

    assert second.run_requests[0].run_key == first.run_requests[0].run_key
    assert query(plant_database, "SELECT status FROM import_jobs ORDER BY job_id") == [
        ("SUCCESS",),
        ("REJECTED",),
    ]
    landed = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert sum(pq.read_table(path).num_rows for path in landed) == 4


def test_an_import_reports_exactly_the_days_it_changed_so_only_those_are_rebuilt(
    definitions: dg.Definitions, inbox_root: Path, write_file
) -> None:
    write_file("sensor_log_late.csv", GOOD_SENSOR_LOG, inbox_root)
    with dg.DagsterInstance.ephemeral() as instance:
        for day in ("2025-01-13", "2025-01-14", "2025-01-15", "2025-01-16"):
            dg.materialize([enriched_stand_in], partition_key=day, instance=instance)
        idle = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
        run(definitions, instance, tick(definitions, instance).run_requests[0])
        changed = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=idle.cursor)
        reported = instance.get_materialized_partitions(dg.AssetKey("imported_sensor_logs"))

    assert idle.total_requested == 0
    assert reported == {"2025-01-14", "2025-01-15"}
    [result] = [r for r in changed.results if r.true_subset.size]
    assert sorted(ap.partition_key for ap in result.true_subset.expensively_compute_asset_partitions()) == [
        "2025-01-14",
        "2025-01-15",
    ]


def test_a_run_refuses_a_path_outside_the_inbox(
    definitions: dg.Definitions, write_file, tmp_path: Path
) -> None:
    outside = write_file("sensor_log_elsewhere.csv", GOOD_SENSOR_LOG, tmp_path / "elsewhere")
    job = definitions.resolve_job_def(IMPORT_FILE_JOB)
    refused = pytest.raises(InboxPathError, match="not a file waiting")
    with dg.DagsterInstance.ephemeral() as instance, refused:
        job.execute_in_process(
            run_config=import_file_run_config(str(outside), "sensor_log"), instance=instance
        )
    assert outside.exists()
