"""MES endpoints (seed 002 §1.1): schedule sync, recipe download and order push-back, each launched as a
Dagster run of the same assets the 15-minute schedule materializes, and the status of those runs.

An endpoint answers 202 with the run id and a status URL at once; the run does the work. The
configured MES serves one organization (the `mes` section's `org_id`): only that organization's keys
may launch its syncs, and a key sees only its own organization's runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, dagster_runs, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError, ErrorBody
from oee_pipelines.api.params import IDENTIFIER_PATTERN, parse_bound
from oee_pipelines.api.queries import require_owned
from oee_pipelines.services.api_run_requests import REQUEST_TAG, ApiRunRequests
from oee_pipelines.services.mes_erp.run_requests import (
    MES_ORDER_STATUS_JOB,
    MES_RECIPE_DOWNLOAD_JOB,
    MES_SCHEDULE_SYNC_JOB,
    mes_sync_run_config,
    pushback_run_config,
)
from oee_pipelines.services.runs import (
    ORG_TAG,
    REQUESTED_BY_TAG,
    DagsterRuns,
    DagsterUnavailableError,
    RunNotFoundError,
)

router = APIRouter(tags=["MES"])
RUNS_PATH = "/api/mes/runs/{run_id}"
LAUNCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **COMMON_ERROR_RESPONSES,
    202: {
        "description": "Launched: `status_url` follows the run",
        # An OpenAPI link: generated clients and stateful testers follow it to the run's status.
        "links": {
            "status": {
                "operationRef": "#/paths/" + RUNS_PATH.replace("~", "~0").replace("/", "~1") + "/get",
                "parameters": {"run_id": "$response.body#/run_id"},
            }
        },
    },
    403: {"model": ErrorBody, "description": "The configured source system serves another organization"},
    409: {"model": ErrorBody, "description": "The source system is not configured, or is disabled"},
    503: {"model": ErrorBody, "description": "Dagster (or the warehouse) is unreachable; retry later"},
}

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]


class LaunchedRun(BaseModel):
    run_id: str
    job_name: str
    status_url: str


class RunStatus(BaseModel):
    run_id: str
    job_name: str
    status: str = Field(
        description="REQUESTED (recorded, run not started yet), then the Dagster run status: QUEUED, "
        "STARTING, STARTED, SUCCESS, FAILURE, ..."
    )
    dagster_run_id: str | None = Field(default=None, description="the Dagster run, once it exists")


class ScheduleSyncRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "line_id": "LINE-001",
                    "start_date": "2025-10-05T00:00:00Z",
                    "end_date": "2025-10-12T00:00:00Z",
                }
            ]
        },
    )

    line_id: Identifier | None = Field(default=None, description="one line; every active line when absent")
    start_date: str | None = Field(default=None, max_length=40, description="default now-1 day")
    end_date: str | None = Field(
        default=None, max_length=40, description="default now+7 days; a date includes that whole day"
    )


class RecipeDownloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"recipe_ids": ["RCP-001"]}]})

    recipe_ids: list[Identifier] = Field(min_length=1, max_length=100)


class OrderStatusRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"work_order_ids": ["WO-000001"]}]}
    )

    work_order_ids: list[Identifier] = Field(
        default=[], max_length=1000, description="only these orders; every completed order when empty"
    )


def require_source_org(services: ApiServices, section: str, identity: ApiIdentity) -> None:
    """The `section` source must be configured, enabled, and serve the caller's organization.

    A missing or disabled source is 409: the server's configuration refuses the action until it is
    changed, so retrying (as a 503 would invite) cannot help."""
    config = getattr(services.sources, section)
    if config is None:
        raise ApiError(409, None, f"no `{section}` source system configured (OEE_CONFIG_FILE)")
    if not config.enabled:
        raise ApiError(409, None, f"the `{section}` source system is disabled ({section}.enabled: false)")
    if config.options.get("org_id", "demo") != identity.org_id:
        raise ApiError(403, None, f"the configured `{section}` system serves another organization")


async def launch(
    services: ApiServices,
    runs: DagsterRuns,
    job_name: str,
    run_config: dict[str, Any],
    identity: ApiIdentity,
    line_id: str | None = None,
) -> LaunchedRun:
    """Start `job_name` for the caller; `line_id` must then be one of the caller's lines (404).

    By default (`OEE_API_RUN_LAUNCH=queue`) commit an `api_run_requests` row and answer with its id:
    the `api_run_requests_sensor` starts the run within seconds, and no request waits on the
    webserver. The line check is part of that one INSERT: one trip to the warehouse per launch, the
    cost that decides the endpoint's latency under many clients. `graphql` launches over the
    webserver at once."""
    requested_by = f"api:{identity.name}"
    tags = {ORG_TAG: identity.org_id, REQUESTED_BY_TAG: requested_by}
    if services.settings.run_launch == "queue":
        queue = ApiRunRequests(services.pool.connection)
        owned = {"production_lines": line_id} if line_id else None
        request_id = await run_in_threadpool(
            queue.enqueue, identity.org_id, job_name, run_config, tags, requested_by, owned
        )
        if request_id is None:
            raise ApiError(404, "line_id", f"no line {line_id!r} in your organization")
        run_id = request_id
    else:
        if line_id:
            await run_in_threadpool(require_owned, services.pool, identity.org_id, line_id=line_id)
        try:
            run_id = await run_in_threadpool(runs.launch_job, job_name, run_config, tags)
        except DagsterUnavailableError as exc:
            raise ApiError(503, None, str(exc)) from None
    return LaunchedRun(run_id=run_id, job_name=job_name, status_url=RUNS_PATH.format(run_id=run_id))


@router.post(
    "/api/mes/schedules/sync/",
    status_code=202,
    response_model=LaunchedRun,
    responses=LAUNCH_RESPONSES,
    summary="Sync production schedules (with their work orders and recipes) from the MES",
)
async def sync_schedules(
    body: ScheduleSyncRequest,
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> LaunchedRun:
    require_source_org(services, "mes", identity)
    start = parse_bound(body.start_date, "start_date", upper=False) if body.start_date else None
    end = parse_bound(body.end_date, "end_date", upper=True) if body.end_date else None
    if start and end and end <= start:
        raise ApiError(422, "end_date", "must be after start_date")
    run_config = mes_sync_run_config(
        start=start,
        end=end,
        line_id=body.line_id,
        downloaded_by=f"api:{identity.name}",
    )
    return await launch(services, runs, MES_SCHEDULE_SYNC_JOB, run_config, identity, body.line_id)


@router.post(
    "/api/mes/recipes/download/",
    status_code=202,
    response_model=LaunchedRun,
    responses=LAUNCH_RESPONSES,
    summary="Download recipes from the MES and record the download with its version",
)
async def download_recipes(
    body: RecipeDownloadRequest,
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> LaunchedRun:
    require_source_org(services, "mes", identity)
    run_config = mes_sync_run_config(recipe_ids=body.recipe_ids, downloaded_by=f"api:{identity.name}")
    return await launch(services, runs, MES_RECIPE_DOWNLOAD_JOB, run_config, identity)


@router.post(
    "/api/mes/orders/update/",
    status_code=202,
    response_model=LaunchedRun,
    responses=LAUNCH_RESPONSES,
    summary="Push completed work orders' status and good quantity back to the MES",
)
async def update_orders(
    body: OrderStatusRequest,
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> LaunchedRun:
    require_source_org(services, "mes", identity)
    return await launch(
        services, runs, MES_ORDER_STATUS_JOB, pushback_run_config(body.work_order_ids), identity
    )


async def run_status(
    run_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f\-]{8,64}$")],
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> RunStatus:
    """A run launched by this API for the caller's organization: `run_id` is the id a 202 answered
    with, an API request's id (queue mode) or a Dagster run id (graphql mode)."""
    request = await run_in_threadpool(
        ApiRunRequests(services.pool.connection).request, identity.org_id, run_id
    )
    try:
        if request is not None:
            run = await run_in_threadpool(runs.run_tagged, REQUEST_TAG, request.request_id)
            if run is None:  # committed, not picked up by the sensor yet
                return RunStatus(run_id=run_id, job_name=request.job_name, status="REQUESTED")
        else:
            try:
                run = await run_in_threadpool(runs.run, run_id)
            except RunNotFoundError:
                run = None
    except DagsterUnavailableError as exc:
        raise ApiError(503, None, str(exc)) from None
    if run is None or run.tags.get(ORG_TAG) != identity.org_id:
        raise ApiError(404, "run_id", f"no run {run_id} of your organization")
    return RunStatus(run_id=run_id, job_name=run.job_name, status=run.status, dagster_run_id=run.run_id)


router.add_api_route(
    RUNS_PATH,
    run_status,
    methods=["GET"],
    response_model=RunStatus,
    responses={**COMMON_ERROR_RESPONSES, 503: LAUNCH_RESPONSES[503]},
    summary="Status of a MES or ERP run launched through the API",
)
