"""The run-failure sensor: a failed partition run is logged, tagged and posted to a webhook, with why."""

from __future__ import annotations

import dagster as dg
import pytest

from oee_pipelines.defs.monitoring.sensors import ALERT_TAG, WEBHOOK_URL_ENV, run_failure_alert
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.webhook import WebhookReceiver

days = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")


@dg.asset(partitions_def=days, op_tags={"oee/source_system": "pi"})
def historian_points_stand_in() -> None:
    raise RuntimeError("pi: GET /streams/F1/recorded gave up after 5 attempts: HTTP 500")


def failed_run_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    result = dg.materialize(
        [historian_points_stand_in],
        partition_key="2025-01-14",
        instance=instance,
        tags={"oee/source_system": "pi"},
        raise_on_error=False,
    )
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_a_failed_run_is_posted_with_its_partition_and_reason(
    webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEBHOOK_URL_ENV, webhook.url)
    with dg.instance_for_test() as instance:
        context = failed_run_context(instance)
        run_failure_alert(context)
        tags = instance.get_run_by_id(context.dagster_run.run_id).tags
    assert len(webhook.received) == 1
    alert = webhook.received[0]
    assert alert["run_id"] == context.dagster_run.run_id
    assert alert["partition"] == "2025-01-14"
    assert alert["source_system"] == "pi"
    assert alert["failed_steps"][0]["step"] == "historian_points_stand_in"
    assert "gave up after 5 attempts: HTTP 500" in alert["failed_steps"][0]["error"]
    assert "partition 2025-01-14 failed" in alert["text"]
    assert tags[ALERT_TAG] == "delivered"


def test_without_a_webhook_the_failure_is_still_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEBHOOK_URL_ENV, raising=False)
    with dg.instance_for_test() as instance:
        context = failed_run_context(instance)
        run_failure_alert(context)
        assert instance.get_run_by_id(context.dagster_run.run_id).tags[ALERT_TAG].startswith("logged")


def test_a_dead_webhook_does_not_stop_the_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEBHOOK_URL_ENV, f"http://127.0.0.1:{free_port()}/hook")  # nothing listens there
    with dg.instance_for_test() as instance:
        context = failed_run_context(instance)
        run_failure_alert(context)
        assert instance.get_run_by_id(context.dagster_run.run_id).tags[ALERT_TAG].startswith("not delivered")
