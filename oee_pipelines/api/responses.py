"""Turning a stream of Arrow batches into a file download, and describing it in OpenAPI."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from oee_pipelines.api.deps import ApiServices
from oee_pipelines.api.errors import ApiError
from oee_pipelines.exports.columns import ExportTable, Kind
from oee_pipelines.exports.postgres_source import copy_batches
from oee_pipelines.exports.queries import ExportQuery
from oee_pipelines.exports.writers import MEDIA_TYPES, XLSX_MAX_DATA_ROWS, ExportFormat, export_stream


class ClosingStreamingResponse(StreamingResponse):
    """A streamed body whose generator is closed however the response ends.

    When a client hangs up, Starlette abandons the iterator; closing it here runs its `finally`
    blocks at once (cancelling the COPY and returning the pooled connection) instead of whenever
    the garbage collector gets to it.
    """

    def __init__(self, content: Iterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._source = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                await run_in_threadpool(close)


def file_response(
    services: ApiServices,
    table: ExportTable,
    export_format: ExportFormat,
    batches: Iterable[pa.RecordBatch],
    include_headers: bool = True,
) -> StreamingResponse:
    """A streamed download named like `OEE_Snapshots_2025-01-15.csv` (today's date, UTC)."""
    filename = table.filename(export_format.value, datetime.now(UTC).date())
    chunks = export_stream(
        export_format,
        table,
        batches,
        include_headers=include_headers,
        scratch_dir=services.settings.scratch_dir,
    )
    return ClosingStreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _warehouse_batches(
    services: ApiServices, table: ExportTable, query: ExportQuery
) -> Iterator[pa.RecordBatch]:
    # Runs lazily inside the response: the connection is held only while the body is being sent.
    with services.pool.connection() as conn:
        yield from copy_batches(conn, query.statement, query.params, table)


def check_fits_in_sheet(services: ApiServices, query: ExportQuery) -> None:
    with services.pool.connection() as conn:
        row = conn.execute(query.count_statement(XLSX_MAX_DATA_ROWS + 1), query.params).fetchone()
    rows = int(row[0]) if row else 0
    if rows > XLSX_MAX_DATA_ROWS:
        raise ApiError(
            400,
            "format",
            f"more than {XLSX_MAX_DATA_ROWS:,} rows do not fit in one Excel sheet (1,048,576 rows with the "
            "header): ask for format=csv or format=parquet, or narrow date_from/date_to",
        )


def warehouse_export(
    services: ApiServices,
    table: ExportTable,
    query: ExportQuery,
    export_format: ExportFormat,
    include_headers: bool = True,
) -> StreamingResponse:
    if export_format is ExportFormat.XLSX:
        check_fits_in_sheet(services, query)
    batches = _warehouse_batches(services, table, query)
    return file_response(services, table, export_format, batches, include_headers)


_JSON_TYPES: dict[Kind, dict[str, Any]] = {
    Kind.TIMESTAMP: {"type": ["string", "null"], "format": "date-time"},
    Kind.DATE: {"type": ["string", "null"], "format": "date"},
    Kind.PERCENT: {"type": ["number", "null"], "minimum": 0},
    Kind.NUMBER: {"type": ["number", "null"]},
    Kind.INTEGER: {"type": ["integer", "null"]},
    Kind.BOOLEAN: {"type": ["boolean", "null"]},
    Kind.TEXT: {"type": ["string", "null"]},
}


def json_rows_schema(table: ExportTable) -> dict[str, Any]:
    """The JSON Schema of a JSON export: an array of objects with exactly the table's columns."""
    properties = {
        column.name: {
            **_JSON_TYPES[column.kind],
            **({"description": column.description} if column.description else {}),
        }
        for column in table.columns
    }
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": properties,
            "required": table.column_names,
            "additionalProperties": False,
        },
    }


def file_responses(
    table: ExportTable, formats: Iterable[ExportFormat] = tuple(ExportFormat)
) -> dict[int | str, Any]:
    """The OpenAPI `200` entry of a download endpoint: one content type per format."""
    content: dict[str, Any] = {}
    for export_format in formats:
        media_type = MEDIA_TYPES[export_format].split(";")[0]
        if export_format is ExportFormat.JSON:
            content[media_type] = {"schema": json_rows_schema(table)}
        elif export_format is ExportFormat.CSV:
            header = ",".join(table.column_names)
            content[media_type] = {"schema": {"type": "string"}, "example": header + "\n"}
        else:
            content[media_type] = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": f"{table.file_title}_<date>.<format>, streamed", "content": content}}
