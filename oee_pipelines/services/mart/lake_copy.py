"""The data mart's lake copy: each day's `oee_data_mart_table` rows as Parquet, one file per organization.

The `oee_data_mart` asset (the mart's one writer) calls `write_mart_days` right after it replaced the
days in the table; the API's data-mart export reads the copy instead of PostgreSQL when it is current
for every day of the request (`current_days`), and PostgreSQL otherwise.

Layout: `<lake>/oee_data_mart/day=YYYY-MM-DD/org=<org>-<version>.parquet` plus `manifest.json`, which
names the day's files, their row counts and the table's `refreshed_at` of the day (one transaction
replaces a day, so all its rows share it). A day's files are written first, the manifest last, each
atomically; the previous version's files are kept one more refresh for exports still reading them.

Byte-identical exports: the files hold exactly the Arrow values the PostgreSQL source yields (they are
parsed from the same `COPY ... (FORMAT CSV)` of the same query), in the export's order, plus the length
of each row's COPY text (`_copy_row_bytes`). From those lengths `copy_like_batches` cuts the rows into
the batches the PostgreSQL source would have cut (its blocks, then pyarrow's CSV chunks), so that even
a Parquet export's row groups are the same.
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import Connection, IsolationLevel, sql

from oee_pipelines.domain.days import day_bounds
from oee_pipelines.exports.columns import DATA_MART
from oee_pipelines.exports.postgres_source import CSV_CHUNK_BYTES, READ_BLOCK_BYTES, parse_copy_csv
from oee_pipelines.exports.queries import DATA_MART_TABLE, TimeRange, data_mart_query
from oee_pipelines.exports.read_ahead import read_ahead
from oee_pipelines.storage.lake import Lake

MART_LAKE_FOLDER = "oee_data_mart"
MANIFEST = "manifest.json"
ROW_BYTES = "_copy_row_bytes"
COPY_SCHEMA = DATA_MART.arrow_schema.append(pa.field(ROW_BYTES, pa.int32()))


@dataclass(frozen=True)
class DayCopy:
    """One day's manifest: `refreshed_at` None with `complete` means the table had no rows that day."""

    day: date
    refreshed_at: datetime | None
    files: dict[str, str] = field(default_factory=dict)  # org -> file name
    rows: dict[str, int] = field(default_factory=dict)
    complete: bool = True

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "day": self.day.isoformat(),
                "refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None,
                "files": self.files,
                "rows": self.rows,
                "complete": self.complete,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DayCopy:
        doc = json.loads(data)
        refreshed = doc["refreshed_at"]
        return cls(
            day=date.fromisoformat(doc["day"]),
            refreshed_at=datetime.fromisoformat(refreshed) if refreshed else None,
            files=dict(doc["files"]),
            rows={org: int(rows) for org, rows in doc["rows"].items()},
            complete=bool(doc["complete"]),
        )


def day_folder(day: date) -> str:
    return posixpath.join(MART_LAKE_FOLDER, f"day={day.isoformat()}")


def read_manifest(lake: Lake, day: date) -> DayCopy | None:
    path = lake.path(day_folder(day), MANIFEST)
    try:
        with lake.fs.open(path, "rb") as handle:
            return DayCopy.from_json(handle.read())
    except FileNotFoundError:
        return None


def _write_manifest(lake: Lake, copy: DayCopy) -> None:
    target = lake.path(day_folder(copy.day), MANIFEST)
    if not lake.is_local:
        lake.fs.pipe_file(target, copy.to_json())
        return
    temporary = f"{target}.tmp-{uuid.uuid4().hex}"
    with open(temporary, "wb") as handle:
        handle.write(copy.to_json())
    os.replace(temporary, target)


def _copy_table(conn: Connection, org_id: str, day: date) -> pa.Table:
    """The org's rows of the day exactly as the export's COPY gives them, with each row's COPY length."""
    query = data_mart_query(org_id, TimeRange(*day_bounds(day), by_window_end=True))
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT CSV)").format(query.statement)
    lengths: list[int] = []
    chunks: list[bytes] = []
    with conn.cursor().copy(statement, query.params) as copy:
        for row in copy:  # one row per COPY message
            lengths.append(len(row))
            chunks.append(bytes(row))
    table = parse_copy_csv(b"".join(chunks), DATA_MART)
    return table.append_column(ROW_BYTES, pa.array(lengths, pa.int32()))


