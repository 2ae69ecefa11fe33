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

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
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
    copy_new_keys: bool = True,
) -> UpsertCounts:
    """Insert new rows and update changed ones, keyed on `key_columns` (a unique constraint).

    Rows whose values did not change are left alone, so a second identical sync updates nothing.
    The staging rows travel as binary COPY when every column encodes exactly as the text COPY would
    read it (`binary_staging=False`: always as text, the reference the binary path is tested against).
    When no key of `data` is stored yet, the rows are copied straight into `table` (see
    `_copied_as_new`; `copy_new_keys=False`: always staged, the reference that path is tested against).
    """
    if data.num_rows == 0:
        return UpsertCounts(0, 0, 0)
    if copy_new_keys and _copied_as_new(conn, table, data, key_columns, binary_staging):
        return UpsertCounts(created=data.num_rows, updated=0, unchanged=0)
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


def _copied_as_new(
    conn: Connection, table: str, data: pa.Table, key_columns: Sequence[str], binary_staging: bool
) -> bool:
    """The fast path of `upsert_arrow` when none of the keys is stored yet (a first sync, new orders):
    the rows go straight into `table` by COPY, as the staging rows would have, with neither a staging
    table nor an `INSERT ... ON CONFLICT` over them. True when done, so every row was created.

    Whether a key is stored only picks the path, it never decides a row's fate: a key stored meanwhile
    or twice in `data`, or any row the table refuses, fails the COPY, which is rolled back, and the
    staging path then runs as it always did (with its own counts, or its own error).
    """
    try:
        stored_key = _stored_key_query(table, data, key_columns)
    except pa.ArrowException:  # a key column Arrow cannot join into text: stage it, as before
        return False
    if stored_key is None:
        return False
    exists, params = stored_key
    try:
        with conn.transaction():
            row = conn.execute(exists, params).fetchone()
            if row is None or row[0]:
                return False
            _copy_into_staging(conn, table, table, data, binary_staging)
            return True
    except psycopg.Error:
        if conn.broken:
            raise
        return False


def _stored_key_query(
    table: str, data: pa.Table, key_columns: Sequence[str]
) -> tuple[sql.Composed, list[Any]] | None:
    """The query whether any key of `data` is in `table`, stopping at the first one found, and its
    parameters: `key = %s` for a key column with one value throughout, the values of the (one) other
    key column as one text, a line each, probed one by one on the key's index. None when a key column
    is not plain text or integers, or more than one varies (then `upsert_arrow` stages every row)."""
    constant: list[sql.Composable] = []
    constant_params: list[Any] = []
    varying: list[tuple[str, str, sql.Composable]] = []  # (column, its values joined, cast)
    for name in key_columns:
        if name not in data.column_names:
            return None
        column = data.column(name)
        kind = column.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if not (text or pa.types.is_integer(kind)):
            return None
        if column.null_count == 0 and pc.all(pc.equal(column, column[0])).as_py():
            constant.append(sql.SQL("{}.{} = %s").format(sql.Identifier(table), sql.Identifier(name)))
            constant_params.append(column[0].as_py())
            continue
        values = pc.cast(column.drop_null(), pa.large_string()).combine_chunks()
        if pc.any(pc.match_substring(values, "\n")).as_py():
            return None
        # One text rather than an array: nothing to build or parse per key, and no constant array of
        # 100,000 keys for the planner to estimate one by one (as `= ANY(%s)` would have).
        lines = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
        joined = pc.binary_join(lines, pa.scalar("\n", pa.large_string()))
        varying.append((name, joined[0].as_py(), sql.SQL("") if text else sql.SQL("::bigint")))
    if len(varying) > 1 or not (constant or varying):
        return None
    if not varying:
        where = sql.SQL(" AND ").join(constant)
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(sql.Identifier(table), where)
        return query, constant_params
    name, joined_values, cast = varying[0]
    key = sql.SQL("{}.{} = _key.value{}").format(sql.Identifier(table), sql.Identifier(name), cast)
    matches = [*constant, key]
    query = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM string_to_table(%s, E'\\n') AS _key(value) "
        "WHERE EXISTS (SELECT 1 FROM {} WHERE {}))"
    ).format(sql.Identifier(table), sql.SQL(" AND ").join(matches))
    return query, [joined_values, *constant_params]


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
