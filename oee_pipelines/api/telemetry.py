"""Telemetry from the lake (seed 002 §7.1-7.2): raw CSV / Parquet downloads and bucketed aggregates."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError
from oee_pipelines.api.lake_queries import aggregate_batches, telemetry_batches
from oee_pipelines.api.params import IDENTIFIER_PATTERN, resolve_time_range, split_metrics
from oee_pipelines.api.queries import owned_by
from oee_pipelines.api.responses import file_response, file_responses
from oee_pipelines.exports.columns import (
    TELEMETRY,
    TELEMETRY_BATCH,
    TELEMETRY_SEED_CSV,
    TELEMETRY_SEED_PARQUET,
    ExportTable,
)
from oee_pipelines.exports.writers import ExportFormat

router = APIRouter(tags=["Telemetry"])

RANGE_HELP = "A date (UTC day, `end_date` inclusive of it) or an ISO 8601 datetime (`end_date` excluded)."
MAX_MACHINES_PER_QUERY = 200


Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]


class ColumnSet(StrEnum):
    """Which names the raw download uses: the project's (default) or the seed's exact contract."""

    PROJECT = "project"
    SEED = "seed"


# The seed's contracts (seed 002 §7.1): its columns and its file names, per format.
SEED_TABLES: dict[ExportFormat, ExportTable] = {
    ExportFormat.CSV: TELEMETRY_SEED_CSV,
    ExportFormat.PARQUET: TELEMETRY_SEED_PARQUET,
}


def seed_file_name(export_format: ExportFormat, machine_id: str) -> str:
    """`telemetry_MACHINE-001.csv` for CSV and `telemetry.parquet` for Parquet, as the seed names them."""
    return f"telemetry_{machine_id}.csv" if export_format is ExportFormat.CSV else "telemetry.parquet"


class Aggregation(StrEnum):
    ONE_MINUTE = "1min"
    FIVE_MINUTES = "5min"
    ONE_HOUR = "1h"
    ONE_DAY = "1d"


class TelemetryBatchQuery(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "machine_ids": ["MACHINE-001", "MACHINE-002"],
                    "start_date": "2025-01-01T00:00:00Z",
                    "end_date": "2025-02-01T00:00:00Z",
                    "aggregation": "1h",
                    "metrics": ["temperature", "pressure"],
                }
            ]
        },
    )

    machine_ids: list[Identifier] = Field(min_length=1, max_length=MAX_MACHINES_PER_QUERY)
    start_date: str = Field(min_length=1, max_length=40, description=RANGE_HELP)
    end_date: str = Field(min_length=1, max_length=40, description=RANGE_HELP)
    aggregation: Aggregation
    metrics: list[Identifier] | None = Field(
        default=None, max_length=50, description="signals; all when absent"
    )


def _check_machines(
    services: ApiServices, identity: ApiIdentity, parameter: str, machine_ids: list[str]
) -> None:
    with services.pool.connection() as conn:
        for machine_id in machine_ids:
            if not owned_by(conn, "machine_id", machine_id, identity.org_id):
                raise ApiError(404, parameter, f"no machine {machine_id!r} in your organization")


def _telemetry_download(
    export_format: ExportFormat,
    identity: ApiIdentity,
    services: ApiServices,
    machine_id: str,
    start_date: str,
    end_date: str,
    metrics: str | None,
    columns: ColumnSet,
) -> StreamingResponse:
    time_range = resolve_time_range(
        start_date, end_date, services.settings.max_range_days, names=("start_date", "end_date")
    )
    signals = split_metrics(metrics)
    _check_machines(services, identity, "machine_id", [machine_id])
    table = SEED_TABLES[export_format] if columns is ColumnSet.SEED else TELEMETRY
    batches = telemetry_batches(services.lake_root, identity.org_id, [machine_id], time_range, signals, table)
    response = file_response(services, table, export_format, batches)
    if columns is ColumnSet.SEED:
        name = seed_file_name(export_format, machine_id)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


MachineQuery = Query(..., pattern=IDENTIFIER_PATTERN, max_length=64, examples=["MACHINE-001"])
StartQuery = Query(..., min_length=1, max_length=40, description=RANGE_HELP, examples=["2025-01-15"])
EndQuery = Query(..., min_length=1, max_length=40, description=RANGE_HELP, examples=["2025-01-15"])
MetricsQuery = Query(
    None, max_length=1000, description="comma-separated signals", examples=["temperature,pressure"]
)
ColumnsQuery = Query(
    ColumnSet.PROJECT,
    description=(
        "`project` (default): ts, machine_id, signal, value, text_value, unit, quality, source_system. "
        "`seed`: the seed's exact contract, CSV `timestamp, machine_id, event_type, value, quality` named "
        "`telemetry_<machine_id>.csv`, Parquet `timestamp_utc, machine_id, event_type, event_value, "
        "quality_score` named `telemetry.parquet` (event_type is the signal)"
    ),
)


def _download_responses(export_format: ExportFormat) -> dict[int | str, Any]:
    """The 200 entry of a raw download, with the seed contract's columns beside the project's."""
    responses = file_responses(TELEMETRY, [export_format])
    seed = SEED_TABLES[export_format]
    name = seed_file_name(export_format, "<machine_id>")
    responses[200]["description"] += f"; with columns=seed: {', '.join(seed.column_names)} in {name}"
    return {**responses, **COMMON_ERROR_RESPONSES}


@router.get(
    "/api/export/telemetry/csv/",
    summary="Raw telemetry of one machine as CSV, streamed from the lake",
    responses=_download_responses(ExportFormat.CSV),
    response_class=StreamingResponse,
)
def export_telemetry_csv(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    machine_id: str = MachineQuery,
    start_date: str = StartQuery,
    end_date: str = EndQuery,
    metrics: str | None = MetricsQuery,
    columns: ColumnSet = ColumnsQuery,
) -> StreamingResponse:
    return _telemetry_download(
        ExportFormat.CSV, identity, services, machine_id, start_date, end_date, metrics, columns
    )


@router.get(
    "/api/export/telemetry/parquet/",
    summary="Raw telemetry of one machine as Parquet (zstd, typed), streamed from the lake",
    responses=_download_responses(ExportFormat.PARQUET),
    response_class=StreamingResponse,
)
def export_telemetry_parquet(
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
    machine_id: str = MachineQuery,
    start_date: str = StartQuery,
    end_date: str = EndQuery,
    metrics: str | None = MetricsQuery,
    columns: ColumnSet = ColumnsQuery,
) -> StreamingResponse:
    return _telemetry_download(
        ExportFormat.PARQUET, identity, services, machine_id, start_date, end_date, metrics, columns
    )


@router.post(
    "/api/batch/telemetry/",
    summary="Telemetry per 1min / 5min / 1h / 1d bucket and event_type (avg, max, min, count), as JSON",
    responses={**file_responses(TELEMETRY_BATCH, [ExportFormat.JSON]), **COMMON_ERROR_RESPONSES},
    response_class=StreamingResponse,
)
def batch_telemetry(
    body: TelemetryBatchQuery = Body(...),
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
) -> StreamingResponse:
    time_range = resolve_time_range(
        body.start_date, body.end_date, services.settings.max_range_days, names=("start_date", "end_date")
    )
    machine_ids = list(dict.fromkeys(body.machine_ids))
    signals = list(dict.fromkeys(body.metrics)) if body.metrics else None
    _check_machines(services, identity, "machine_ids", machine_ids)
    batches = aggregate_batches(
        services.lake_root, identity.org_id, machine_ids, time_range, body.aggregation.value, signals
    )
    return file_response(services, TELEMETRY_BATCH, ExportFormat.JSON, batches)