def write_mart_day(conn: Connection, lake: Lake, day: date) -> int:
    """Write the day's lake copy from the table (one consistent snapshot); returns the rows written."""
    start, end = day_bounds(day)
    previous = read_manifest(lake, day)
    conn.autocommit = True
    conn.execute("SET TIME ZONE 'UTC'")  # the export's own session setting: same COPY text
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    files: dict[str, str] = {}
    rows: dict[str, int] = {}
    with conn.transaction():
        stats = conn.execute(
            sql.SQL(
                "SELECT org_id, count(*), min(refreshed_at), max(refreshed_at) FROM {} "
                "WHERE snapshot_time > %s AND snapshot_time <= %s GROUP BY org_id ORDER BY org_id"
            ).format(sql.Identifier(DATA_MART_TABLE)),
            (start, end),
        ).fetchall()
        times = {moment for _, _, low, high in stats for moment in (low, high)}
        refreshed_at = next(iter(times)) if len(times) == 1 else None
        complete = len(times) <= 1  # rows of several refreshes: the copy could not be told current
        if complete:
            version = uuid.uuid4().hex[:12]
            for org_id, _, _, _ in stats:
                name = f"org={quote(org_id, safe='')}-{version}.parquet"
                table = _copy_table(conn, org_id, day)
                lake.write_file(posixpath.join(day_folder(day), name), table)
                files[org_id], rows[org_id] = name, table.num_rows
    conn.isolation_level = None
    copy = DayCopy(day, refreshed_at, files, rows, complete)
    lake.fs.makedirs(lake.path(day_folder(day)), exist_ok=True)
    _write_manifest(lake, copy)
    _remove_old_versions(lake, day, keep={*files.values(), *(previous.files.values() if previous else ())})
    return sum(rows.values())


def _remove_old_versions(lake: Lake, day: date, keep: set[str]) -> None:
    for path in lake.list_files(day_folder(day)):
        if posixpath.basename(path) not in keep:
            lake.fs.rm(path)


def write_mart_days(conn: Connection, lake: Lake, days: Sequence[date]) -> int:
    return sum(write_mart_day(conn, lake, day) for day in days)


def mart_day(moment: datetime) -> date:
    """The mart day (windows ending in (00:00, next 00:00]) of a snapshot ending at `moment`."""
    return (moment.astimezone(UTC) - timedelta(microseconds=1)).date()


def _days_of(time_range: TimeRange) -> list[date]:
    tick = timedelta(microseconds=1)
    if time_range.by_window_end:  # windows ending in (start, end]
        first, last = mart_day(time_range.start + tick), mart_day(time_range.end)
    else:  # windows ending in [start, end)
        first, last = mart_day(time_range.start), mart_day(time_range.end - tick)
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


_PROBE = sql.SQL(
    "SELECT d.day, (SELECT t.refreshed_at FROM {} t WHERE t.org_id = %(org_id)s "
    "AND t.snapshot_time > d.day AND t.snapshot_time <= d.day + interval '24 hours' LIMIT 1) "
    "FROM unnest(%(days)s::timestamptz[]) AS d(day) ORDER BY d.day"
).format(sql.Identifier(DATA_MART_TABLE))


def current_days(conn: Connection, lake: Lake, org_id: str, time_range: TimeRange) -> list[DayCopy] | None:
    """The manifests of every day the range touches when the lake copy is current for `org_id` on each
    (the table's `refreshed_at` of the day equals the manifest's, or neither has rows); None otherwise."""
    days = _days_of(time_range)
    copies: list[DayCopy] = []
    for day in days:
        copy = read_manifest(lake, day) or DayCopy(day, None)
        if not copy.complete:
            return None
        copies.append(copy)
    probes = conn.execute(_PROBE, {"org_id": org_id, "days": [day_bounds(day)[0] for day in days]}).fetchall()
    for copy, (_, table_refreshed_at) in zip(copies, probes, strict=True):
        lake_refreshed_at = copy.refreshed_at if org_id in copy.files else None
        if table_refreshed_at != lake_refreshed_at:
            return None
    return copies


def _in_range(table: pa.Table, time_range: TimeRange, day: date) -> pa.Table:
    start, end = day_bounds(day)
    times = table.column("snapshot_time")
    if time_range.by_window_end:
        if time_range.start <= start and end <= time_range.end:
            return table
        keep = pc.and_(pc.greater(times, time_range.start), pc.less_equal(times, time_range.end))
    else:
        if time_range.start <= start and end < time_range.end:
            return table
        keep = pc.and_(pc.greater_equal(times, time_range.start), pc.less(times, time_range.end))
    return table.filter(keep)


