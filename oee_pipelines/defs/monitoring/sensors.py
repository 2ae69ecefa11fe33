"""Run-failure alerts: every failed run is logged on the sensor's tick, tagged, and posted to a webhook.

The webhook is optional: set `OEE_ALERT_WEBHOOK_URL` (read at each evaluation, never at import). The
JSON body has a `text` field, so a Slack or Teams incoming webhook shows it as is; other receivers
read the structured fields (run, job, partition, source system, failed steps with their errors).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
import httpx

from oee_pipelines.services.source_systems import SOURCE_SYSTEM_TAG

WEBHOOK_URL_ENV = "OEE_ALERT_WEBHOOK_URL"
WEBSERVER_URL_ENV = "OEE_DAGSTER_WEBSERVER_URL"
ALERT_TAG = "oee/failure_alert"
MAX_ERROR_CHARS = 1000


def failure_alert(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    """The alert for one failed run: what failed, where, and why (each failed step's error)."""
    run = context.dagster_run
    failed_steps = [
        {"step": event.step_key, "error": step_error_message(event)}
        for event in context.get_step_failure_events()
    ]
    partition = run.tags.get("dagster/partition") or _range(run.tags)
    where = f" partition {partition}" if partition else ""
    reasons = "; ".join(f"{step['step']}: {step['error']}" for step in failed_steps)
    why = reasons or context.failure_event.message
    text = f"Dagster run {run.run_id[:8]} of {run.job_name}{where} failed. {why}"
    webserver = os.environ.get(WEBSERVER_URL_ENV)
    return {
        "text": text,
        "alert": "dagster_run_failed",
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition": partition,
        "source_system": run.tags.get(SOURCE_SYSTEM_TAG),
        "failed_steps": failed_steps,
        "run_message": context.failure_event.message,
        "run_url": f"{webserver.rstrip('/')}/runs/{run.run_id}" if webserver else None,
    }


def step_error_message(event: dg.DagsterEvent) -> str:
    """The root cause of a step failure (or retry request), without Dagster's wrappers."""
    error = getattr(event.event_specific_data, "error", None)
    if error is None:
        return (event.message or "")[:MAX_ERROR_CHARS]
    while error.cause is not None:  # past Dagster's "error occurred while executing op" wrapper
        error = error.cause
    message = error.message.strip()
    if error.cls_name == "Failure":  # raised on purpose: its description is the whole story
        message = message.split(": ", 1)[-1]
    return message[:MAX_ERROR_CHARS]


def _range(tags: Mapping[str, str]) -> str | None:
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return f"{start}...{end}" if start and end else None


def post_alert(url: str, alert: dict[str, Any]) -> str:
    """POST the alert; returns `delivered` or why it was not (a dead webhook must not stop the sensor)."""
    try:
        response = httpx.post(url, json=alert, timeout=10)
    except httpx.HTTPError as error:
        return f"not delivered: {error!r}"[:200]
    return "delivered" if response.is_success else f"not delivered: HTTP {response.status_code}"


@dg.run_failure_sensor(
    name="run_failure_alert",
    description=f"Logs and tags every failed run; posts it to ${WEBHOOK_URL_ENV} when set.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    alert = failure_alert(context)
    context.log.error(alert["text"])
    url = os.environ.get(WEBHOOK_URL_ENV)
    outcome = post_alert(url, alert) if url else "logged (no webhook configured)"
    if outcome.startswith("not delivered"):
        context.log.warning(f"alert webhook: {outcome}")
    context.instance.add_run_tags(context.dagster_run.run_id, {ALERT_TAG: outcome})
