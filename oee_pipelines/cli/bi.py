"""`oee bi hyper`: a Tableau `.hyper` extract of one exported table, from the warehouse or a Parquet file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from oee_pipelines.api.errors import ApiError
from oee_pipelines.api.params import resolve_time_range
from oee_pipelines.bi.hyper import HyperUnavailableError, write_hyper
from oee_pipelines.cli.progress import ProgressDisplay
from oee_pipelines.domain.progress import Progress
from oee_pipelines.exports.columns import DATA_MART, DOWNTIME, SHIFT_REPORTS, SNAPSHOTS, ExportTable
from oee_pipelines.exports.postgres_source import copy_batches
from oee_pipelines.exports.queries import (
    ExportQuery,
    TimeRange,
    data_mart_query,
    downtime_query,
    shift_reports_query,
    snapshots_query,
)
from oee_pipelines.settings import Settings
from oee_pipelines.storage.warehouse import resolve_database_url

TABLES: dict[str, tuple[ExportTable, Callable[[str, TimeRange], ExportQuery]]] = {
    "snapshots": (SNAPSHOTS, snapshots_query),
    "downtime": (DOWNTIME, downtime_query),
    "shift-reports": (SHIFT_REPORTS, shift_reports_query),
    "data-mart": (DATA_MART, data_mart_query),
}
MAX_RANGE_DAYS = 3660  # a file extract is not bound by the API's per-request limit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bi", help="files for BI tools: Tableau .hyper extracts")
    commands = parser.add_subparsers(dest="bi_command", required=True)
    hyper = commands.add_parser("hyper", help="write a .hyper extract of an exported table (needs [tableau])")
    hyper.add_argument("--table", required=True, choices=sorted(TABLES))
    hyper.add_argument("--out", required=True, type=Path, help="the .hyper file to write (replaced)")
    source = hyper.add_mutually_exclusive_group(required=True)
    source.add_argument("--org", help="read the warehouse rows of this organization")
    source.add_argument("--parquet", type=Path, help="convert this Parquet export / published file instead")
    hyper.add_argument("--date-from", help="with --org: first day or instant (UTC), like the API's date_from")
    hyper.add_argument("--date-to", help="with --org: last day (included) or instant (excluded)")
    hyper.set_defaults(handler=run_hyper)


def _warehouse_batches(org_id: str, table_key: str, time_range: TimeRange) -> Iterator[pa.RecordBatch]:
    table, build_query = TABLES[table_key]
    query = build_query(org_id, time_range)
    with psycopg.connect(resolve_database_url(Settings.from_env()), autocommit=True) as conn:
        yield from copy_batches(conn, query.statement, query.params, table)


def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches()


def _reported(
    batches: Iterator[pa.RecordBatch], task: str, total: int | None, display: ProgressDisplay
) -> Iterator[pa.RecordBatch]:
    """The batches as they are read, showing the rows so far; then that the extract is being loaded."""
    rows = 0
    display.update(Progress(task, rows, total, "rows read"))
    for batch in batches:
        rows += batch.num_rows
        display.update(Progress(task, rows, total, "rows read"))
        yield batch
    display.update(Progress(task, rows, rows, "rows read", detail="loading them into the extract"))


def _total_rows(args: argparse.Namespace) -> int | None:
    """The rows to convert when known before reading them (a Parquet file's footer says)."""
    return pq.ParquetFile(args.parquet).metadata.num_rows if args.parquet else None


def _batches(args: argparse.Namespace) -> Iterator[pa.RecordBatch]:
    if args.parquet:
        return _parquet_batches(args.parquet)
    if not (args.date_from and args.date_to):
        raise ApiError(2, "--date-from", "--org needs --date-from and --date-to")
    names = ("--date-from", "--date-to")
    time_range = resolve_time_range(args.date_from, args.date_to, MAX_RANGE_DAYS, names=names)
    return _warehouse_batches(args.org, args.table, time_range)


def run_hyper(args: argparse.Namespace) -> int:
    try:
        with ProgressDisplay(sys.stderr) as display:
            task = f"{args.table} -> {args.out.name}"
            batches = _reported(_batches(args), task, _total_rows(args), display)
            rows = write_hyper(args.out, TABLES[args.table][0], batches)
    except ApiError as exc:
        print(f"oee bi hyper: {exc.parameter}: {exc.message}", file=sys.stderr)
        return 2
    except HyperUnavailableError as exc:
        print(f"oee bi hyper: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {rows} rows of {args.table} to {args.out} (table Extract.Extract)")
    return 0
