"""ERP endpoints (seed 002 §1.2): launch the material master sync, and read labour costs per line and day.

A launched run's status is read at `GET /api/mes/runs/{run_id}` (one endpoint for MES and ERP runs).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, dagster_runs, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError
from oee_pipelines.api.mes import LAUNCH_RESPONSES, LaunchedRun, launch, require_source_org
from oee_pipelines.api.params import IDENTIFIER_PATTERN
from oee_pipelines.api.queries import owned_by
from oee_pipelines.services.mes_erp.run_requests import ERP_MATERIALS_SYNC_JOB
from oee_pipelines.services.runs import DagsterRuns

router = APIRouter(tags=["ERP"])


class LaborCostEntry(BaseModel):
    cost_center: str
    labor_hours: Decimal
    hourly_rate: Decimal
    labor_cost: Decimal
    currency: str
    source_system: str


class LaborCosts(BaseModel):
    line_id: str
    date: date
    total_hours: Decimal
    total_cost: Decimal
    entries: list[LaborCostEntry]


@router.post(
    "/api/erp/materials/sync/",
    status_code=202,
    response_model=LaunchedRun,
    responses=LAUNCH_RESPONSES,
    summary="Sync the material master from the ERP",
)
async def sync_materials(
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    runs: DagsterRuns = Depends(dagster_runs),
) -> LaunchedRun:
    require_source_org(services, "erp", identity)
    return await launch(services, runs, ERP_MATERIALS_SYNC_JOB, {}, identity)


@router.get(
    "/api/erp/labor/",
    response_model=LaborCosts,
    responses=COMMON_ERROR_RESPONSES,
    summary="Labour hours and cost of one line on one day, per cost centre (from the warehouse)",
)
async def labor_costs(
    line_id: str = Query(
        description="e.g. LINE-001", pattern=IDENTIFIER_PATTERN, max_length=64, examples=["LINE-001"]
    ),
    day: date = Query(alias="date", description="the work date, YYYY-MM-DD"),
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
) -> LaborCosts:
    def read() -> list[tuple] | None:
        with services.pool.connection() as conn:
            if not owned_by(conn, "line_id", line_id, identity.org_id):
                return None
            return conn.execute(
                """SELECT cost_center, labor_hours, hourly_rate, labor_cost, currency, source_system
                   FROM labor_costs WHERE org_id = %s AND line_id = %s AND work_date = %s
                   ORDER BY cost_center""",
                (identity.org_id, line_id, day),
            ).fetchall()

    rows = await run_in_threadpool(read)
    if rows is None:
        raise ApiError(404, "line_id", f"no line {line_id!r} in your organization")
    entries = [LaborCostEntry(**dict(zip(LaborCostEntry.model_fields, row, strict=True))) for row in rows]
    return LaborCosts(
        line_id=line_id,
        date=day,
        total_hours=sum((e.labor_hours for e in entries), Decimal(0)),
        total_cost=sum((e.labor_cost for e in entries), Decimal(0)),
        entries=entries,
    )
