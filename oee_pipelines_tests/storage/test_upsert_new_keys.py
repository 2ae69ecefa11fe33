"""`bulk_load.upsert_arrow` copies a batch none of whose keys is stored straight into the table, and
stores, counts and refuses exactly what its staging path (`copy_new_keys=False`) does; a batch with a
stored key, or one the table refuses, goes through the staging path as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pyarrow as pa
import pytest

from oee_pipelines.storage.bulk_load import UpsertCounts, upsert_arrow
from oee_pipelines_tests.support.mes_sources import REFERENCE_SQL
from oee_pipelines_tests.support.work_orders import KEY, ORDERS_AS_STORED, orders

STAGING_TABLE = "SELECT to_regclass('pg_temp._staging_work_orders') IS NOT NULL"


@pytest.fixture
def url(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(REFERENCE_SQL)
    return clean_database


def renumbered(data: pa.Table, offset: int) -> pa.Table:
    """`data` with order numbers (and ids) shifted by `offset`, so none of its keys is stored."""
    numbers = pa.array([f"WO-{int(n[3:]) + offset:06d}" for n in data.column("wo_number").to_pylist()])
    return data.set_column(0, "id", numbers).set_column(2, "wo_number", numbers)


def upsert_in_open_transaction(url: str, batches: list[pa.Table], copy_new_keys: bool) -> tuple:
    """Each batch upserted in turn into an emptied `work_orders`, the last one inside a transaction left
    open (a staging table lives until it ends); the counts, whether the last batch made a staging
    table, and the rows stored."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE work_orders CASCADE")
    with psycopg.connect(url) as conn:
        counts = []
        for batch in batches[:-1]:
            counts.append(upsert_arrow(conn, "work_orders", batch, KEY, copy_new_keys=copy_new_keys))
            conn.commit()
        conn.execute("SELECT 1")
        counts.append(upsert_arrow(conn, "work_orders", batches[-1], KEY, copy_new_keys=copy_new_keys))
        staged = conn.execute(STAGING_TABLE).fetchone()
        stored = conn.execute(ORDERS_AS_STORED).fetchall()
        conn.rollback()
    return counts, staged, stored


def test_new_keys_are_copied_without_staging_and_store_what_staging_stores(url: str) -> None:
    # Orders already stored, then a batch of only new ones (nulls, a null-typed column included).
    batches = [orders(20), renumbered(orders(30), 1_000)]
    counts, staged, stored = upsert_in_open_transaction(url, batches, copy_new_keys=True)
    reference_counts, reference_staged, reference_stored = upsert_in_open_transaction(
        url, batches, copy_new_keys=False
    )
    assert counts == reference_counts == [UpsertCounts(20, 0, 0), UpsertCounts(30, 0, 0)]
    assert stored == reference_stored
    assert len(stored) == 50
    assert staged == (False,)  # the new orders needed no staging table
    assert reference_staged == (True,)


def test_a_batch_with_one_stored_key_is_staged_and_counted_as_before(url: str) -> None:
    changed = orders(1, quantity_offset=5)
    mixed = pa.concat_tables([renumbered(orders(10), 500), changed])
    batches = [orders(3), mixed, mixed]
    counts, staged, stored = upsert_in_open_transaction(url, batches, copy_new_keys=True)
    assert (counts, stored) == upsert_in_open_transaction(url, batches, copy_new_keys=False)[::2]
    assert counts == [UpsertCounts(3, 0, 0), UpsertCounts(10, 1, 0), UpsertCounts(0, 0, 11)]
    assert staged == (True,)


