"""`Lake.replace_folder` on a local disk: readers see the old files or the new ones, never a gap.

The API lists `telemetry/*/*/*.parquet` and then reads what it listed, while a backfill may be
replacing another folder of the same day; a folder that vanished for a moment, or a staging file
that matched the pattern, failed those reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest.mock import patch

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.storage.lake import Lake

FOLDER = "telemetry/source=pi/date=2025-01-13"


def readings(first: int, rows: int) -> pa.Table:
    return pa.table({"ts": pa.array(range(first, first + rows), pa.int64())})


def api_pattern_files(lake: Lake) -> list[str]:
    return sorted(lake.fs.glob(lake.path("telemetry", "*", "*", "*.parquet")))


def test_readers_see_the_old_files_until_each_is_replaced_and_no_staging_file(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_folder(FOLDER, {"part-0.parquet": readings(0, 10), "part-1.parquet": readings(10, 10)})
    old_files = api_pattern_files(lake)
    seen_while_writing: list[tuple[list[str], int]] = []
    seen_before_each_rename: list[list[str]] = []
    real_write_table, real_replace = pq.write_table, os.replace

    def write_table(table: pa.Table, where: object, **options: object) -> None:
        seen_while_writing.append((api_pattern_files(lake), lake.read_folder(FOLDER).num_rows))
        real_write_table(table, where, **options)

    def replace(source: str, target: str) -> None:
        seen_before_each_rename.append([Path(p).name for p in lake.list_files(FOLDER)])
        real_replace(source, target)

    with (
        patch.object(pq, "write_table", write_table),
        patch.object(os, "replace", replace),
    ):
        lake.replace_folder(FOLDER, {"part-0.parquet": readings(100, 5), "part-1.parquet": readings(105, 5)})

    assert seen_while_writing == [(old_files, 20), (old_files, 20)]  # staged files are not listed
    assert seen_before_each_rename == [["part-0.parquet", "part-1.parquet"]] * 2  # never a gap
    assert lake.read_folder(FOLDER).num_rows == 10
    assert sorted(p.name for p in (tmp_path / FOLDER).iterdir()) == ["part-0.parquet", "part-1.parquet"]


def test_a_smaller_set_of_files_removes_the_stale_ones(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_folder(FOLDER, {"part-0.parquet": readings(0, 10), "part-1.parquet": readings(10, 10)})

    lake.replace_folder(FOLDER, {"part-0.parquet": readings(0, 3)})

    assert sorted(p.name for p in (tmp_path / FOLDER).iterdir()) == ["part-0.parquet"]
    assert lake.read_folder(FOLDER).num_rows == 3


def test_a_failed_first_write_of_a_new_folder_leaves_no_folder(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))

    def failing(table: pa.Table, where: object, **options: object) -> None:
        raise OSError(28, "No space left on device", str(where))

    with patch.object(pq, "write_table", failing), pytest.raises(OSError) as raised:
        lake.replace_folder(FOLDER, {"part-0.parquet": readings(0, 3)})

    assert raised.value.errno == 28
    assert not (tmp_path / FOLDER).exists()
