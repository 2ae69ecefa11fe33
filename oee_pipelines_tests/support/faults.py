"""Faults a real server or disk cannot be made to produce on demand (shared by tests and `reliability/`)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pyarrow as pa
import pyarrow.parquet as pq


@contextmanager
def disk_full_at(path_fragment: str) -> Iterator[list[str]]:
    """Parquet writes to a path containing `path_fragment` write half their bytes, then fail as a full
    disk does; yields the paths that failed.

    A full disk is not something the real lake can be made to do on demand without root (tmpfs), so
    the write is cut at the two calls lake writes go through: `pq.write_table` for a whole table and
    `pq.ParquetWriter` for a file streamed row group by row group (the historian's day parts).
    """
    real_write_table = pq.write_table
    failed: list[str] = []

    def write_table(table: pa.Table, where: object, **options: object) -> None:
        if path_fragment not in str(where):
            real_write_table(table, where, **options)
            return
        sink = pa.BufferOutputStream()
        real_write_table(table, sink, **options)
        data = sink.getvalue().to_pybytes()
        Path(str(where)).write_bytes(data[: len(data) // 2])
        failed.append(str(where))
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    real_parquet_writer = pq.ParquetWriter

    class HalfWrittenFile:
        """A streamed file whose first row group fills the disk halfway through."""

        def __init__(self, where: object, schema: pa.Schema, **options: object) -> None:
            self.where, self.options = where, options

        def write_table(self, table: pa.Table, **_: object) -> None:
            write_table(table, self.where, **self.options)

        def close(self) -> None:
            pass

    def parquet_writer(where: object, schema: pa.Schema, **options: object) -> object:
        if path_fragment not in str(where):
            return real_parquet_writer(where, schema, **options)
        return HalfWrittenFile(where, schema, **options)

    with patch.object(pq, "write_table", write_table), patch.object(pq, "ParquetWriter", parquet_writer):
        yield failed
