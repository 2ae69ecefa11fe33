"""The API request sensor: one run request per queued `api_run_requests` row, keyed on the row's id;
a row whose run exists gets that run recorded and is asked for no more."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import dagster as dg
import psycopg

from oee_pipelines.services.api_run_requests import REQUEST_TAG, ApiRunRequests
from oee_pipelines.services.runs import ORG_TAG
from oee_pipelines_tests.support.mes_api import sensor_tick
from oee_pipelines_tests.support.mes_sources import rows


def queue(database_url: str) -> ApiRunRequests:
    def connect() -> AbstractContextManager[psycopg.Connection[Any]]:
        return psycopg.connect(database_url)

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('demo', 'demo') ON CONFLICT DO NOTHING")
    return ApiRunRequests(connect)


@dg.op
def noop() -> None:
    pass


@dg.job
def stand_in_job() -> None:
    noop()


def test_each_queued_request_becomes_one_keyed_run_request(clean_database: str) -> None:
    requests = queue(clean_database)
    sync = requests.enqueue(
        "demo", "mes_schedule_sync_job", {"ops": {"x": {"config": {"a": 1}}}}, {ORG_TAG: "demo"}, "api:t"
    )
    push = requests.enqueue("demo", "mes_order_status_job", {}, {ORG_TAG: "demo"}, "api:t")

    with dg.instance_for_test() as instance:
        first = sensor_tick(instance, clean_database).run_requests or []
        # The same requests again: the same run keys, so Dagster would start nothing twice.
        again = sensor_tick(instance, clean_database).run_requests or []

    assert [(r.run_key, r.job_name) for r in first] == [
        (sync, "mes_schedule_sync_job"),
        (push, "mes_order_status_job"),
    ]
    assert first[0].run_config == {"ops": {"x": {"config": {"a": 1}}}}
    assert first[0].tags == {ORG_TAG: "demo", REQUEST_TAG: sync}
    assert [r.run_key for r in again] == [sync, push]


def test_a_started_run_is_recorded_and_not_requested_again(clean_database: str) -> None:
    requests = queue(clean_database)
    started = requests.enqueue("demo", "mes_order_status_job", {}, {}, "api:t")
    waiting = requests.enqueue("demo", "erp_materials_sync_job", {}, {}, "api:t")

    with dg.instance_for_test() as instance:
        run = stand_in_job.execute_in_process(instance=instance, tags={REQUEST_TAG: started})
        result = sensor_tick(instance, clean_database)

    assert [r.run_key for r in result.run_requests or []] == [waiting]
    assert rows(clean_database, "SELECT id::text, run_id FROM api_run_requests ORDER BY seq") == [
        (started, run.run_id),
        (waiting, None),
    ]


def test_a_request_for_an_unknown_job_is_skipped_not_fatal(clean_database: str) -> None:
    requests = queue(clean_database)
    requests.enqueue("demo", "no_such_job", {}, {}, "api:t")
    known = requests.enqueue("demo", "erp_materials_sync_job", {}, {}, "api:t")

    with dg.instance_for_test() as instance:
        result = sensor_tick(instance, clean_database)

    assert [r.run_key for r in result.run_requests or []] == [known]


def test_nothing_queued_is_a_skipped_tick(clean_database: str) -> None:
    with dg.instance_for_test() as instance:
        result = sensor_tick(instance, clean_database)

    assert not result.run_requests
    assert result.skip_reason is not None