def _read_file(lake: Lake, relative_path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """A day file, without a dataset's discovery: it is small (tens of kB), so its column chunks are read
    in one request (`pre_buffer`) and decoded on this thread: Arrow's thread pool costs more than it
    saves on a file this size, and its threads' allocations would stay in the server's memory."""
    path = lake.path(relative_path)
    if lake.is_local:
        return pq.ParquetFile(path, pre_buffer=True).read(columns, use_threads=False)
    with lake.fs.open(path, "rb") as handle:
        return pq.ParquetFile(handle, pre_buffer=True).read(columns, use_threads=False)


def lake_rows(
    lake: Lake,
    copies: Iterable[DayCopy],
    org_id: str,
    time_range: TimeRange,
    limit: int | None = None,
    *,
    with_lengths: bool = True,
) -> Iterator[pa.Table]:
    """The org's rows in the range, day by day in the export's order (with their COPY lengths, unless
    `with_lengths` is False: then that column is not even read)."""
    columns = None if with_lengths else DATA_MART.column_names
    remaining = limit
    for copy in copies:
        name = copy.files.get(org_id)
        if name is None:
            continue
        table = _read_file(lake, posixpath.join(day_folder(copy.day), name), columns)
        table = _in_range(table, time_range, copy.day)
        if remaining is not None:
            table = table.slice(0, remaining)
            remaining -= table.num_rows
        if table.num_rows:
            yield table
        if remaining == 0:
            return


def _csv_chunks(block: pa.Table, ends: np.ndarray, chunk_bytes: int) -> Iterator[pa.RecordBatch]:
    """pyarrow's CSV reader's chunks of one block: the rows ending in each `chunk_bytes` of its text.

    Each chunk is copied into buffers of its own, as the CSV reader's are: a slice would keep its whole
    day file in memory until the Parquet row group it goes to (128,000 rows, a month) is written."""
    start = 0
    limit = chunk_bytes
    while start < block.num_rows:
        stop = max(int(np.searchsorted(ends, limit, side="right")), start)
        if stop > start:
            yield pa.concat_batches(block.slice(start, stop - start).to_batches())
            start = stop
        limit += chunk_bytes


def copy_like_batches(
    tables: Iterable[pa.Table],
    *,
    block_bytes: int = READ_BLOCK_BYTES,
    chunk_bytes: int = CSV_CHUNK_BYTES,
) -> Iterator[pa.RecordBatch]:
    """The rows (with `_copy_row_bytes`) as the PostgreSQL source's batches: blocks cut at the first row
    reaching `block_bytes` of COPY text, each block then in pyarrow's CSV chunks; without the lengths."""
    pending: list[pa.Table] = []
    for table in tables:
        pending.append(table)
        rows = pa.concat_tables(pending)
        lengths = rows.column(ROW_BYTES).to_numpy()
        ends = np.cumsum(lengths, dtype=np.int64)
        start, offset = 0, 0
        while True:
            cut = int(np.searchsorted(ends, offset + block_bytes, side="left"))
            if cut >= len(ends):
                break
            block = rows.slice(start, cut + 1 - start).drop_columns([ROW_BYTES])
            yield from _csv_chunks(block, ends[start : cut + 1] - offset, chunk_bytes)
            offset, start = int(ends[cut]), cut + 1
        pending = [rows.slice(start)] if start < rows.num_rows else []
    if pending:
        rows = pa.concat_tables(pending)
        ends = np.cumsum(rows.column(ROW_BYTES).to_numpy(), dtype=np.int64)
        yield from _csv_chunks(rows.drop_columns([ROW_BYTES]), ends, chunk_bytes)


def _as_read(tables: Iterable[pa.Table]) -> Iterator[pa.RecordBatch]:
    for table in tables:
        yield from table.to_batches()


def mart_batches(
    lake: Lake,
    copies: Sequence[DayCopy],
    org_id: str,
    time_range: TimeRange,
    limit: int | None = None,
    *,
    copy_like: bool = True,
) -> Iterator[pa.RecordBatch]:
    """The data-mart export's batches from the lake copy, read on a thread ahead of the caller: cut as the
    PostgreSQL source cuts them (`copy_like`, what a Parquet export's row groups depend on), or as read
    (enough for CSV and JSON, whose bytes do not depend on where batches end)."""
    tables = lake_rows(lake, copies, org_id, time_range, limit, with_lengths=copy_like)
    batches = copy_like_batches(tables) if copy_like else _as_read(tables)
    return read_ahead(batches, name="oee-mart-lake")
