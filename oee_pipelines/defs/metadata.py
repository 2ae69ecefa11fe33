"""Materialization metadata every asset shows in the UI: row count, schema, time range, preview."""

from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PREVIEW_ROWS = 10


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def preview_markdown(data: pa.Table | pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MarkdownMetadataValue:
    frame = data.slice(0, rows).to_pandas() if isinstance(data, pa.Table) else data.head(rows)
    return dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_no rows_")


def table_metadata(
    data: pa.Table,
    *,
    time_column: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard metadata of a materialized table (plus any asset-specific figures)."""
    metadata: dict[str, Any] = {
        "dagster/row_count": data.num_rows,
        "dagster/column_schema": table_schema(data.schema),
        "preview": preview_markdown(data),
    }
    if time_column and data.num_rows:
        times = data.column(time_column)
        start: datetime = pc.min(times).as_py()
        end: datetime = pc.max(times).as_py()
        metadata["first_timestamp"] = dg.MetadataValue.timestamp(start)
        metadata["last_timestamp"] = dg.MetadataValue.timestamp(end)
    metadata.update(extra or {})
    return metadata
