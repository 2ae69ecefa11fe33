"""The Parquet lake: hive-partitioned folders on a local disk or an object store (through fsspec).

Writes never expose half a file: locally a file or a whole partition folder is written under a
temporary name and renamed into place; on an object store each object PUT is already atomic, and a
replaced partition's stale objects are removed after the new ones are written.
"""

from __future__ import annotations

import posixpath
import shutil
import uuid
from collections.abc import Mapping
from datetime import date

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

PARQUET_OPTIONS = {"compression": "zstd", "row_group_size": 256_000}


class Lake:
    def __init__(self, root: str, storage_options: Mapping[str, object] | None = None) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root, **dict(storage_options or {}))
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
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        if not self.is_local:
            with self.fs.open(target, "wb") as handle:
                pq.write_table(table, handle, **PARQUET_OPTIONS)
            return target
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
            written = [
                self.write_file(posixpath.join(relative_folder, name), table) for name, table in files.items()
            ]
            stale = [p for p in self._list(target) if p not in {self.fs._strip_protocol(w) for w in written}]
            for path in stale:
                self.fs.rm(path)
            return written
        parent = posixpath.dirname(target)
        self.fs.makedirs(parent, exist_ok=True)
        staging = f"{target}.tmp-{uuid.uuid4().hex}"
        retired = f"{target}.old-{uuid.uuid4().hex}"
        self.fs.makedirs(staging, exist_ok=True)
        try:
            for name, table in files.items():
                pq.write_table(table, posixpath.join(staging, name), **PARQUET_OPTIONS)
            if self.fs.exists(target):
                shutil.move(target, retired)
            shutil.move(staging, target)
        finally:
            for leftover in (staging, retired):
                if self.fs.exists(leftover):
                    shutil.rmtree(leftover)
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

    def _list(self, folder: str) -> list[str]:
        if not self.fs.exists(folder):
            return []
        return [info["name"] for info in self.fs.ls(folder, detail=True) if info["type"] == "file"]
