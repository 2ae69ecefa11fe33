"""`TableStream`: a file handed to the lake piece by piece is byte for byte the file of the whole table,
and a streamed day (`StreamedDay`) writes the very bytes the day's parts gave when written whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.historian.day_parts import StreamedDay, compact, telemetry_folder
from oee_pipelines.storage import lake as lake_module
from oee_pipelines.storage.lake import PARQUET_OPTIONS, Lake, TableStream

START_US = int(datetime(2025, 1, 14, tzinfo=UTC).timestamp()) * 1_000_000


def telemetry(first: int, count: int) -> pa.Table:
    """`count` telemetry rows numbered from `first`: texts that repeat, a few states and nulls."""
    numbers = np.arange(first, first + count)
    tag = pa.array([f"TAG-{number % 7}" for number in numbers.tolist()], pa.string())
    value = pa.array(np.where(numbers % 11 == 0, np.nan, numbers * 0.1), pa.float64(), from_pandas=True)
    text = pa.array([None if number % 13 else f"STATE-{number % 3}" for number in numbers.tolist()])
    columns = {
        "org_id": pa.array(["demo"] * count),
        "site_id": pa.array(["SITE-01"] * count),
        "line_id": pa.array([f"LINE-{number % 2:03d}" for number in numbers.tolist()]),
        "machine_id": pc.binary_join_element_wise("MACHINE-", tag, ""),
        "signal": pa.array(["temperature"] * count),
        "ts": pa.array(START_US + numbers * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "value": value,
        "text_value": text,
        "unit": pa.array(["C"] * count),
        "quality": pa.array(np.where(numbers % 5 == 0, 50, 100), pa.int16()),
        "source_system": pa.array(["pi"] * count),
        "source_ref": tag,
        "ingest_run_id": pa.array(["run-1"] * count),
    }
    return pa.table(columns).cast(TELEMETRY_SCHEMA)


def pieces(sizes: list[int]) -> list[pa.Table]:
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    return [telemetry(int(offset), size) for offset, size in zip(offsets, sizes, strict=False)]


@pytest.fixture
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> int:
    """Row groups of 7 rows, so a few dozen rows give several (and cuts inside pieces)."""
    monkeypatch.setattr(lake_module, "ROW_GROUP_ROWS", 7)
    monkeypatch.setitem(PARQUET_OPTIONS, "row_group_size", 7)
    return 7


@pytest.mark.parametrize(
    "sizes",
    [[3, 5, 10, 1, 2, 14, 6], [7, 7, 7], [30], [0, 4, 0, 3], [0], []],
    ids=["cuts inside pieces", "whole row groups", "one piece", "empty pieces", "no rows", "no pieces"],
)
def test_a_streamed_file_is_byte_for_byte_the_file_of_the_whole_table(
    tmp_path: Path, small_row_groups: int, sizes: list[int]
) -> None:
    tables = pieces(sizes)
    whole = pa.concat_tables(tables) if tables else TELEMETRY_SCHEMA.empty_table()
    lake = Lake(str(tmp_path))

    lake.write_file("whole/part-0.parquet", whole)
    lake.replace_folder("streamed", {"part-0.parquet": TableStream(TELEMETRY_SCHEMA, iter(tables))})

    expected = (tmp_path / "whole" / "part-0.parquet").read_bytes()
    assert (tmp_path / "streamed" / "part-0.parquet").read_bytes() == expected
    metadata = pq.ParquetFile(tmp_path / "streamed" / "part-0.parquet").metadata
    row_groups = [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
    assert sum(row_groups) == sum(sizes)
    assert all(rows == small_row_groups for rows in row_groups[:-1])


def test_the_default_row_groups_of_a_streamed_file_match_the_whole_table(tmp_path: Path) -> None:
    tables = pieces([50_000] * 12 + [1_234])  # 601,234 rows: two full row groups of 256,000 and the rest
    lake = Lake(str(tmp_path))
    lake.write_file("whole/part-0.parquet", pa.concat_tables(tables))
    lake.replace_folder("streamed", {"part-0.parquet": TableStream(TELEMETRY_SCHEMA, iter(tables))})

    metadata = pq.ParquetFile(tmp_path / "streamed" / "part-0.parquet").metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
        256_000,
        256_000,
        89_234,
    ]
    expected = (tmp_path / "whole" / "part-0.parquet").read_bytes()
    assert (tmp_path / "streamed" / "part-0.parquet").read_bytes() == expected


def test_a_streamed_file_on_an_object_store_path_is_encoded_the_same(small_row_groups: int) -> None:
    tables = pieces([3, 9, 4])
    assert lake_module._parquet_bytes(TableStream(TELEMETRY_SCHEMA, iter(tables))) == (
        lake_module._parquet_bytes(pa.concat_tables(tables))
    )


@pytest.mark.parametrize(
    ("sizes", "part_rows"),
    [([4, 9, 2, 11, 5, 3], 10), ([5, 5, 10], 10), ([25], 10), ([0, 0], 10)],
    ids=["parts cut inside pages", "parts on page bounds", "one page, several parts", "no points"],
)
def test_a_streamed_day_writes_the_bytes_of_its_parts_written_whole(
    tmp_path: Path, small_row_groups: int, sizes: list[int], part_rows: int
) -> None:
    compact_pages = [compact(page) for page in pieces(sizes)]
    folder = telemetry_folder("pi", date(2025, 1, 14))
    lake = Lake(str(tmp_path / "streamed"))
    lake.replace_folder(folder, StreamedDay(iter(compact_pages), part_rows=part_rows))

    # What the day gave before it was streamed: its pages concatenated, cut every `part_rows` rows,
    # each part expanded to TELEMETRY_SCHEMA and written whole.
    day = pa.concat_tables(compact_pages)
    offsets = range(0, day.num_rows, part_rows) if day.num_rows else [0]
    whole = Lake(str(tmp_path / "whole"))
    for number, offset in enumerate(offsets):
        part = day.slice(offset, part_rows).cast(TELEMETRY_SCHEMA)
        whole.write_file(f"{folder}/part-{number:05d}.parquet", part)

    streamed_files = lake.list_files(folder)
    whole_files = whole.list_files(folder)
    assert [Path(path).name for path in streamed_files] == [Path(path).name for path in whole_files]
    for streamed_file, whole_file in zip(streamed_files, whole_files, strict=True):
        assert Path(streamed_file).read_bytes() == Path(whole_file).read_bytes()


def test_a_part_left_unfinished_by_the_writer_is_refused(tmp_path: Path) -> None:
    streamed = StreamedDay(iter([compact(page) for page in pieces([4, 4, 4])]), part_rows=10)
    names: Iterator[str] = iter(streamed)
    first = next(names)
    next(iter(streamed[first].tables))  # the writer reads one page of the part, then asks for the next
    with pytest.raises(RuntimeError, match="not written to its end"):
        next(names)
