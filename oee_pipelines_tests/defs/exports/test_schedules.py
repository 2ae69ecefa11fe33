"""Schedules request the right day partitions; the automation re-publishes a day rebuilt by late data."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from oee_pipelines.defs.exports.assets import UPSTREAM_ASSETS, export_assets
from oee_pipelines.defs.exports.schedules import publish_yesterday_daily, refresh_today_hourly
from oee_pipelines.defs.partitions import daily_partitions


def request(schedule: dg.ScheduleDefinition, at: datetime) -> dg.RunRequest:
    run_request = schedule(dg.build_schedule_context(scheduled_execution_time=at))
    assert isinstance(run_request, dg.RunRequest)
    return run_request


def test_the_0200_run_finalizes_yesterday() -> None:
    run_request = request(publish_yesterday_daily, datetime(2025, 1, 16, 2, 0, tzinfo=UTC))
    assert run_request.partition_key == "2025-01-15"
    assert run_request.run_key == "publish-final-2025-01-15"
    assert publish_yesterday_daily.cron_schedule == "0 2 * * *"
    assert publish_yesterday_daily.execution_timezone == "UTC"
    # Across a month and a year boundary too.
    assert request(publish_yesterday_daily, datetime(2025, 1, 1, 2, tzinfo=UTC)).partition_key == "2024-12-31"


def test_the_hourly_run_refreshes_today_with_one_key_per_tick() -> None:
    at_noon = request(refresh_today_hourly, datetime(2025, 1, 16, 12, 15, tzinfo=UTC))
    at_one = request(refresh_today_hourly, datetime(2025, 1, 16, 13, 15, tzinfo=UTC))
    assert at_noon.partition_key == at_one.partition_key == "2025-01-16"
    assert at_noon.run_key != at_one.run_key
    assert at_noon.run_key == request(refresh_today_hourly, datetime(2025, 1, 16, 12, 15, tzinfo=UTC)).run_key
    # Today is a partition already (end_offset=1), so the request is valid while the day runs.
    with dg.partition_loading_context(effective_dt=datetime(2025, 1, 16, 12, 15, tzinfo=UTC)):
        assert daily_partitions.get_last_partition_key() == "2025-01-16"


def test_the_schedules_run_the_oee_chain_and_the_exports() -> None:
    from oee_pipelines.definitions import defs

    job = defs().resolve_job_def("publish_day_job")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {f"published_{name}" for name in UPSTREAM_ASSETS} <= keys
    assert {"oee_snapshots", "oee_data_mart", "enriched_telemetry"} <= keys


def test_a_day_rebuilt_upstream_is_published_again_and_only_that_day() -> None:
    upstream = [
        dg.AssetSpec(key, partitions_def=daily_partitions) for key in sorted(set(UPSTREAM_ASSETS.values()))
    ]
    definitions = dg.Definitions(
        assets=[*upstream, *export_assets],
        resources={"warehouse": object(), "lake": object(), "published_files": object()},
    )
    snapshots_export = dg.AssetKey("published_oee_snapshots")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
        assert first.total_requested == 0  # no history backfill on the first tick
        instance.report_runless_asset_event(dg.AssetMaterialization("oee_snapshots", partition="2025-01-10"))
        second = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=first.cursor)
        requested = {
            key: second.get_requested_partitions(key)
            for key in (snapshots_export, dg.AssetKey("published_shift_reports"))
        }
        assert requested[snapshots_export] == {"2025-01-10"}
        assert requested[dg.AssetKey("published_shift_reports")] == set()
