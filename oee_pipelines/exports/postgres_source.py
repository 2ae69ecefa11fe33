"""Read a PostgreSQL query as a stream of Arrow record batches, typed by an export table.

The rows travel as `COPY (query) TO STDOUT (FORMAT CSV)`: the server formats them, pyarrow's
CSV parser turns each block of about a megabyte into columns, and no Python object is built per
value. This is several times faster than fetching tuples through a cursor.

A reader thread drains the COPY a few blocks ahead of the parser, so the server keeps producing
rows while the blocks already received are parsed and written out (the two then overlap on two
cores instead of taking turns); memory stays at those few blocks. Blocks are cut on row boundaries
(COPY delivers one row per message). The rows are taken from libpq with one call each
(`PGconn.get_copy_data`) rather than through psycopg's per-row generator machinery, which cost a
third of the CPU of parsing them; psycopg still starts the COPY, and its final result is fetched as
psycopg does. When the consumer stops early (a client hung up), the reader is told to stop and, if
the server is still busy, the query is cancelled, before the connection is handed back.
"""

from __future__ import annotations

import queue
import select
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import Connection, Copy, errors, pq, sql
from psycopg.generators import fetch_many

from oee_pipelines.exports.columns import ExportTable

READ_BLOCK_BYTES = 1 << 20
CSV_CHUNK_BYTES = 1 << 20  # pyarrow's CSV reader's block size (its default), the size of its chunks
READ_AHEAD_BLOCKS = 4
_POLL_SECONDS = 0.1
_GRACE_SECONDS = 1.0


def _row_blocks(rows: Iterable[bytes | memoryview], block_bytes: int) -> Iterator[bytes]:
    block = bytearray()
    for row in rows:
        block += row
        if len(block) >= block_bytes:
            yield bytes(block)
            block.clear()
    if block:
        yield bytes(block)


def _csv_options(table: ExportTable) -> dict[str, Any]:
    return {
        "read_options": pacsv.ReadOptions(
            column_names=table.column_names, use_threads=False, block_size=CSV_CHUNK_BYTES
        ),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        # COPY CSV writes NULL as an empty unquoted field and an empty string as "".
        "convert_options": pacsv.ConvertOptions(
            column_types={column.name: column.arrow_type for column in table.columns},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    }


def parse_copy_csv(data: bytes, table: ExportTable) -> pa.Table:
    """`COPY ... (FORMAT CSV)` text parsed into `table`'s columns, exactly as `copy_batches` parses it."""
    if not data:
        return table.arrow_schema.empty_table()
    return pacsv.read_csv(pa.py_buffer(data), **_csv_options(table))


def _copy_rows(conn: Connection, copy: Copy) -> Iterator[memoryview]:
    """The rows of a running `COPY ... TO STDOUT`, one libpq call each; waits on the socket between."""
    pgconn = conn.pgconn
    get_copy_data = pgconn.get_copy_data
    while True:
        size, row = get_copy_data(1)  # non-blocking: 0 means no complete row has arrived yet
        if size > 0:
            yield row
        elif size == 0:
            select.select([pgconn.socket], [], [], _POLL_SECONDS)  # releases the GIL while waiting
            pgconn.consume_input()
        else:
            break
    # libpq reported the end of the rows (or an error), which psycopg's `Copy.read()` cannot be asked
    # about twice: fetch the COPY's final result as it would, and tell the Copy it is done.
    results = conn.wait(fetch_many(pgconn))
    copy._finished = True  # psycopg's own flag: on exit the Copy then neither reads again nor cancels
    if not results or results[0].status != pq.ExecStatus.COMMAND_OK:
        raise (
            errors.error_from_result(results[-1], encoding=conn.info.encoding)
            if results
            else errors.OperationalError("COPY TO STDOUT ended without a result")
        )


class _Stopped(Exception):
    """Raised inside the COPY block when the consumer went away, so psycopg ends the COPY."""


_END = object()


class _CopyReader(threading.Thread):
    """Runs the COPY and hands its blocks over through a bounded queue."""

    def __init__(
        self, conn: Connection, statement: sql.Composable, params: Any, block_bytes: int, ahead: int
    ) -> None:
        super().__init__(name="oee-copy-reader", daemon=True)
        self.conn, self.statement, self.params, self.block_bytes = conn, statement, params, block_bytes
        self.blocks: queue.Queue[object] = queue.Queue(maxsize=ahead)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with self.conn.cursor().copy(self.statement, self.params) as copy:
                for block in _row_blocks(_copy_rows(self.conn, copy), self.block_bytes):
                    if not self._hand_over(block):
                        raise _Stopped
            self._hand_over(_END)
        except _Stopped:
            pass
        except BaseException as error:  # re-raised in the consumer's thread
            self._hand_over(error)

    def _hand_over(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.blocks.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def received(self) -> Iterator[bytes]:
        while True:
            item = self.blocks.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def shut_down(self) -> None:
        self.stop.set()
        self.join(_GRACE_SECONDS)
        if self.is_alive():
            # Still waiting for the server (e.g. sorting before its first row): stop the query.
            self.conn.cancel_safe()
            self.join()


def copy_batches(
    conn: Connection,
    query: sql.Composable,
    params: Sequence[Any] | Mapping[str, Any],
    table: ExportTable,
    *,
    block_bytes: int = READ_BLOCK_BYTES,
    read_ahead_blocks: int = READ_AHEAD_BLOCKS,
) -> Iterator[pa.RecordBatch]:
    """Stream `query` (selecting exactly `table`'s columns, in order) as record batches."""
    conn.execute("SET TIME ZONE 'UTC'")
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT CSV)").format(query)
    options = _csv_options(table)
    reader = _CopyReader(conn, statement, params, block_bytes, read_ahead_blocks)
    reader.start()
    try:
        for block in reader.received():
            yield from pacsv.read_csv(pa.py_buffer(block), **options).to_batches()
    finally:
        reader.shut_down()
