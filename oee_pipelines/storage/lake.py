"""The Parquet lake: hive-partitioned folders on a local disk or an object store (through fsspec).

Writes never expose half a file: locally a file is written under a temporary name and renamed into
place, and a replaced partition folder's files are all written in a hidden staging folder inside it
before each replaces its namesake (one rename each: a concurrent reader never finds the folder empty
or a file missing); on an object store each file is encoded in memory first and sent in one PUT
(atomic). Either way a replaced partition's stale files are removed after the new ones are in place,
and a write that fails leaves the partition as it was.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from fsspec.utils import get_protocol

if TYPE_CHECKING:
    import duckdb

PARQUET_OPTIONS = {"compression": "zstd", "row_group_size": 256_000}


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

    def replace_folder(self, relative_folder: str, files: Mapping[str, pa.Table]) -> list[str]:
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
            for name, table in files.items():
                pq.write_table(table, posixpath.join(staging, name), **PARQUET_OPTIONS)
                del table  # a streamed mapping builds the next part now: never two parts alive at once
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


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()
