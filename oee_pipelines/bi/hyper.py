"""Tableau `.hyper` extracts of the published tables, written with the Hyper API (`tableauhyperapi`).

The rows are spooled to a Parquet file first and loaded by Hyper's own `COPY ... (FORMAT parquet)`,
so types come from the export's Arrow schema and no Python object is built per value. The Hyper API
is an optional extra (`pip install 'oee_pipelines[tableau]'`): the base install stays small.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from oee_pipelines.exports.columns import ExportTable, Kind

EXTRACT_SCHEMA = "Extract"
EXTRACT_TABLE = "Extract"  # the single-table name every Tableau version opens


class HyperUnavailableError(RuntimeError):
    """The optional `tableauhyperapi` package is not installed."""


def _hyper_api() -> Any:
    try:
        import tableauhyperapi
    except ImportError as exc:
        raise HyperUnavailableError(
            "writing .hyper files needs the Tableau Hyper API: pip install 'oee_pipelines[tableau]' "
            "(or pip install tableauhyperapi)"
        ) from exc
    return tableauhyperapi


def hyper_types(api: Any) -> dict[Kind, Callable[[], Any]]:
    sql_type = api.SqlType
    return {
        Kind.TIMESTAMP: sql_type.timestamp_tz,
        Kind.DATE: sql_type.date,
        Kind.PERCENT: sql_type.double,
        Kind.NUMBER: sql_type.double,
        Kind.INTEGER: sql_type.big_int,
        Kind.BOOLEAN: sql_type.bool,
        Kind.TEXT: sql_type.text,
    }


def _spool_parquet(table: ExportTable, batches: Iterable[pa.RecordBatch], path: Path) -> int:
    rows = 0
    with pq.ParquetWriter(path, table.arrow_schema) as writer:
        for batch in batches:
            writer.write_batch(table.conform(batch))
            rows += batch.num_rows
    return rows


def write_hyper(out: Path, table: ExportTable, batches: Iterable[pa.RecordBatch]) -> int:
    """Write `batches` (the columns of `table`) as `out` (replaced), table `Extract.Extract`; returns rows."""
    api = _hyper_api()
    types = hyper_types(api)
    definition = api.TableDefinition(
        api.TableName(EXTRACT_SCHEMA, EXTRACT_TABLE),
        [api.TableDefinition.Column(column.name, types[column.kind]()) for column in table.columns],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oee-hyper-") as scratch:
        spool = Path(scratch) / "rows.parquet"
        _spool_parquet(table, batches, spool)
        parameters = {"log_dir": scratch, "log_config": ""}
        with (
            api.HyperProcess(api.Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters) as hyper,
            api.Connection(hyper.endpoint, str(out), api.CreateMode.CREATE_AND_REPLACE) as connection,
        ):
            connection.catalog.create_schema(EXTRACT_SCHEMA)
            connection.catalog.create_table(definition)
            return int(
                connection.execute_command(
                    f"COPY {definition.table_name} FROM {api.escape_string_literal(str(spool))} "
                    "WITH (FORMAT => 'parquet')"
                )
            )
