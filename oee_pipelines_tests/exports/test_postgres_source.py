"""COPY to Arrow: every kind of column, NULL versus empty text, quotes and newlines, no rows at all."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from oee_pipelines.exports.columns import Column, ExportTable, Kind
from oee_pipelines.exports.postgres_source import copy_batches

TABLE = ExportTable(
    key="probe",
    file_title="Probe",
    columns=(
        Column("at", Kind.TIMESTAMP), Column("day", Kind.DATE), Column("pct", Kind.PERCENT),
        Column("count", Kind.INTEGER), Column("flag", Kind.BOOLEAN), Column("label", Kind.TEXT),
    ),
)  # fmt: skip

QUERY = sql.SQL(
    """SELECT * FROM (VALUES
        (timestamptz '2025-01-15 01:15:00+01', date '2025-01-15', 85.125::numeric, 7::bigint, true,
         'a, "b"' || chr(10) || 'c'),
        (NULL, NULL, NULL, NULL, NULL, ''),
        (timestamptz '2025-01-15 00:30:00.5+00', date '2025-01-16', 0, -1, false, NULL)
    ) AS v WHERE %(keep)s"""
)  # fmt: skip


def test_every_kind_round_trips_in_small_blocks(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        batches = list(copy_batches(conn, QUERY, {"keep": True}, TABLE, block_bytes=16))
    table = pa.Table.from_batches(batches)
    assert len(batches) >= 2
    assert table.schema == TABLE.arrow_schema
    assert table.to_pylist() == [
        {"at": datetime(2025, 1, 15, 0, 15, tzinfo=UTC), "day": date(2025, 1, 15), "pct": 85.125, "count": 7,
         "flag": True, "label": 'a, "b"\nc'},
        {"at": None, "day": None, "pct": None, "count": None, "flag": None, "label": ""},
        {"at": datetime(2025, 1, 15, 0, 30, 0, 500000, tzinfo=UTC), "day": date(2025, 1, 16), "pct": 0.0,
         "count": -1, "flag": False, "label": None},
    ]  # fmt: skip


def test_no_rows_gives_no_batches(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert list(copy_batches(conn, QUERY, {"keep": False}, TABLE)) == []


COUNTING = ExportTable(key="counting", file_title="Counting", columns=(Column("n", Kind.INTEGER),))


def test_the_connection_is_idle_and_usable_after_the_last_row(database_url: str) -> None:
    # The rows are read from libpq directly; the COPY's end must still be taken as psycopg would.
    query = sql.SQL("SELECT n FROM generate_series(1, %(rows)s) AS n")
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(2):
            batches = list(copy_batches(conn, query, {"rows": 50_000}, COUNTING, block_bytes=4096))
            assert sum(batch.num_rows for batch in batches) == 50_000 and len(batches) > 10
            assert pa.Table.from_batches(batches).column("n").to_pylist() == list(range(1, 50_001))
            assert conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
            assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_an_error_in_the_middle_of_the_rows_is_raised_and_the_connection_survives(database_url: str) -> None:
    failing = sql.SQL("SELECT 1 / (n - %(zero_at)s) FROM generate_series(1, 20000) AS n")
    with psycopg.connect(database_url, autocommit=True) as conn:
        received = 0
        with pytest.raises(psycopg.errors.DivisionByZero):
            for batch in copy_batches(conn, failing, {"zero_at": 15_000}, COUNTING, block_bytes=1024):
                received += batch.num_rows
        assert 0 < received < 15_000  # rows streamed before the server hit the error
        assert conn.execute("SELECT 1").fetchone() == (1,)
