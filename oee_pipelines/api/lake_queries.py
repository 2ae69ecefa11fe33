"""Telemetry from the Parquet lake through DuckDB: raw readings and time-bucket aggregates, as Arrow batches.

Every query is filtered on the caller's organization and on the `date=` partitions the range touches,
so DuckDB opens only those files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from oee_pipelines.exports.columns import TELEMETRY, TELEMETRY_BATCH, ExportTable
from oee_pipelines.exports.queries import TimeRange
from oee_pipelines.storage.lake import Lake

BATCH_ROWS = 65_536
BUCKET_MICROSECONDS: dict[str, int] = {
    "1min": 60_000_000,
    "5min": 300_000_000,
    "1h": 3_600_000_000,
    "1d": 86_400_000_000,
}

_FILTERS = """
    org_id = $org_id
    AND list_contains($machine_ids, machine_id)
    AND ts >= $start AND ts < $end
    AND "date" BETWEEN $first_day AND $last_day
"""
_METRIC_FILTER = " AND list_contains($metrics, signal)"
_SOURCE = "read_parquet($files, hive_partitioning = true, union_by_name = true)"

# Each output column from the lake's telemetry schema: the project's names and the seed's (seed 002
# §7.1-7.2: `timestamp` / `timestamp_utc` is `ts`, `event_type` the signal, `event_value` the value,
# `quality_score` the quality).
RAW_EXPRESSIONS: dict[str, str] = {
    "ts": "ts",
    "timestamp": "ts",
    "timestamp_utc": "ts",
    "machine_id": "machine_id",
    "signal": "signal",
    "event_type": "signal",
    "value": "value",
    "event_value": "value",
    "text_value": "text_value",
    "unit": "unit",
    "quality": "quality",
    "quality_score": "quality",
    "source_system": "source_system",
}

RAW_SQL = f"""
SELECT {{select}}
FROM {_SOURCE} WHERE {_FILTERS} {{metric_filter}}
ORDER BY ts, signal
"""

AGGREGATE_SQL = f"""
SELECT make_timestamp((epoch_us(ts) // $bucket_us) * $bucket_us) AS bucket, machine_id, signal AS event_type,
       avg(value) AS avg_value, max(value) AS max_value, min(value) AS min_value, count(value) AS count
FROM {_SOURCE} WHERE {_FILTERS} AND value IS NOT NULL {{metric_filter}}
GROUP BY ALL
ORDER BY bucket, machine_id, event_type
"""


def _raw_select(table: ExportTable) -> str:
    return ", ".join(f'{RAW_EXPRESSIONS[name]} AS "{name}"' for name in table.column_names)


def _lake_files(lake_root: str) -> list[str]:
    lake = Lake(lake_root)
    files = sorted(lake.fs.glob(lake.path("telemetry", "*", "*", "*.parquet")))
    prefix = "" if lake.is_local else lake.url_root.split("://", 1)[0] + "://"
    return [prefix + path for path in files]


def _run(
    lake_root: str, template: str, params: dict[str, Any], metrics: list[str] | None, table: ExportTable
) -> Iterator[pa.RecordBatch]:
    files = _lake_files(lake_root)
    if not files:
        return
    connection = duckdb.connect(config={"threads": 2})
    try:
        select = _raw_select(table) if template is RAW_SQL else ""
        statement = template.format(metric_filter=_METRIC_FILTER if metrics else "", select=select)
        arguments = {**params, "files": files, **({"metrics": metrics} if metrics else {})}
        reader = connection.sql(statement, params=arguments).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield table.conform(batch)
    finally:
        connection.close()


def _range_params(org_id: str, machine_ids: list[str], time_range: TimeRange) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "machine_ids": machine_ids,
        "start": time_range.start,
        "end": time_range.end,
        "first_day": time_range.first_day,
        "last_day": time_range.last_day,
    }


def telemetry_batches(
    lake_root: str,
    org_id: str,
    machine_ids: list[str],
    time_range: TimeRange,
    metrics: list[str] | None,
    table: ExportTable = TELEMETRY,
) -> Iterator[pa.RecordBatch]:
    """The raw readings in `table`'s columns (TELEMETRY, or a seed contract's names)."""
    params = _range_params(org_id, machine_ids, time_range)
    return _run(lake_root, RAW_SQL, params, metrics, table)


def aggregate_batches(
    lake_root: str,
    org_id: str,
    machine_ids: list[str],
    time_range: TimeRange,
    aggregation: str,
    metrics: list[str] | None,
) -> Iterator[pa.RecordBatch]:
    params = {**_range_params(org_id, machine_ids, time_range), "bucket_us": BUCKET_MICROSECONDS[aggregation]}
    return _run(lake_root, AGGREGATE_SQL, params, metrics, TELEMETRY_BATCH)
