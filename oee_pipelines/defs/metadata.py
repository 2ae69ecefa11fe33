"""The metadata every asset shows in the UI.

The column schema, every column with its description and unit, comes from one place:
`storage/catalog.py` (warehouse tables, lake datasets, reports) and `exports/columns.py` (published
files). An asset declares it at definition time (`metadata=column_schema(...)`) and its materializations
repeat the same schema (`table_metadata(..., schema=...)`), beside the row count, time range and preview.
"""

from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.exports.columns import ExportTable
from oee_pipelines.storage.catalog import Dataset, dataset

PREVIEW_ROWS = 10
COLUMN_SCHEMA = "dagster/column_schema"


def table_schema(source: Dataset | ExportTable) -> dg.TableSchema:
    """A catalog entry or a published table as a Dagster column schema, with the column descriptions."""
    if isinstance(source, ExportTable):
        columns = [(c.name, str(c.arrow_type), c.description) for c in source.columns]
    else:
        columns = [(c.name, c.type, c.description) for c in source.columns]
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=kind, description=text) for name, kind, text in columns]
    )


def column_schema(source: str | ExportTable) -> dict[str, Any]:
    """Definition metadata of an asset: the column schema of the dataset it writes (a catalog name, e.g.
    "oee_snapshots", "telemetry", or a published table)."""
    return {COLUMN_SCHEMA: table_schema(dataset(source) if isinstance(source, str) else source)}


def preview_markdown(data: pa.Table | pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MarkdownMetadataValue:
    frame = data.slice(0, rows).to_pandas() if isinstance(data, pa.Table) else data.head(rows)
    return dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_no rows_")


def table_metadata(
    data: pa.Table,
    *,
    schema: str | ExportTable | None = None,
    time_column: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard metadata of a materialized table (plus any asset-specific figures). `schema` names
    the catalog dataset the asset writes (as its definition does); without it the definition's schema
    is the one shown."""
    metadata: dict[str, Any] = {
        "dagster/row_count": data.num_rows,
        **(column_schema(schema) if schema is not None else {}),
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
