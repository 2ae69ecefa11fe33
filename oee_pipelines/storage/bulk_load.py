"""Bulk loading Arrow tables into the warehouse: binary COPY, partition replace, and upsert.

The fast path encodes whole columns into binary COPY (see `binary_copy`) and sends them from a
background writer while the next chunk is encoded. Tables with types the encoder does not cover
(numeric, jsonb, arrays) go through psycopg's own row adaptation: those are small reference tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from psycopg import Connection, sql
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import Jsonb

from oee_pipelines.storage.binary_copy import SUPPORTED_TYPES, copy_column_order, iter_copy_chunks


class LoadError(Exception):
    """The rows do not fit the target table (unknown column, wrong type); names the table and column."""


def table_column_types(conn: Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position""",
        (table,),
    ).fetchall()
    if not rows:
        raise LoadError(f"table {table} does not exist (run `oee db migrate`)")
    return dict(rows)


def copy_arrow(conn: Connection, table: str, data: pa.Table) -> int:
    """Append `data` to `table` with COPY inside the caller's transaction; return the row count."""
    if data.num_rows == 0:
        return 0
    types = table_column_types(conn, table)
    unknown = [name for name in data.column_names if name not in types]
    if unknown:
        raise LoadError(f"{table}: no column named {unknown[0]!r}")
    pg_types = [types[name] for name in data.column_names]
    if all(t in SUPPORTED_TYPES for t in pg_types):
        order = copy_column_order(pg_types)
        data = data.select(order)
        pg_types = [pg_types[i] for i in order]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, data.column_names))
        )
        cursor = conn.cursor()
        try:
            with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
                for chunk in iter_copy_chunks(data, pg_types):
                    copy.write(chunk)
        except ValueError as exc:
            raise LoadError(f"{table}: {exc}") from None
        return data.num_rows
    return _copy_rows(conn, table, data, pg_types)


def _copy_rows(conn: Connection, table: str, data: pa.Table, pg_types: Sequence[str]) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, data.column_names))
    )
    adapters = [_adapter(pg_type) for pg_type in pg_types]
    with conn.cursor().copy(statement) as copy:
        for batch in data.to_batches(max_chunksize=50_000):
            columns = [
                [adapt(value) for value in column.to_pylist()] if adapt else column.to_pylist()
                for column, adapt in zip(batch.columns, adapters, strict=True)
            ]
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return data.num_rows


def _adapter(pg_type: str) -> Any:
    if pg_type in ("jsonb", "json"):
        return lambda value: (
            None if value is None else Jsonb(json.loads(value) if isinstance(value, str) else value)
        )
    return None


def replace_rows(
    conn: Connection, table: str, data: pa.Table, where: sql.Composable, params: Sequence[Any]
) -> int:
    """Delete the rows matching `where` and insert `data`, in one transaction: a partition rewrite.

    Either both happen or neither: a failed load leaves the previous rows in place.
    """
    with conn.transaction():
        deleted = conn.execute(
            sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(table)) + where, params
        ).rowcount
        copy_arrow(conn, table, data)
    return deleted


@dataclass(frozen=True)
class UpsertCounts:
    created: int
    updated: int
    unchanged: int


def upsert_arrow(
    conn: Connection,
    table: str,
    data: pa.Table,
    key_columns: Sequence[str],
    *,
    binary_staging: bool = True,
) -> UpsertCounts:
    """Insert new rows and update changed ones, keyed on `key_columns` (a unique constraint).

    Rows whose values did not change are left alone, so a second identical sync updates nothing.
    The staging rows travel as binary COPY when every column encodes exactly as the text COPY would
    read it (`binary_staging=False`: always as text, the reference the binary path is tested against).
    """
    if data.num_rows == 0:
        return UpsertCounts(0, 0, 0)
    staging = f"_staging_{table}"
    columns = data.column_names
    value_columns = [c for c in columns if c not in key_columns]
    ident = sql.Identifier
    with conn.transaction():
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                ident(staging), ident(table)
            )
        )
        _copy_into_staging(conn, staging, table, data, binary_staging)
        col_list = sql.SQL(", ").join(map(ident, columns))
        changed = sql.SQL(" OR ").join(
            sql.SQL("{t}.{c} IS DISTINCT FROM EXCLUDED.{c}").format(t=ident(table), c=ident(c))
            for c in value_columns
        )
        assignments = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=ident(c)) for c in value_columns
        )
        action = (
            sql.SQL("DO UPDATE SET {} WHERE {}").format(assignments, changed)
            if value_columns
            else sql.SQL("DO NOTHING")
        )
        # Counted in the database: 100,000 booleans need not travel back to be summed.
        merge = sql.SQL(
            "WITH merged AS (INSERT INTO {t} ({cols}) SELECT {cols} FROM {s} "
            "ON CONFLICT ({keys}) {action} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FROM merged"
        ).format(
            t=ident(table),
            cols=col_list,
            s=ident(staging),
            keys=sql.SQL(", ").join(map(ident, key_columns)),
            action=action,
        )
        row = conn.execute(merge).fetchone()
    created, merged = (int(row[0]), int(row[1])) if row else (0, 0)
    updated = merged - created
    return UpsertCounts(created=created, updated=updated, unchanged=data.num_rows - created - updated)


def _copy_into_staging(
    conn: Connection, staging: str, table: str, data: pa.Table, binary_staging: bool
) -> None:
    # information_schema does not list temp tables under current_schema(); reuse the target's types.
    types = table_column_types(conn, table)
    unknown = [name for name in data.column_names if name not in types]
    if unknown:
        raise LoadError(f"{table}: no column named {unknown[0]!r}")
    pg_types = [types[name] for name in data.column_names]
    if binary_staging and all(
        _encodes_as_before(field, pg_type) for field, pg_type in zip(data.schema, pg_types, strict=True)
    ):
        order = copy_column_order(pg_types)
        ordered, ordered_types = data.select(order), [pg_types[i] for i in order]
        try:  # encoded whole first: a value the encoder refuses leaves the text path to report it
            chunks = list(iter_copy_chunks(ordered, ordered_types))
        except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            chunks = None
        if chunks is not None:
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                sql.Identifier(staging), sql.SQL(", ").join(map(sql.Identifier, ordered.column_names))
            )
            cursor = conn.cursor()
            with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
                for chunk in chunks:
                    copy.write(chunk)
            return
    _copy_rows(conn, staging, data, pg_types)


def _encodes_as_before(field: pa.Field, pg_type: str | None) -> bool:
    """Whether binary COPY writes exactly what the text COPY of `upsert_arrow` writes for this column:
    its Arrow type is the plain one for the PostgreSQL type (no string parsed into a timestamp by
    Arrow instead of by PostgreSQL, no naive time read as UTC instead of in the session's zone)."""
    kind = field.type
    if pg_type is None or pg_type not in SUPPORTED_TYPES:
        return False
    if pa.types.is_null(kind):
        return True
    if pg_type in ("text", "character varying"):
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if pg_type in ("smallint", "integer", "bigint"):
        return pa.types.is_integer(kind)
    if pg_type == "double precision":
        return pa.types.is_floating(kind)
    if pg_type == "real":  # a float64 would be rounded twice (to decimal text, then to real)
        return pa.types.is_float32(kind) or pa.types.is_float16(kind)
    if pg_type == "boolean":
        return pa.types.is_boolean(kind)
    if pg_type == "date":
        return pa.types.is_date32(kind)
    if pg_type == "timestamp with time zone":
        return pa.types.is_timestamp(kind) and kind.tz is not None
    return pa.types.is_timestamp(kind) and kind.tz is None  # timestamp without time zone
