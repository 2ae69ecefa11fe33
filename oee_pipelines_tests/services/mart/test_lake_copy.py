"""The data mart's lake copy: the same batches and bytes as the PostgreSQL source, and when it is current.

The rows are long enough (several MB of COPY text) that the PostgreSQL source cuts them into many
blocks and pyarrow chunks: the lake copy must cut them at the same rows, or a Parquet export's row
groups (and so its bytes) would differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from oee_pipelines.exports.columns import DATA_MART
from oee_pipelines.exports.postgres_source import copy_batches
from oee_pipelines.exports.queries import TimeRange, data_mart_query
from oee_pipelines.exports.writers import ExportFormat, export_stream
from oee_pipelines.services.mart.lake_copy import (
    current_days,
    day_folder,
    mart_batches,
    read_manifest,
    write_mart_days,
)
from oee_pipelines.storage.lake import Lake

SEED = """
INSERT INTO organizations (id, name) VALUES ('o1', 'One'), ('o2', 'Two');
INSERT INTO sites (id, org_id, name) VALUES ('S1', 'o1', 'Site'), ('S2', 'o2', 'Site two');
INSERT INTO production_lines (id, org_id, site_id, name, code)
  VALUES ('L1', 'o1', 'S1', 'Line, "one"', 'L1'), ('L2', 'o2', 'S2', 'Line two', 'L2');
INSERT INTO shifts (id, org_id, site_id, name, shift_number, start_time, end_time)
  VALUES ('SH1', 'o1', 'S1', 'Day', 1, '06:00', '18:00');
INSERT INTO machines (id, org_id, line_id, name, code)
SELECT 'M-' || lpad(n::text, 2, '0'), CASE WHEN n <= 14 THEN 'o1' ELSE 'o2' END,
       CASE WHEN n <= 14 THEN 'L1' ELSE 'L2' END,
       CASE n WHEN 1 THEN 'Filler' || chr(10) || 'north' WHEN 2 THEN '=cmd' ELSE 'Machine ' || n END, 'C' || n
FROM generate_series(1, 16) AS n;
INSERT INTO oee_snapshots (org_id, machine_id, line_id, shift_id, snapshot_time, window_start,
    planned_production_time, actual_production_time, total_pieces, good_pieces, rejected_pieces,
    availability_pct, performance_pct, quality_pct, oee_pct)
SELECT CASE WHEN m <= 14 THEN 'o1' ELSE 'o2' END, 'M-' || lpad(m::text, 2, '0'),
       CASE WHEN m <= 14 THEN 'L1' ELSE 'L2' END, CASE WHEN m <= 14 THEN 'SH1' END,
       timestamptz '2025-01-01' + w * interval '15 minutes',
       timestamptz '2025-01-01' + (w - 1) * interval '15 minutes',
       15, 12.5 + (w % 5) * 0.1, 100 + w % 7, 98 + w % 7, 2,
       CASE WHEN w % 11 = 0 THEN NULL ELSE 83.333 + w % 3 END, 90.125 / (1 + w % 9), 98.0, 1.0 / (1 + w % 13)
