"""`GET /api/oee/export/{snapshots,downtime,shift-reports,data-mart}`: the BI exports of seed 000, and
`material-consumption`, `production-variance`: the work order figures of seed 002 (sql/051), and
`losses`: the six big losses per machine, shift and day (sql/052)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES
from oee_pipelines.api.params import IDENTIFIER_PATTERN, resolve_time_range
from oee_pipelines.api.queries import require_owned
from oee_pipelines.api.responses import ClosingStreamingResponse, file_responses, warehouse_export
from oee_pipelines.exports.columns import (
    DATA_MART,
    DOWNTIME,
    LOSSES,
    MATERIAL_CONSUMPTION,
    PRODUCTION_VARIANCE,
    SHIFT_REPORTS,
    SNAPSHOTS,
)
from oee_pipelines.exports.queries import (
    TimeRange,
    data_mart_query,
    downtime_query,
    losses_query,
    material_consumption_query,
    production_variance_query,
    shift_reports_query,
    snapshots_query,
)
from oee_pipelines.exports.read_ahead import read_ahead
from oee_pipelines.exports.writers import MEDIA_TYPES, ExportFormat, export_stream
from oee_pipelines.services.mart.lake_copy import current_days, mart_batches
from oee_pipelines.storage.lake import Lake

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

router = APIRouter(prefix="/api/oee/export", tags=["OEE exports"])
# The seed's Power BI URL (`https://<host>/oee/export/snapshots` and its siblings, without `/api`):
# the same operations, so a report built from the seed's instructions works unchanged.
seed_router = APIRouter(prefix="/oee/export", tags=["OEE exports (the seed's URLs)"])


def export_operation(path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """Declare an export endpoint under both prefixes (each a route of its own, with its full path)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.get(path, **options)(endpoint)
        seed_router.get(path, **options)(endpoint)
        return endpoint

    return register


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
    date_from: str = Query(..., min_length=1, max_length=40, description=DATE_HELP, examples=["2025-01-01"]),
    date_to: str = Query(..., min_length=1, max_length=40, description=DATE_HELP, examples=["2025-01-30"]),
    include_headers: bool = Query(True, description="CSV and XLSX: write the header row"),
) -> ExportRequest:
    time_range = resolve_time_range(date_from, date_to, services.settings.max_range_days)
    return ExportRequest(identity, services, format, time_range, include_headers)


@export_operation(
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
    ids = {"machine_id": machine_id, "line_id": line_id, "shift_id": shift_id}
    require_owned(request.services.pool, request.identity.org_id, **ids)
    query = snapshots_query(request.identity.org_id, request.time_range, machine_id, line_id, shift_id)
    return warehouse_export(
        request.services, SNAPSHOTS, query, request.export_format, request.include_headers
    )


@export_operation(
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


@export_operation(
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


@export_operation(
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
    from_lake = data_mart_from_lake(request, limit)
    if from_lake is not None:
        return from_lake
    query = data_mart_query(request.identity.org_id, request.time_range, limit)
    return warehouse_export(
        request.services, DATA_MART, query, request.export_format, request.include_headers
    )


def data_mart_from_lake(request: ExportRequest, limit: int | None) -> StreamingResponse | None:
    """The export read from the mart's lake copy when it is current for every day of the range (the
    same bytes as from the table, without PostgreSQL formatting the rows); None otherwise. XLSX, capped
    at one sheet, stays on the table."""
    if request.export_format is ExportFormat.XLSX:
        return None
    org_id, time_range = request.identity.org_id, request.time_range
    lake = Lake(request.services.lake_root)
    with request.services.pool.connection() as conn:
        copies = current_days(conn, lake, org_id, time_range)
    if copies is None:
        return None
    # Only a Parquet file's bytes depend on where batches end (its row groups): CSV and JSON take any.
    copy_like = request.export_format is ExportFormat.PARQUET
    batches = mart_batches(lake, copies, org_id, time_range, limit, copy_like=copy_like)
    filename = DATA_MART.filename(request.export_format.value, datetime.now(UTC).date())
    chunks = export_stream(request.export_format, DATA_MART, batches, include_headers=request.include_headers)
    # Formatted on a thread ahead of the socket: reading, formatting and sending overlap.
    return ClosingStreamingResponse(
        read_ahead(chunks, name="oee-export-writer"),
        media_type=MEDIA_TYPES[request.export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


WORK_ORDER_HELP = "one work order (its id, e.g. WO-000001); 404 when it is not your organization's"


@export_operation(
    "/material-consumption",
    summary="Material consumed per work order and material (MES), by the order's planned start",
    responses={**file_responses(MATERIAL_CONSUMPTION), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_material_consumption(
    request: ExportRequest = Depends(export_request),
    work_order_id: str | None = Query(
        None, pattern=IDENTIFIER_PATTERN, max_length=64, description=WORK_ORDER_HELP, examples=["WO-000001"]
    ),
) -> StreamingResponse:
    require_owned(request.services.pool, request.identity.org_id, work_order_id=work_order_id)
    query = material_consumption_query(request.identity.org_id, request.time_range, work_order_id)
    return warehouse_export(
        request.services, MATERIAL_CONSUMPTION, query, request.export_format, request.include_headers
    )


@export_operation(
    "/production-variance",
    summary="Yield and material variance per work order (ERP), by the order's planned start",
    responses={**file_responses(PRODUCTION_VARIANCE), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_production_variance(
    request: ExportRequest = Depends(export_request),
    work_order_id: str | None = Query(
        None, pattern=IDENTIFIER_PATTERN, max_length=64, description=WORK_ORDER_HELP, examples=["WO-000001"]
    ),
) -> StreamingResponse:
    require_owned(request.services.pool, request.identity.org_id, work_order_id=work_order_id)
    query = production_variance_query(request.identity.org_id, request.time_range, work_order_id)
    return warehouse_export(
        request.services, PRODUCTION_VARIANCE, query, request.export_format, request.include_headers
    )


class LossCategory(StrEnum):
    """The loss tree's categories (sql/052): fully productive time, the six big losses, unknown time."""

    FULLY_PRODUCTIVE = "fully_productive"
    BREAKDOWNS = "breakdowns"
    SETUP_ADJUSTMENTS = "setup_adjustments"
    SMALL_STOPS = "small_stops"
    REDUCED_SPEED = "reduced_speed"
    STARTUP_REJECTS = "startup_rejects"
    PRODUCTION_REJECTS = "production_rejects"
    UNKNOWN = "unknown"


@export_operation(
    "/losses",
    summary="The six big losses per machine, shift and UTC day, with their reason codes (the loss tree)",
    description="One row per machine, shift instance, UTC day, loss category and reason code. The "
    "minutes of a machine-day add up to its planned production time (docs/oee-model.md). Days are "
    "those whose midnight (UTC) lies in the range.",
    responses={**file_responses(LOSSES), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def export_losses(
    request: ExportRequest = Depends(export_request),
    machine_id: str | None = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["MACHINE-001"]),
    line_id: str | None = Query(None, pattern=IDENTIFIER_PATTERN, max_length=64, examples=["LINE-001"]),
    loss_category: LossCategory | None = Query(None, description="one category of the loss tree"),
) -> StreamingResponse:
    require_owned(request.services.pool, request.identity.org_id, machine_id=machine_id, line_id=line_id)
    category = loss_category.value if loss_category else None
    query = losses_query(request.identity.org_id, request.time_range, machine_id, line_id, category)
    return warehouse_export(request.services, LOSSES, query, request.export_format, request.include_headers)
