"""Lineage (issue 18, item 5): one snapshot traced back to its sources, ingest runs and raw lake readings."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError
from oee_pipelines.api.params import IDENTIFIER_PATTERN, parse_bound
from oee_pipelines.api.queries import owned_by
from oee_pipelines.services.oee.lineage import SnapshotTrace, trace_snapshot
from oee_pipelines.storage.lake import Lake

router = APIRouter(tags=["OEE"])
PATH = "/api/oee/lineage/snapshot"


class LineageSnapshot(BaseModel):
    snapshot_id: int
    machine_id: str
    line_id: str
    shift_id: str | None
    work_order_id: str | None
    window_start: datetime
    snapshot_time: datetime
    total_pieces: int
    good_pieces: int
    rejected_pieces: int
    planned_production_time: float
    actual_production_time: float
    availability_pct: float | None
    performance_pct: float | None
    quality_pct: float | None
    oee_pct: float | None
    computed_by_run: str | None = Field(description="Dagster run that computed the snapshot")


class LineageRun(BaseModel):
    ingest_run_id: str
    kind: str = Field(description="import, historian_backfill or dagster_run")
    job_id: int | None = Field(description="The import or historian backfill job id")


class LineageReading(BaseModel):
    ts: datetime
    signal: str
    value: float | None
    text_value: str | None
    quality: int | None
    source_system: str
    source_ref: str | None
    ingest_run_id: str | None


class SnapshotLineage(BaseModel):
    snapshot: LineageSnapshot
    source_systems: list[str]
    ingest_runs: list[LineageRun]
    readings: list[LineageReading] = Field(
        description="Raw lake readings (machine state, pieces) of the machine in [window_start, "
        "snapshot_time], and the machine state in effect at window_start"
    )


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _as_response(trace: SnapshotTrace) -> SnapshotLineage:
    row = trace.snapshot
    snapshot = LineageSnapshot(
        snapshot_id=row["id"],
        machine_id=row["machine_id"],
        line_id=row["line_id"],
        shift_id=row["shift_id"],
        work_order_id=row["work_order_id"],
        window_start=row["window_start"],
        snapshot_time=row["snapshot_time"],
        total_pieces=row["total_pieces"],
        good_pieces=row["good_pieces"],
        rejected_pieces=row["rejected_pieces"],
        planned_production_time=float(row["planned_production_time"]),
        actual_production_time=float(row["actual_production_time"]),
        availability_pct=_number(row["availability_pct"]),
        performance_pct=_number(row["performance_pct"]),
        quality_pct=_number(row["quality_pct"]),
        oee_pct=_number(row["oee_pct"]),
        computed_by_run=row["dagster_run_id"],
    )
    return SnapshotLineage(
        snapshot=snapshot,
        source_systems=list(row["source_systems"]),
        ingest_runs=[
            LineageRun(ingest_run_id=r.ingest_run_id, kind=r.kind, job_id=r.job_id) for r in trace.runs
        ],
        readings=[LineageReading(**reading) for reading in trace.readings.to_pylist()],
    )


def _trace(services: ApiServices, org_id: str, machine_id: str, window_end: datetime) -> SnapshotLineage:
    with services.pool.connection() as conn:
        if not owned_by(conn, "machine_id", machine_id, org_id):
            raise ApiError(404, "machine_id", f"no machine {machine_id!r} in your organization")
        trace = trace_snapshot(conn, Lake(services.lake_root), org_id, machine_id, window_end)
    if trace is None:
        raise ApiError(404, "window_end", f"no snapshot of {machine_id} ends at {window_end.isoformat()}")
    return _as_response(trace)


@router.get(
    PATH,
    response_model=SnapshotLineage,
    responses=COMMON_ERROR_RESPONSES,
    summary="Trace one OEE snapshot to its source systems, ingest runs and raw lake readings",
)
async def snapshot_lineage(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    machine_id: str = Query(..., pattern=IDENTIFIER_PATTERN, max_length=64, examples=["MACHINE-001"]),
    window_end: str = Query(
        ...,
        min_length=1,
        max_length=40,
        description="The snapshot's snapshot_time (end of its 15-minute window), ISO 8601; "
        "no offset means UTC",
        examples=["2025-01-15T10:15:00Z"],
    ),
) -> SnapshotLineage:
    instant = parse_bound(window_end, "window_end", upper=False)
    return await run_in_threadpool(_trace, services, identity.org_id, machine_id, instant)