def refusal(url: str, data: pa.Table, copy_new_keys: bool) -> tuple[type, str, list[tuple]]:
    """The error upserting `data` raises (class and message), and the rows stored once the caller's
    transaction, which wrote two orders before, commits (the refused batch must not take them along)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE work_orders CASCADE")
    with psycopg.connect(url) as conn:
        with conn.transaction():
            upsert_arrow(conn, "work_orders", orders(2), KEY)
            with pytest.raises(psycopg.Error) as raised:
                upsert_arrow(conn, "work_orders", data, KEY, copy_new_keys=copy_new_keys)
        survivors = conn.execute("SELECT wo_number FROM work_orders ORDER BY 1").fetchall()
    return type(raised.value), str(raised.value), survivors


@pytest.mark.parametrize(
    "batch",
    [
        # The same new key twice: COPY would say "duplicate key", the staging path says it cannot
        # affect a row twice; the staging path's words are the ones raised.
        pa.concat_tables([renumbered(orders(3), 100), renumbered(orders(1), 100)]),
        # A product the warehouse lacks: the foreign key refuses it, as the staging INSERT reports it.
        renumbered(orders(3, product_id=pa.array(["PROD-001", "NOPE", "PROD-001"])), 100),
        # A new order number whose id is stored: the primary key refuses it.
        renumbered(orders(2), 100).set_column(0, "id", pa.array(["WO-000000", "WO-000101"])),
    ],
    ids=["duplicate-new-key", "unknown-product", "stored-id"],
)
def test_a_batch_the_table_refuses_fails_with_the_staging_paths_error(url: str, batch: pa.Table) -> None:
    copied = refusal(url, batch, copy_new_keys=True)
    staged = refusal(url, batch, copy_new_keys=False)
    assert copied == staged
    assert copied[2] == [("WO-000000",), ("WO-000001",)]


def test_a_quantity_out_of_range_on_new_keys_fails_as_it_did(url: str) -> None:
    too_big = orders(3, planned_quantity=pa.array([1, 2, 2**40], pa.int64()))
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.NumericValueOutOfRange):
        upsert_arrow(conn, "work_orders", too_big, KEY)


@pytest.fixture
def writer_holding_a_key(url: str) -> Iterator[psycopg.Connection]:
    """Another session that has inserted order WO-000001 and not committed yet."""
    with psycopg.connect(url) as other:
        other.execute(
            """INSERT INTO work_orders (id, org_id, wo_number, product_id, line_id, planned_quantity, status,
                   planned_start, planned_end, source_system)
               VALUES ('WO-000001', 'demo', 'WO-000001', 'PROD-001', 'LINE-001', 1, 'planned',
                   '2025-01-13 06:00+00', '2025-01-13 07:00+00', 'other')"""
        )
        yield other


def test_a_key_stored_by_another_session_meanwhile_is_updated_not_lost(
    url: str, writer_holding_a_key: psycopg.Connection
) -> None:
    """The check sees no stored key (the other insert is uncommitted), the COPY then waits on that
    key and fails once the other session commits; the staging path updates the row instead."""
    result: dict[str, object] = {}

    def sync() -> None:
        with psycopg.connect(url) as conn:
            conn.execute("SET application_name = 'upsert_under_test'")
            try:
                result["counts"] = upsert_arrow(conn, "work_orders", orders(3), KEY)
                conn.commit()
            except Exception as error:  # reported by the assertion below
                result["error"] = error

    worker = threading.Thread(target=sync)
    worker.start()
    with psycopg.connect(url, autocommit=True) as monitor:
        for _ in range(6_000):  # until the upsert's COPY waits on the other session's key
            waiting = monitor.execute(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE application_name = 'upsert_under_test' AND wait_event_type = 'Lock'"""
            ).fetchone()
            if waiting and waiting[0]:
                break
            assert worker.is_alive(), result
            time.sleep(0.01)
        else:
            pytest.fail("the upsert never waited on the uncommitted key")
    writer_holding_a_key.commit()
    worker.join()
    assert "error" not in result, result
    assert result["counts"] == UpsertCounts(created=2, updated=1, unchanged=0)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT wo_number, source_system, planned_quantity FROM work_orders ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("WO-000000", "sap_odata", 1000),
        ("WO-000001", "sap_odata", 1001),
        ("WO-000002", "sap_odata", 1002),
    ]


def test_large_text_keys_are_checked_and_copied_too(url: str) -> None:
    # A spreadsheet import's text arrives as large_string: the key check joins it as well.
    large = renumbered(orders(4), 200)
    large = large.set_column(2, "wo_number", large.column("wo_number").cast(pa.large_string()))
    counts, staged, stored = upsert_in_open_transaction(url, [orders(2), large], copy_new_keys=True)
    assert (counts, stored) == upsert_in_open_transaction(url, [orders(2), large], copy_new_keys=False)[::2]
    assert counts == [UpsertCounts(2, 0, 0), UpsertCounts(4, 0, 0)]
    assert staged == (False,)
    # The same orders again: their keys are stored, so they are staged, and nothing changes.
    again = upsert_in_open_transaction(url, [orders(2), large, large], copy_new_keys=True)
    assert again[0][-1] == UpsertCounts(0, 0, 4)
    assert again[1] == (True,)
