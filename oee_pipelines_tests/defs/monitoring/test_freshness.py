"""The 02:30 publish deadline on published assets: policy attached, check failing or passing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

from oee_pipelines.defs.monitoring.freshness import (
    CHECK_JOB,
    CHECK_NAME,
    deadline_window,
    publish_deadline_checks,
    publish_deadline_policy,
    published_in_window,
)

days = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC", end_offset=1)


@dg.asset(partitions_def=days, freshness_policy=publish_deadline_policy)
def published_oee_snapshots() -> None:
    """A stand-in for the exports stage's daily published files."""


@dg.asset
def oee_snapshots() -> None:
    """Not published: no deadline."""


def monitored() -> dg.Definitions:
    # As the exports factory does: the policy on the asset it builds, the checks for those assets.
    return dg.Definitions.merge(
        dg.Definitions(assets=[published_oee_snapshots, oee_snapshots]),
        publish_deadline_checks([published_oee_snapshots]),
    )


def test_the_deadline_window_is_yesterday_until_0230() -> None:
    before = datetime(2025, 1, 14, 2, 29, tzinfo=UTC)
    after = datetime(2025, 1, 14, 2, 30, tzinfo=UTC)
    assert deadline_window(before) == (
        date(2025, 1, 12),
        datetime(2025, 1, 13, tzinfo=UTC),
        datetime(2025, 1, 13, 2, 30, tzinfo=UTC),
    )
    assert deadline_window(after) == (date(2025, 1, 13), datetime(2025, 1, 14, tzinfo=UTC), after)


def test_only_published_assets_get_the_policy_the_check_and_a_schedule() -> None:
    defs = monitored()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    policy = specs["published_oee_snapshots"].freshness_policy
    assert policy is not None and policy.deadline_cron == "30 2 * * *"
    assert specs["oee_snapshots"].freshness_policy is None
    check_keys = defs.resolve_asset_graph().asset_check_keys
    assert check_keys == {dg.AssetCheckKey(dg.AssetKey("published_oee_snapshots"), CHECK_NAME)}
    assert defs.resolve_job_def(CHECK_JOB) is not None
    assert defs.resolve_schedule_def("publish_deadline_checks").cron_schedule == "35 2 * * *"


def test_definitions_without_published_assets_are_unchanged() -> None:
    defs = publish_deadline_checks([])
    assert not defs.asset_checks and not defs.jobs and not defs.schedules


def test_the_check_fails_visibly_when_nothing_was_published() -> None:
    defs = monitored()
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(CHECK_JOB).execute_in_process(instance=instance)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_NAME and not evaluation.passed
    assert evaluation.metadata["published_at"].value == "not by the deadline"
    day, _, _ = deadline_window(datetime.now(UTC))
    assert evaluation.metadata["expected_day"].value == day.isoformat()


def test_a_partition_counts_only_when_materialized_inside_the_window() -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([published_oee_snapshots], partition_key="2025-01-13", instance=instance)
        now = datetime.now(UTC)
        key = published_oee_snapshots.key
        hour = timedelta(hours=1)
        assert published_in_window(instance, key, "2025-01-13", now - hour, now + hour) is not None
        assert published_in_window(instance, key, "2025-01-12", now - hour, now + hour) is None
        assert published_in_window(instance, key, "2025-01-13", now - 2 * hour, now - hour) is None
        assert published_in_window(instance, key, None, now - hour, now + hour) is not None


def test_the_deadline_is_0230_utc() -> None:
    assert deadline_window(datetime(2025, 6, 1, 12, tzinfo=UTC))[2].time() == time(2, 30)
