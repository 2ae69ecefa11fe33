"""`bulk_load.upsert_arrow` with binary-COPY staging writes what its text-COPY staging writes, with the
same counts, and stages the cases binary COPY would read differently as text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import psycopg
import pyarrow as pa
import pytest

from oee_pipelines.storage.bulk_load import UpsertCounts, upsert_arrow
from oee_pipelines_tests.support.mes_sources import REFERENCE_SQL
from oee_pipelines_tests.support.work_orders import KEY, ORDERS_AS_STORED, orders

Upsert = Callable[[psycopg.Connection, str, pa.Table, Sequence[str]], UpsertCounts]


def upsert_arrow_text(
    conn: psycopg.Connection, table: str, data: pa.Table, key_columns: Sequence[str]
) -> UpsertCounts:
    return upsert_arrow(conn, table, data, key_columns, binary_staging=False)


def three_syncs(url: str, upsert: Upsert, tables: list[pa.Table]) -> tuple[list[UpsertCounts], list[tuple]]:
    """Each table upserted in turn into an emptied `work_orders`; the counts and the rows stored."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE work_orders CASCADE")
    counts = []
    with psycopg.connect(url) as conn:
        for table in tables:
            counts.append(upsert(conn, "work_orders", table, KEY))
            conn.commit()
        stored = conn.execute(ORDERS_AS_STORED).fetchall()
    return counts, stored


@pytest.fixture
def url(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(REFERENCE_SQL)
    return clean_database


def test_create_then_nothing_then_update_count_and_store_as_the_text_path(url: str) -> None:
    tables = [orders(50), orders(50), orders(60, quantity_offset=7)]
    binary = three_syncs(url, upsert_arrow, tables)
    text = three_syncs(url, upsert_arrow_text, tables)
    assert binary == text
    assert binary[0] == [UpsertCounts(50, 0, 0), UpsertCounts(0, 0, 50), UpsertCounts(10, 50, 0)]


@pytest.mark.parametrize(
    "odd_column",
    [
        # A timestamp below the microsecond: binary COPY refuses it, the text path stores it as it did.
        {"actual_start": pa.array([1_736_748_000_000_000_001] * 5, pa.timestamp("ns", tz="UTC"))},
        # A naive time: PostgreSQL reads it in the session's zone, not Arrow as UTC.
        {"actual_start": pa.array([datetime(2025, 1, 13, 6)] * 5, pa.timestamp("us"))},
        # Text for a timestamp: PostgreSQL parses it, not Arrow.
        {"actual_end": pa.array(["2025-01-13 08:00"] * 5)},
    ],
    ids=["nanoseconds", "naive", "text-timestamp"],
)
def test_columns_binary_copy_would_read_otherwise_take_the_text_path(
    url: str, odd_column: dict[str, pa.Array]
) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'Europe/Paris'")
        binary = upsert_arrow(conn, "work_orders", orders(5, **odd_column), KEY)
        stored_binary = conn.execute(ORDERS_AS_STORED).fetchall()
        conn.rollback()
        conn.execute("SET TimeZone = 'Europe/Paris'")
        text = upsert_arrow_text(conn, "work_orders", orders(5, **odd_column), KEY)
        stored_text = conn.execute(ORDERS_AS_STORED).fetchall()
        conn.rollback()
    assert (binary, stored_binary) == (text, stored_text)
    assert binary == UpsertCounts(5, 0, 0)


def test_a_quantity_out_of_range_fails_as_it_did(url: str) -> None:
    too_big = orders(3, planned_quantity=pa.array([1, 2, 2**40], pa.int64()))
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.NumericValueOutOfRange):
        upsert_arrow(conn, "work_orders", too_big, KEY)
