"""A large CSV's next slice is parsed on a thread while the one before is validated (`_read_ahead`).
The slices are exactly those of parsing one after the other in the caller's thread: same cells, row
numbers and unreadable rows per slice, on files with quotes, newlines inside values, a byte-order mark,
CRLF line ends, blank lines and rows with the wrong number of fields. Leaving early stops the thread;
a file unreadable part way is refused where it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from oee_pipelines.connectors.files import UnreadableFileError, csv_reader
from oee_pipelines.connectors.files.csv_reader import read_csv_file_in_slices
from oee_pipelines.domain.imports import RowError, TextSheet

SLICE_BYTES = 256
HEADER = "timestamp,machine_id,sensor_type,value,unit,quality"


def _rows(count: int, start: int = 0) -> list[str]:
    return [
        f"2025-01-14T10:{(start + n) % 60:02d}:00Z,MACHINE-A0{1 + n % 2},temperature,{70 + n % 9}.5,degC,100"
        for n in range(count)
    ]


AWKWARD = [
    *_rows(25),
    '2025-01-14 12:02:00,MACHINE-A02,pressure,2.0,"bar\nsplit, in two",101',
    "",
    "2025-01-14T11:01:00Z,MACHINE-A01,temperature,1.0,degC,100,extra",
    '2025-01-14T11:02:00Z,"MACHINE-A01",temperature,"1,5",degC,100',
    ",,,,,",
    "2025-01-14T11:03:00Z,MACHINE-A01",
    *_rows(30, start=30),
    '2025-01-14T11:04:00Z,MACHINE-A01,"a ""quoted"" word",1.0,degC,100',
    "",
    "",
    *_rows(40, start=5),
    '2025-01-14T11:05:00Z,MACHINE-A02,temperature,1.0,"deg\nC\nmore",100',
    "only one field",
    *_rows(10, start=7),
]


def _synchronous(
    batches: Iterator[pa.RecordBatch], blocks: int, skipped: list[RowError]
) -> Iterator[tuple[pa.Table | None, int]]:
    """What the slices were before reading ahead: each parsed when asked for, in the caller's thread."""
    while True:
        table = csv_reader._next_slice(batches, blocks)
        yield table, len(skipped)
        if table is None:
            return


def _sheets(path: Path) -> list[TextSheet]:
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None
    return list(slices)


def _same_sheets(first: list[TextSheet], second: list[TextSheet]) -> None:
    assert len(first) == len(second)
    for one, other in zip(first, second, strict=True):
        assert one.frame.equals(other.frame)
        assert list(one.frame.columns) == list(other.frame.columns)
        assert np.array_equal(one.row_numbers, other.row_numbers)
        assert one.read_errors == other.read_errors
        assert one.details == other.details


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_slices_read_ahead_are_the_slices_read_in_turn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, line_end: str, bom: str
) -> None:
    path = tmp_path / "awkward.csv"
    path.write_bytes((bom + line_end.join([HEADER, *AWKWARD]) + line_end).encode())

    ahead = _sheets(path)
    monkeypatch.setattr(csv_reader, "_read_ahead", _synchronous)
    in_turn = _sheets(path)

    _same_sheets(ahead, in_turn)
    assert len(ahead) > 5  # many slices, so unreadable rows fall in several of them
    numbers = np.concatenate([sheet.row_numbers for sheet in ahead])
    refused = sorted({error.row for sheet in ahead for error in sheet.read_errors})
    assert refused and not set(refused) & set(numbers.tolist())
    # Row numbers keep increasing from slice to slice.
    assert numbers.min() == 2 and np.all(np.diff(numbers) > 0)


def _read_ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "csv-read-ahead"]


def test_leaving_after_the_first_slice_stops_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("\n".join([HEADER, *_rows(2_000)]) + "\n")
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None

    first = next(slices)
    assert len(first.frame) > 0
    assert _read_ahead_threads()  # parsing the next slice meanwhile
    slices.close()

    assert not _read_ahead_threads()


def test_a_file_unreadable_part_way_is_refused_after_its_readable_slices(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    # A record longer than a block (a slice's bytes here) cannot be parsed.
    too_long = f"2025-01-14T11:00:00Z,MACHINE-A01,temperature,1.0,{'x' * 4 * SLICE_BYTES},100"
    path.write_text("\n".join([HEADER, *_rows(200), too_long, *_rows(5)]) + "\n")
    slices = read_csv_file_in_slices(path, path.name, from_bytes=0, slice_bytes=SLICE_BYTES)
    assert slices is not None

    read: list[TextSheet] = []
    with pytest.raises(UnreadableFileError) as refused:
        read.extend(slices)

    assert len(read) > 1
    assert "not a readable CSV file" in refused.value.reason
    assert not _read_ahead_threads()


def _whole(path: Path, from_disk: bool) -> TextSheet:
    if from_disk:
        return csv_reader.read_csv_file(path, path.name)
    return csv_reader.read_csv(path.read_bytes(), path.name)


@pytest.mark.parametrize("from_disk", [True, False])
@pytest.mark.parametrize("rows", [AWKWARD, _rows(500)], ids=["awkward", "clean"])
def test_a_file_read_whole_on_threads_is_the_file_read_single_threaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, from_disk: bool, rows: list[str]
) -> None:
    # Streamed from the disk whatever its size, in small blocks: many blocks for the threads.
    monkeypatch.setattr(csv_reader, "STREAM_FROM_BYTES", 0)
    monkeypatch.setattr(csv_reader, "READ_BLOCK_BYTES", SLICE_BYTES)
    path = tmp_path / "file.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([HEADER, *rows]) + "\r\n").encode())

    threaded = _whole(path, from_disk)
    monkeypatch.setattr(csv_reader, "PARSE_WITH_THREADS", False)
    single = _whole(path, from_disk)

    _same_sheets([threaded], [single])
    assert bool(threaded.read_errors) == (rows is AWKWARD)
    assert len(threaded.frame) > 10
