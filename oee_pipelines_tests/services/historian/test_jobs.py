"""`BackfillJobs`, the only writer of `historian_backfill_jobs`: the API's PENDING row and its launch, the
run taking it over, progress and closing, and status reads scoped to the organization."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import psycopg
import pytest

from oee_pipelines.services.historian.jobs import BackfillJobs
from oee_pipelines.services.historian.run_tags import JOB_ID_TAG, BackfillRequest


class LaunchRefusedError(Exception):
    pass


@pytest.fixture
def jobs(clean_database: str) -> BackfillJobs:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('demo', 'Demo'), ('other', 'Other')")

    @contextmanager
    def connect() -> Iterator[psycopg.Connection]:
        with psycopg.connect(clean_database) as conn:
            yield conn

    return BackfillJobs(connect)


def test_a_started_backfill_is_pending_with_its_dagster_id_and_the_run_takes_its_row_over(
    jobs: BackfillJobs,
) -> None:
    launched: list[BackfillRequest] = []

    def launch(request: BackfillRequest) -> str:
        launched.append(request)
        return "backfill-1"

    asked = BackfillRequest("pi", ("T1", "T2"), None, "demo")
    started = jobs.start_backfill(asked, date(2025, 1, 13), date(2025, 1, 14), launch)
    assert launched == [started.request] and started.dagster_backfill_id == "backfill-1"
    assert started.request.run_tags()[JOB_ID_TAG] == str(started.job_id)
    row = jobs.status_row("demo", started.job_id)
    assert row is not None
    assert (row["job_status"], row["dagster_backfill_id"], row["tags"]) == (
        "PENDING",
        "backfill-1",
        ["T1", "T2"],
    )
    assert (row["start_time"], row["end_time"]) == (
        datetime(2025, 1, 13, tzinfo=UTC),
        datetime(2025, 1, 15, tzinfo=UTC),
    )
    assert jobs.status_row("other", started.job_id) is None

    window = (datetime(2025, 1, 13, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC))
    opened = jobs.open_run(
        job_id=started.job_id, org_id="demo", system="pi", tags=["T1", "T2"], start=window[0], end=window[1],
        run_id="run-1",
    )  # fmt: skip
    assert opened == started.job_id
    jobs.add_progress(opened, 10, 8, ["T9"])
    jobs.add_progress(opened, 5, 5, ["T9", "T3"])
    jobs.close(opened, None)
    row = jobs.status_row("demo", opened)
    assert row is not None
    assert (row["job_status"], row["dagster_run_id"], row["points_fetched"], row["points_imported"]) == (
        "COMPLETED",
        "run-1",
        15,
        13,
    )
    assert row["unmapped_tags"] == ["T3", "T9"] and row["completed_at"] is not None


def test_a_refused_launch_marks_the_row_failed_and_raises(jobs: BackfillJobs) -> None:
    def launch(request: BackfillRequest) -> str:
        raise LaunchRefusedError("Dagster is unreachable")

    with pytest.raises(LaunchRefusedError):
        jobs.start_backfill(
            BackfillRequest("aveva", (), None, "demo"), date(2025, 1, 13), date(2025, 1, 13), launch
        )
    row = jobs.status_row("demo", 1)
    assert row is not None
    assert (row["job_status"], row["error_message"]) == ("FAILED", "Dagster is unreachable")


def test_a_run_without_an_api_row_inserts_one_and_finds_it_again_on_retry(jobs: BackfillJobs) -> None:
    window = {"start": datetime(2025, 1, 13, tzinfo=UTC), "end": datetime(2025, 1, 14, tzinfo=UTC)}
    first = jobs.open_run(job_id=None, org_id="demo", system="pi", tags=["T1"], run_id="run-7", **window)
    jobs.close(first, "2025-01-13: pi: HTTP 500")
    again = jobs.open_run(job_id=None, org_id="demo", system="pi", tags=["T1"], run_id="run-7", **window)
    assert again == first
    row = jobs.status_row("demo", first)
    assert row is not None and (row["job_status"], row["error_message"]) == ("RUNNING", None)
    other_system = jobs.open_run(
        job_id=None, org_id="demo", system="aveva", tags=["A"], run_id="run-7", **window
    )
    assert other_system != first
