from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from oee_pipelines.storage.binary_copy import encode_batch
from oee_pipelines.storage.bulk_load import LoadError, copy_arrow, replace_rows, upsert_arrow

PROBE_DDL = """
CREATE TABLE IF NOT EXISTS load_probe (
    ts timestamptz, day date, machine_id text, signal text, value double precision,
    quality smallint, count bigint, ok boolean, note text)
"""


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url) as connection:
        connection.execute("DROP TABLE IF EXISTS load_probe")
        connection.execute(PROBE_DDL)
        connection.commit()
        yield connection
        connection.rollback()
        connection.execute("DROP TABLE IF EXISTS load_probe")
        connection.commit()


def probe_table(n: int = 3) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array(
                [datetime(2025, 1, 15, 10, 0, i, 250, tzinfo=UTC) for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array([date(2025, 1, 15)] * n),
            "machine_id": pa.array([f"MACHINE-00{i}" for i in range(n)]),
            "signal": pa.array(["temperature", None, "ünïcode ✓"][:n]),
            "value": pa.array([1.5, None, -2.25][:n]),
            "quality": pa.array([100, 50, None][:n], pa.int16()),
            "count": pa.array([1, 2**40, None][:n], pa.int64()),
            "ok": pa.array([True, False, None][:n]),
            "note": pa.array(["", 'a,b;c\tq"', None][:n]),
        }
    )


def test_binary_copy_round_trips_every_type_and_null(conn: psycopg.Connection) -> None:
    table = probe_table()
    assert copy_arrow(conn, "load_probe", table) == 3
    rows = conn.execute(
        "SELECT ts, day, machine_id, signal, value, quality, count, ok, note FROM load_probe ORDER BY ts"
    ).fetchall()
    expected = [tuple(row.values()) for row in table.to_pylist()]
    assert [tuple(r) for r in rows] == expected


def test_encoder_requires_fixed_width_columns_first() -> None:
    with pytest.raises(ValueError, match="fixed-width first"):
        encode_batch(pa.table({"a": ["x"], "b": [1]}), ["text", "bigint"])


def test_unknown_column_names_the_column(conn: psycopg.Connection) -> None:
    with pytest.raises(LoadError, match="no column named 'bogus'"):
        copy_arrow(conn, "load_probe", pa.table({"bogus": [1]}))


def test_replace_rows_is_all_or_nothing(conn: psycopg.Connection) -> None:
    copy_arrow(conn, "load_probe", probe_table())
    conn.commit()
    bad = pa.table({"machine_id": ["x"], "quality": pa.array([2**20], pa.int64())})  # overflows smallint
    with pytest.raises(LoadError, match="'quality' does not fit smallint"):
        replace_rows(conn, "load_probe", bad, sql.SQL("day = %s"), [date(2025, 1, 15)])
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM load_probe").fetchone()[0] == 3
    replace_rows(conn, "load_probe", probe_table(2), sql.SQL("day = %s"), [date(2025, 1, 15)])
    assert conn.execute("SELECT count(*) FROM load_probe").fetchone()[0] == 2


def test_upsert_counts_created_updated_unchanged(clean_database: str) -> None:
    org = pa.table({"id": ["demo", "acme"], "name": ["Demo", "Acme"]})
    with psycopg.connect(clean_database) as conn:
        first = upsert_arrow(conn, "organizations", org, ["id"])
        second = upsert_arrow(conn, "organizations", org, ["id"])
        third = upsert_arrow(
            conn, "organizations", pa.table({"id": ["demo"], "name": ["Demo plant"]}), ["id"]
        )
        names = dict(conn.execute("SELECT id, name FROM organizations").fetchall())
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert (third.created, third.updated) == (0, 1)
    assert names == {"demo": "Demo plant", "acme": "Acme"}
