"""Historian backfill endpoints (seed 002 §2.1): start a backfill of a range, read its status.

`POST /api/historian/backfill/start/` has the historian service record a PENDING
`historian_backfill_jobs` row (`services/historian/jobs.py`, the table's only writer) and launch a
Dagster backfill of `historian_points` over the UTC days of the range (one run per
`OEE_BACKFILL_DAYS_PER_RUN` days: the asset's backfill policy), narrowed by run tags to the system,
tags, machine and organization asked for. `GET /api/historian/backfill/status/{job_id}/` maps the
Dagster backfill's status to the seed's PENDING / RUNNING / COMPLETED / FAILED, with the point counts
the run wrote into the row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, dagster_runs, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError, ErrorBody
from oee_pipelines.api.params import IDENTIFIER_PATTERN, parse_bound
from oee_pipelines.api.queries import require_owned
from oee_pipelines.domain.days import PARTITIONS_START
from oee_pipelines.domain.timestamps import parse_day
from oee_pipelines.services.historian.jobs import BackfillJobs
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.services.runs import REQUESTED_BY_TAG, DagsterRuns, DagsterUnavailableError

router = APIRouter(tags=["Historian"])
STATUS_PATH = "/api/historian/backfill/status/{job_id}/"
HISTORIAN_POINTS = "historian_points"
SYSTEM_NAMES = {"pi": "pi", "osisoft": "pi", "aveva": "aveva", "wonderware": "aveva"}
# Dagster BulkActionStatus -> the seed's job status (REQUESTED depends on whether the run has started).
FINISHED_OK = {"COMPLETED", "COMPLETED_SUCCESS"}
FINISHED_BADLY = {"FAILED", "FAILING", "COMPLETED_FAILED", "CANCELED", "CANCELING"}

TagName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^,]+$")]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]


class BackfillStartRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "historian_system": "PI",
                    "tag_name": "SITE-01.L001.M001.Pressure",
                    "machine_id": "MACHINE-001",
                    "start_date": "2025-01-01T00:00:00Z",
                    "end_date": "2025-01-31T00:00:00Z",
                }
            ]
        },
    )

    historian_system: str = Field(
        description="PI (OSIsoft) or AVEVA (Wonderware)", min_length=1, max_length=20
    )
    tag_name: TagName | None = Field(default=None, description="one tag")
    tag_names: list[TagName] = Field(default=[], max_length=1000, description="several tags")
    machine_id: Identifier | None = Field(default=None, description="only this machine's mapped tags")
    start_date: str = Field(
        min_length=1, max_length=40, description="first UTC day (a datetime counts its whole day)"
    )
    end_date: str = Field(
        min_length=1, max_length=40, description="end: a date includes that day, a datetime is excluded"
    )


class BackfillStarted(BaseModel):
    job_id: int
    status: str
    dagster_backfill_id: str
    # A list, not a tuple: a tuple's `prefixItems` schema trips OpenAPI 3.0-minded clients and validators.
    partition_range: list[str] = Field(min_length=2, max_length=2, description="first and last day")
    status_url: str


class BackfillStatus(BaseModel):
    job_id: int
    historian_system: str
    tags: list[str] = Field(description="the tags asked for; empty: every mapped tag")
    machine_id: str | None
    start_time: datetime
    end_time: datetime
    status: str = Field(description="PENDING, RUNNING, COMPLETED or FAILED")
    dagster_status: str | None = Field(
        description="the Dagster backfill status; null if Dagster is unreachable"
    )
    points_fetched: int
    points_imported: int
    unmapped_tags: list[str]
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None
    dagster_backfill_id: str | None
    dagster_run_id: str | None


def backfill_days(start_text: str, end_text: str, max_days: int) -> tuple[date, date]:
    """The first and last UTC day a backfill of [start, end) covers (whole days: partitions are days)."""
    start = parse_bound(start_text, "start_date", upper=False)
    end = parse_bound(end_text, "end_date", upper=True)
    if end <= start:
        raise ApiError(422, "end_date", f"must be after start_date ({start_text} .. {end_text} is empty)")
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    if first < parse_day(PARTITIONS_START):
        raise ApiError(422, "start_date", f"historian partitions start on {PARTITIONS_START}")
    if last > datetime.now(UTC).date():
        raise ApiError(422, "end_date", "cannot backfill days after today (UTC)")
    if (last - first).days + 1 > max_days:
        raise ApiError(422, "end_date", f"at most {max_days} days per backfill")
    return first, last


def historian_system(name: str) -> str:
    system = SYSTEM_NAMES.get(name.strip().lower())
    if system is None:
        raise ApiError(422, "historian_system", f"{name!r} is not PI or AVEVA (Wonderware)")
    return system


@router.post(
    "/api/historian/backfill/start/",
    status_code=202,
    response_model=BackfillStarted,
    responses={
        **COMMON_ERROR_RESPONSES,
        202: {
            "description": "Requested: `status_url` follows the backfill",
            # An OpenAPI link: generated clients and stateful testers follow it to the status.
            "links": {
                "status": {
                    "operationRef": "#/paths/" + STATUS_PATH.replace("~", "~0").replace("/", "~1") + "/get",
                    "parameters": {"job_id": "$response.body#/job_id"},
                }
            },
        },
        503: {"model": ErrorBody, "description": "Dagster (or the warehouse) is unreachable; retry later"},
    },
    summary="Backfill historian points of a date range (a Dagster backfill of historian_points)",
)
async def start_backfill(
    body: BackfillStartRequest,
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> BackfillStarted:
    system = historian_system(body.historian_system)
    first, last = backfill_days(body.start_date, body.end_date, services.settings.max_range_days)
    tags = tuple(dict.fromkeys(([body.tag_name] if body.tag_name else []) + list(body.tag_names)))
    if body.machine_id:
        await run_in_threadpool(require_owned, services.pool, identity.org_id, machine_id=body.machine_id)
    request = BackfillRequest(system, tags, body.machine_id, identity.org_id)

    def launch(request: BackfillRequest) -> str:
        return runs.launch_partition_backfill(
            [HISTORIAN_POINTS],
            partition_range=(first.isoformat(), last.isoformat()),
            tags={**request.run_tags(), REQUESTED_BY_TAG: f"api:{identity.name}"},
        )

    try:
        jobs = backfill_jobs(services)
        started = await run_in_threadpool(jobs.start_backfill, request, first, last, launch)
    except DagsterUnavailableError as exc:
        raise ApiError(503, None, str(exc)) from None
    return BackfillStarted(
        job_id=started.job_id,
        status="PENDING",
        dagster_backfill_id=started.dagster_backfill_id,
        partition_range=[first.isoformat(), last.isoformat()],
        status_url=STATUS_PATH.format(job_id=started.job_id),
    )


@router.get(
    STATUS_PATH,
    response_model=BackfillStatus,
    responses=COMMON_ERROR_RESPONSES,
    summary="Status and point counts of a historian backfill",
)
async def backfill_status(
    job_id: int,
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> BackfillStatus:
    row = await run_in_threadpool(backfill_jobs(services).status_row, identity.org_id, job_id)
    if row is None:
        raise ApiError(404, "job_id", f"no historian backfill {job_id} in your organization")
    dagster_status = None
    if row["dagster_backfill_id"]:
        try:
            dagster_status = await run_in_threadpool(runs.backfill_status, row["dagster_backfill_id"])
        except DagsterUnavailableError:
            dagster_status = None
    row["status"] = seed_status(row.pop("job_status"), dagster_status)
    if row["status"] == "FAILED" and not row["error_message"] and dagster_status:
        row["error_message"] = f"Dagster backfill {dagster_status.lower()}"
    return BackfillStatus(**row, dagster_status=dagster_status)


def seed_status(row_status: str, dagster_status: str | None) -> str:
    """One status from the row the run keeps and the Dagster backfill (the job itself)."""
    if row_status == "FAILED" or dagster_status in FINISHED_BADLY:
        return "FAILED"
    if dagster_status is None:
        return row_status
    if dagster_status in FINISHED_OK:
        return "COMPLETED" if row_status == "COMPLETED" else "FAILED"
    return "PENDING" if row_status == "PENDING" else "RUNNING"


def backfill_jobs(services: ApiServices) -> BackfillJobs:
    """The historian service's job rows over the API's connection pool."""
    return BackfillJobs(services.pool.connection)
