"""`GET /api/oee/export/{snapshots,downtime,shift-reports,data-mart}`: the BI exports of seed 000."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError
from oee_pipelines.api.params import IDENTIFIER_PATTERN, TimeRange, resolve_time_range
from oee_pipelines.api.queries import (
    data_mart_query,
    downtime_query,
    owned_by,
    shift_reports_query,
    snapshots_query,
)
from oee_pipelines.api.responses import file_responses, warehouse_export
from oee_pipelines.exports.columns import DATA_MART, DOWNTIME, SHIFT_REPORTS, SNAPSHOTS
from oee_pipelines.exports.writers import ExportFormat

router = APIRouter(prefix="/api/oee/export", tags=["OEE exports"])

DATA_MART_MAX_LIMIT = 100_000
DATE_HELP = (
    "A date (YYYY-MM-DD, UTC day) or an ISO 8601 datetime. A date as `date_to` includes that whole day; "
    "a datetime as `date_to` is excluded (half-open range, for Power BI incremental refresh)."
)


class ShiftReportStatus(StrEnum):
    DRAFT = "draft"
    FINAL = "final"


@dataclass(frozen=True)
class ExportRequest:
    identity: ApiIdentity
    services: ApiServices
    export_format: ExportFormat
    time_range: TimeRange
    include_headers: bool


def export_request(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    format: ExportFormat = Query(ExportFormat.CSV, description="csv, json, xlsx or parquet"),
    date_from: str = Query(..., max_length=40, description=DATE_HELP, examples=["2025-01-01"]),
    date_to: str = Query(..., max_length=40, description=DATE_HELP, examples=["2025-01-30"]),
    include_headers: bool = Query(True, description="CSV and XLSX: write the header row"),
) -> ExportRequest:
    time_range = resolve_time_range(date_from, date_to, services.settings.max_range_days)
    return ExportRequest(identity, services, format, time_range, include_headers)


def _check_owned(request: ExportRequest, **ids: str | None) -> None:
    """Unknown ids, and ids of another organization, are both simply not found."""
    given = {parameter: value for parameter, value in ids.items() if value is not None}
    if not given:
        return
    with request.services.pool.connection() as conn:
        for parameter, value in given.items():
            if not owned_by(conn, parameter, value, request.identity.org_id):
                noun = parameter.removesuffix("_id")
                raise ApiError(404, parameter, f"no {noun} {value!r} in your organization")


@router.get(
    "/snapshots",
    summary="OEE snapshots (one row per machine per 15 minutes)",
    responses={**file_responses(SNAPSHOTS), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_snapshots(
    request: ExportRequest = Depends(export_request),
    machine_id: str | None = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["MACHINE-001"]),
    line_id: str | None = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["LINE-001"]),
    shift_id: str | None = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["SHIFT-1"]),
) -> StreamingResponse:
    _check_owned(request, machine_id=machine_id, line_id=line_id, shift_id=shift_id)
    query = snapshots_query(request.identity.org_id, request.time_range, machine_id, line_id, shift_id)
    return warehouse_export(
        request.services, SNAPSHOTS, query, request.export_format, request.include_headers
    )


@router.get(
    "/downtime",
    summary="Downtime events (stops), by start time",
    responses={**file_responses(DOWNTIME), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_downtime(
    request: ExportRequest = Depends(export_request),
    include_resolved: bool = Query(True, description="false: only stops that are still open"),
) -> StreamingResponse:
    query = downtime_query(request.identity.org_id, request.time_range, include_resolved)
    return warehouse_export(request.services, DOWNTIME, query, request.export_format, request.include_headers)


@router.get(
    "/shift-reports",
    summary="Shift reports (one row per line per shift), by shift start",
    responses={**file_responses(SHIFT_REPORTS), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_shift_reports(
    request: ExportRequest = Depends(export_request),
    status: ShiftReportStatus | None = Query(None, description="draft (shift still open) or final"),
) -> StreamingResponse:
    query = shift_reports_query(request.identity.org_id, request.time_range, status.value if status else None)
    return warehouse_export(
        request.services, SHIFT_REPORTS, query, request.export_format, request.include_headers
    )


@router.get(
    "/data-mart",
    summary="The denormalized OEE data mart (snapshots with machine, line, shift, work order, downtime)",
    responses={**file_responses(DATA_MART), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_data_mart(
    request: ExportRequest = Depends(export_request),
    limit: int | None = Query(
        None,
        ge=1,
        le=DATA_MART_MAX_LIMIT,
        description="At most this many rows (max 100,000); all when absent",
    ),
) -> StreamingResponse:
    query = data_mart_query(request.identity.org_id, request.time_range, limit)
    return warehouse_export(
        request.services, DATA_MART, query, request.export_format, request.include_headers
    )