FROM generate_series(1, 16) AS m, generate_series(0, 14 * 96) AS w;
INSERT INTO oee_data_mart_table SELECT * FROM oee_data_mart;
"""
DAYS = [date(2024, 12, 31)] + [date(2025, 1, day) for day in range(1, 16)]


@pytest.fixture
def mart(clean_database: str, tmp_path: Path) -> tuple[str, Lake]:
    lake = Lake(str(tmp_path / "lake"))
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(SEED)
    with psycopg.connect(clean_database) as conn:
        assert write_mart_days(conn, lake, DAYS) == 16 * (14 * 96 + 1)
    return clean_database, lake


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    ("o1", TimeRange(at("2025-01-01"), at("2025-01-15"))),  # several MB: many blocks and chunks
    ("o1", TimeRange(at("2025-01-01"), at("2025-01-15"), by_window_end=True)),  # published-file days
    ("o1", TimeRange(at("2025-01-03T07:30"), at("2025-01-09T13:15"))),  # across days, mid-day bounds
    ("o2", TimeRange(at("2024-12-01"), at("2025-02-01"))),  # the other org, days with no rows
    ("o1", TimeRange(at("2025-02-01"), at("2025-02-03"))),  # nothing at all
]


def test_the_lake_copy_gives_the_postgres_sources_batches_and_bytes(mart: tuple[str, Lake]) -> None:
    url, lake = mart
    for (org_id, time_range), limit in [(case, limit) for case in CASES for limit in (None, 5000, 1)]:
        query = data_mart_query(org_id, time_range, limit)
        with psycopg.connect(url, autocommit=True) as conn:
            warehouse = list(copy_batches(conn, query.statement, query.params, DATA_MART))
            copies = current_days(conn, lake, org_id, time_range)
        assert copies is not None
        from_lake = list(mart_batches(lake, copies, org_id, time_range, limit))
        case = (org_id, time_range, limit)
        assert [batch.num_rows for batch in from_lake] == [batch.num_rows for batch in warehouse], case
        assert all(a.equals(b) for a, b in zip(from_lake, warehouse, strict=True)), case
        # Each batch holds its own rows' memory, not a slice of a day file that a Parquet row group would
        # keep whole until it is written (the export's peak memory).
        assert all(b.get_total_buffer_size() <= b.nbytes + 8 * b.num_columns for b in from_lake), case
        if case == (*CASES[0], None):
            assert len(warehouse) >= 4  # blocks and chunks were cut: the test covers the cutting
        as_read = list(mart_batches(lake, copies, org_id, time_range, limit, copy_like=False))
        assert all(batch.schema == DATA_MART.arrow_schema for batch in as_read), case  # no COPY lengths
        for export_format in (ExportFormat.CSV, ExportFormat.JSON, ExportFormat.PARQUET):
            for headers in (True, False):
                expected = b"".join(
                    export_stream(export_format, DATA_MART, warehouse, include_headers=headers)
                )
                served = export_stream(export_format, DATA_MART, from_lake, include_headers=headers)
                assert b"".join(served) == expected, (*case, export_format, headers)
                if export_format is not ExportFormat.PARQUET:  # CSV and JSON: wherever batches end
                    served = export_stream(export_format, DATA_MART, as_read, include_headers=headers)
                    assert b"".join(served) == expected, (*case, export_format, headers, "as read")


def test_a_day_refreshed_after_its_copy_is_not_current_until_the_copy_is_written_again(
    mart: tuple[str, Lake],
) -> None:
    url, lake = mart
    time_range = TimeRange(at("2025-01-02"), at("2025-01-05"))
    day = date(2025, 1, 3)
    with psycopg.connect(url, autocommit=True) as conn:
        assert current_days(conn, lake, "o1", time_range) is not None
        with conn.transaction():  # what the asset's refresh of one day does: a new refreshed_at
            conn.execute(
                "DELETE FROM oee_data_mart_table "
                "WHERE snapshot_time > '2025-01-03' AND snapshot_time <= '2025-01-04'"
            )
            conn.execute(
                "INSERT INTO oee_data_mart_table SELECT * FROM oee_data_mart "
                "WHERE snapshot_time > '2025-01-03' AND snapshot_time <= '2025-01-04'"
            )
        assert current_days(conn, lake, "o1", time_range) is None
        # A day the range does not touch does not matter.
        assert current_days(conn, lake, "o1", TimeRange(at("2025-01-05"), at("2025-01-06"))) is not None
    old_files = set(read_manifest(lake, day).files.values())  # type: ignore[union-attr]
    with psycopg.connect(url) as conn:
        write_mart_days(conn, lake, [day])
    with psycopg.connect(url, autocommit=True) as conn:
        assert current_days(conn, lake, "o1", time_range) is not None
    new_files = set(read_manifest(lake, day).files.values())  # type: ignore[union-attr]
    on_disk = {Path(path).name for path in lake.list_files(day_folder(day))}
    # The previous version stays one more refresh, for exports still reading it; then it goes.
    assert on_disk == old_files | new_files and old_files.isdisjoint(new_files)
    with psycopg.connect(url) as conn:
        write_mart_days(conn, lake, [day])
    assert {Path(path).name for path in lake.list_files(day_folder(day))} == set(
        read_manifest(lake, day).files.values()  # type: ignore[union-attr]
    ) | new_files


def test_a_missing_copy_or_a_day_of_mixed_refreshes_is_not_current(mart: tuple[str, Lake]) -> None:
    url, lake = mart
    lake.remove_folder(day_folder(date(2025, 1, 7)))
    with psycopg.connect(url, autocommit=True) as conn:
        assert current_days(conn, lake, "o1", TimeRange(at("2025-01-06"), at("2025-01-08"))) is None
        # The window ending at 2025-01-08 00:00 is the missing day's: a range from then needs it.
        assert current_days(conn, lake, "o1", TimeRange(at("2025-01-08"), at("2025-01-09"))) is None
        assert current_days(conn, lake, "o1", TimeRange(at("2025-01-08T00:01"), at("2025-01-09"))) is not None
        # A day with rows of several refreshes cannot be told current: no copy is served for it.
        conn.execute(
            "UPDATE oee_data_mart_table SET refreshed_at = refreshed_at - interval '1 hour' "
            "WHERE machine_id = 'M-15' AND snapshot_time > '2025-01-10' AND snapshot_time <= '2025-01-11'"
        )
    with psycopg.connect(url) as conn:
        write_mart_days(conn, lake, [date(2025, 1, 10)])
    assert read_manifest(lake, date(2025, 1, 10)).complete is False  # type: ignore[union-attr]
    with psycopg.connect(url, autocommit=True) as conn:
        assert current_days(conn, lake, "o1", TimeRange(at("2025-01-10"), at("2025-01-11"))) is None
