"""COPY to Arrow: every kind of column, NULL versus empty text, quotes and newlines, no rows at all."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pyarrow as pa
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
