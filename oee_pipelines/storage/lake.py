"""The Parquet lake: hive-partitioned folders on a local disk or an object store (through fsspec).

Writes never expose half a file: locally a file is written under a temporary name and renamed into
place, and a replaced partition folder's files are all written in a hidden staging folder inside it
before each replaces its namesake (one rename each: a concurrent reader never finds the folder empty
or a file missing); on an object store each file is encoded in memory first and sent in one PUT
(atomic). Either way a replaced partition's stale files are removed after the new ones are in place,
and a write that fails leaves the partition as it was. A file may also be handed over piece by piece
(`TableStream`): it is then written row group by row group while its rows are still being produced.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, TypeAlias

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from fsspec.utils import get_protocol

if TYPE_CHECKING:
    import duckdb

ROW_GROUP_ROWS = 256_000
PARQUET_OPTIONS = {"compression": "zstd", "row_group_size": ROW_GROUP_ROWS}


class TableStream:
    """A table handed to the lake piece by piece (`tables`, each in `schema`), for a file that is written
    while its rows are still being produced: the lake cuts the pieces into its row groups as they come,
    so only one row group is held, never the whole file. The file is byte for byte the one
    `pq.write_table` gives for the pieces concatenated (same row groups, same chunks in each)."""

    def __init__(self, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
        self.schema = schema
        self.tables = tables


FileContents: TypeAlias = pa.Table | TableStream


class Lake:
    def __init__(self, root: str, storage_options: Mapping[str, object] | None = None) -> None:
        options = dict(storage_options or {})
        if get_protocol(root) != "file":
            # Other processes write the same prefixes: a cached listing would hide their files.
            options.setdefault("use_listings_cache", False)
        self.fs, self.root = fsspec.core.url_to_fs(root, **options)
        self.root = self.root.rstrip("/")
        self.url_root = root.rstrip("/")
        self.is_local = isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def url(self, *parts: str) -> str:
        """A path DuckDB/pyarrow can open (keeps the s3:// scheme for object stores)."""
        return posixpath.join(self.url_root, *parts)

    @staticmethod
    def date_folder(day: date) -> str:
        return f"date={day.isoformat()}"

    def write_file(self, relative_path: str, table: pa.Table) -> str:
        """Write one Parquet file atomically; return its path."""
        target = self.path(relative_path)
        if not self.is_local:
            self.fs.pipe_file(target, _parquet_bytes(table))
            return target
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            pq.write_table(table, temporary, **PARQUET_OPTIONS)
            self.fs.mv(temporary, target)
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)
        return target

    def replace_folder(self, relative_folder: str, files: Mapping[str, FileContents]) -> list[str]:
        """Make `relative_folder` hold exactly `files` (name -> table), replacing what was there."""
        target = self.path(relative_folder)
        if not self.is_local:
            # Encode every file before the first PUT, so a table that cannot be written changes nothing.
            payloads = {posixpath.join(target, name): _parquet_bytes(table) for name, table in files.items()}
            for path, payload in payloads.items():
                self.fs.pipe_file(path, payload)
            stale = [path for path in self._list(target) if path not in payloads]
            if stale:
                self.fs.rm(stale)
            return list(payloads)
        created = not self.fs.exists(target)
        # Staged one level below the folder, where no reader looks (`list_files`, the API's
        # `telemetry/*/*/*.parquet`); then each file replaces its namesake in one rename. Readers
        # never find the folder gone, a file missing or half written; the write failing changes nothing.
        staging = posixpath.join(target, f".staging-{uuid.uuid4().hex}")
        self.fs.makedirs(staging, exist_ok=True)
        try:
            for name, contents in files.items():
                _write_parquet(contents, posixpath.join(staging, name))
                del contents  # a streamed mapping builds the next part now: never two parts alive at once
            for name in files:
                os.replace(posixpath.join(staging, name), posixpath.join(target, name))
            for path in self._list(target):
                if posixpath.basename(path) not in files:
                    os.remove(path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                shutil.rmtree(target, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return [posixpath.join(target, name) for name in files]

    def remove_folder(self, relative_folder: str) -> None:
        target = self.path(relative_folder)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def list_files(self, relative_folder: str) -> list[str]:
        return sorted(p for p in self._list(self.path(relative_folder)) if p.endswith(".parquet"))

    def read_folder(self, relative_folder: str, schema: pa.Schema | None = None) -> pa.Table:
        files = self.list_files(relative_folder)
        if not files:
            return schema.empty_table() if schema is not None else pa.table({})
        tables = [pq.read_table(path, filesystem=self.fs, schema=schema) for path in files]
        return pa.concat_tables(tables)

    def register_in(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB open this lake's `url()`s (s3://...) with the lake's own filesystem and credentials."""
        if not self.is_local:
            connection.register_filesystem(self.fs)

    def _list(self, folder: str) -> list[str]:
        if not self.fs.exists(folder):
            return []
        return [info["name"] for info in self.fs.ls(folder, detail=True) if info["type"] == "file"]


def _parquet_bytes(contents: FileContents) -> bytes:
    sink = pa.BufferOutputStream()
    _write_parquet(contents, sink)
    return sink.getvalue().to_pybytes()


def _write_parquet(contents: FileContents, where: str | pa.NativeFile) -> None:
    if isinstance(contents, pa.Table):
        pq.write_table(contents, where, **PARQUET_OPTIONS)
        return
    row_group_rows = ROW_GROUP_ROWS
    options = {key: value for key, value in PARQUET_OPTIONS.items() if key != "row_group_size"}
    writer: pq.ParquetWriter | None = None
    try:
        for row_group in _row_groups(contents, row_group_rows):
            if writer is None:  # opened at the first full row group: no file while none is ready
                writer = pq.ParquetWriter(where, contents.schema, **options)
            writer.write_table(row_group, row_group_size=row_group_rows)
            del row_group
            pa.default_memory_pool().release_unused()  # the pool would keep the written group's pages
    finally:
        if writer is not None:
            writer.close()


def _row_groups(contents: TableStream, row_group_rows: int) -> Iterator[pa.Table]:
    """The stream's rows cut every `row_group_rows` (the chunks inside each as they came), as
    `pq.write_table` cuts one table; a stream of no rows gives one table of no rows."""
    buffered: list[pa.Table] = []
    count, cut = 0, False
    for table in contents.tables:
        buffered.append(table)
        count += table.num_rows
        while count >= row_group_rows:
            pending = pa.concat_tables(buffered)
            buffered = []
            rest = pending.slice(row_group_rows)
            yield pending.slice(0, row_group_rows)
            del pending
            buffered, count, cut = ([rest] if rest.num_rows else []), rest.num_rows, True
            del rest
    if count or not cut:
        yield pa.concat_tables(buffered) if buffered else contents.schema.empty_table()
