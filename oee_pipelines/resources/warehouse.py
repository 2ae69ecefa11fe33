"""The warehouse resource: PostgreSQL from OEE_DATABASE_URL, or the embedded server by default."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.storage import bulk_load
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.warehouse import psycopg_url


class WarehouseResource(dg.ConfigurableResource):
    """Read and write the warehouse. `database_url` unset means the embedded PostgreSQL in `data_dir`."""

    database_url: str | None = None
    data_dir: str = "data"

    def url(self) -> str:
        if self.database_url:
            return psycopg_url(self.database_url)
        return EmbeddedPostgres(Path(self.data_dir) / "pgdata").start()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.url()) as conn:
            yield conn

    def query_frame(
        self, query: str | sql.Composable, params: Sequence[Any] | dict[str, Any] = ()
    ) -> pd.DataFrame:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)  # type: ignore[arg-type]  # psycopg runs any Composable; its stubs are narrower
            columns = [c.name for c in cursor.description or []]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

    def upsert(self, table: str, data: pa.Table, key_columns: Sequence[str]) -> bulk_load.UpsertCounts:
        with self.connect() as conn:
            return bulk_load.upsert_arrow(conn, table, data, key_columns)

    def replace_rows(self, table: str, data: pa.Table, where: sql.Composable, params: Sequence[Any]) -> int:
        """Delete what `where` matches and insert `data` in one transaction; returns rows deleted."""
        with self.connect() as conn:
            return bulk_load.replace_rows(conn, table, data, where, params)
