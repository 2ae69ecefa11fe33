"""The historian backfill endpoints with a stand-in for Dagster: the service records the PENDING row with
the Dagster backfill id, a refused launch leaves a FAILED row and a 503, and status is org-scoped.
(The end-to-end run through a real webserver and daemon is `test_historian_api.py`.)"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oee_pipelines.services.historian.run_tags import JOB_ID_TAG, MACHINE_TAG, SYSTEM_TAG
from oee_pipelines.services.runs import DagsterUnavailableError


class StandInRuns:
    """What the endpoints ask of Dagster: launch a partition backfill, read its status."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.launched: list[tuple[list[str], tuple[str, str], dict[str, str]]] = []

    def launch_partition_backfill(
        self, assets: list[str], *, partition_range: tuple[str, str], tags: dict[str, str]
    ) -> str:
        if not self.reachable:
            raise DagsterUnavailableError("Dagster webserver at http://127.0.0.1:1/graphql is unreachable")
        self.launched.append((assets, partition_range, tags))
        return f"backfill-{len(self.launched)}"

    def backfill_status(self, backfill_id: str) -> str:
        return "REQUESTED"


@pytest.fixture
def runs(api_app: FastAPI) -> Iterator[StandInRuns]:
    original = api_app.state.dagster_runs
    api_app.state.dagster_runs = StandInRuns()
    yield api_app.state.dagster_runs
    api_app.state.dagster_runs = original


def job_row(database_url: str, job_id: int) -> tuple:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """SELECT org_id, historian_system, machine_id, job_status, dagster_backfill_id, error_message
               FROM historian_backfill_jobs WHERE job_id = %s""",
            (job_id,),
        ).fetchone()
    assert row is not None
    return row


REQUEST = {
    "historian_system": "OSIsoft",
    "machine_id": "MACHINE-A01",
    "start_date": "2025-01-13",
    "end_date": "2025-01-14T00:00:00Z",
}


def test_a_started_backfill_is_a_pending_row_with_the_dagster_backfill_it_launched(
    client: TestClient, acme: dict[str, str], api_keys: dict[str, str], runs: StandInRuns, database_url: str
) -> None:
    started = client.post("/api/historian/backfill/start/", json=REQUEST, headers=acme)
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["status"], job["dagster_backfill_id"], job["partition_range"]) == (
        "PENDING",
        "backfill-1",
        ["2025-01-13", "2025-01-13"],
    )
    ((assets, partition_range, tags),) = runs.launched
    assert assets == ["historian_points"] and partition_range == ("2025-01-13", "2025-01-13")
    assert tags[JOB_ID_TAG] == str(job["job_id"]) and tags[SYSTEM_TAG] == "pi"
    assert tags[MACHINE_TAG] == "MACHINE-A01"
    assert job_row(database_url, job["job_id"]) == (
        "acme",
        "pi",
        "MACHINE-A01",
        "PENDING",
        "backfill-1",
        None,
    )

    status = client.get(job["status_url"], headers=acme).json()
    assert (status["status"], status["dagster_status"], status["points_fetched"]) == (
        "PENDING",
        "REQUESTED",
        0,
    )
    globex = {"X-API-Key": api_keys["globex"]}
    assert client.get(job["status_url"], headers=globex).status_code == 404


def test_an_unreachable_dagster_is_a_503_and_a_failed_row(
    client: TestClient, acme: dict[str, str], runs: StandInRuns, database_url: str
) -> None:
    runs.reachable = False
    refused = client.post("/api/historian/backfill/start/", json=REQUEST, headers=acme)
    assert refused.status_code == 503 and "unreachable" in refused.text
    with psycopg.connect(database_url) as conn:
        (job_id,) = conn.execute("SELECT max(job_id) FROM historian_backfill_jobs").fetchone() or (None,)
    org, system, _machine, job_status, backfill_id, error = job_row(database_url, job_id)
    assert (org, system, job_status, backfill_id) == ("acme", "pi", "FAILED", None)
    assert "unreachable" in error
