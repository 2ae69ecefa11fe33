"""Issue 19, third round of import shortcuts, each compared with the path it replaces:

- a large UTF-8 CSV is checked for UTF-8 once for its first pass, not twice (the probe that decided it
  can be streamed is that first pass), and every pass gives the same slices;
- the UTC day of each landed row is its microseconds divided by a day's, not a `date32` cast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.connectors.files import encodings
from oee_pipelines.connectors.files.slices import open_in_slices
from oee_pipelines.services.imports.landings import utc_day_numbers

HEADER = "timestamp,machine_id,sensor_type,value,unit,quality"
MICROS_PER_DAY = 86_400_000_000


def _sensor_log(path: Path, rows: int, bom: bool = False) -> None:
    lines = [
        f"2025-10-01T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}Z,M-{index % 3},"
        f"temperature,{index}.5,degC,100"
        for index in range(rows)
    ]
    text = "\n".join([HEADER, *lines, "bad,row,with,too,many,cells,here"]) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())


def _frames(sheets: list) -> pd.DataFrame:
    return pd.concat([sheet.frame.assign(row=sheet.row_numbers) for sheet in sheets], ignore_index=True)


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("named", [None, "utf-8"])
def test_the_first_pass_checks_utf8_once_and_every_pass_reads_alike(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bom: bool, named: str | None
) -> None:
    path = tmp_path / "sensor_log.csv"
    _sensor_log(path, 2_000, bom)
    checks: list[Path] = []
    real_check = encodings.is_utf8_file

    def counted(file: Path, encoding: str | None = None) -> bool:
        checks.append(file)
        return real_check(file, encoding)

    monkeypatch.setattr(encodings, "is_utf8_file", counted)
    sliced = open_in_slices(path, encoding=named, from_bytes=0, slice_bytes=4096)
    assert sliced is not None
    with sliced:
        first = list(sliced.slices())
        assert checks == [path]  # the probe's check, none again for the first pass
        second = list(sliced.slices())
        assert checks == [path, path]  # a later pass reads the file anew
        third = list(sliced.slices())

    assert len(first) > 3
    for later in (second, third):
        assert [len(sheet.frame) for sheet in later] == [len(sheet.frame) for sheet in first]
        assert [sheet.read_errors for sheet in later] == [sheet.read_errors for sheet in first]
        assert [dict(sheet.details) for sheet in later] == [dict(sheet.details) for sheet in first]
        pd.testing.assert_frame_equal(_frames(later), _frames(first))
    assert sum(len(sheet.read_errors) for sheet in first) == 1  # the row with too many cells


def test_a_file_that_cannot_be_streamed_is_not_a_probe(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_bytes(
        (HEADER + "\n2025-10-01T00:00:00Z,M-1,temperature,1.5,degC,100").encode()
    )  # no final newline
    sliced = open_in_slices(path, from_bytes=0, slice_bytes=4096)
    assert sliced is not None  # transcoded to a temporary UTF-8 copy instead
    with sliced:
        assert [len(sheet.frame) for sheet in sliced.slices()] == [1]
        assert [len(sheet.frame) for sheet in sliced.slices()] == [1]


def _date32_days(timestamps: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(pc.cast(timestamps, pa.date32()), pa.int32()).to_numpy(), dtype=np.int64)


def test_utc_days_are_the_date32_cast() -> None:
    rng = np.random.default_rng(19)
    edges = np.array([0, -1, 1, MICROS_PER_DAY - 1, MICROS_PER_DAY, -MICROS_PER_DAY, -MICROS_PER_DAY - 1])
    # From 1700 to 2260, around midnights and anywhere.
    anywhere = rng.integers(-8_520_000_000_000_000, 9_200_000_000_000_000, 20_000)
    midnights = rng.integers(-98_000, 106_000, 5_000) * MICROS_PER_DAY + rng.integers(-2, 3, 5_000)
    micros = np.concatenate([edges, anywhere, midnights])
    whole = pa.array(micros, pa.timestamp("us", tz="UTC"))
    chunked = pa.chunked_array([whole.slice(0, 7), whole.slice(7, 10_000), whole.slice(10_007)])

    assert np.array_equal(utc_day_numbers(chunked), _date32_days(chunked))
    assert np.array_equal(utc_day_numbers(whole), _date32_days(pa.chunked_array([whole])))


def test_other_timestamp_types_keep_the_cast() -> None:
    seconds = pa.chunked_array([pa.array([-1, 0, 86_399, 86_400], pa.timestamp("s", tz="UTC"))])
    assert utc_day_numbers(seconds).tolist() == [-1, 0, 0, 1]
