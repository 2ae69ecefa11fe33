"""The vectorised paths of import validation give exactly what the pandas paths gave before them.

Numbers and timestamps written the usual way are parsed by Arrow; every other cell still goes through
pandas (`_pandas_numbers`, `_pandas_timestamps`: the former parsers, unchanged). Duplicates are found
with in-order shortcuts, and sensor logs land through Arrow instead of a pandas frame. Each test feeds
both ways the same awkward cells and compares values bit for bit, reasons text for text.
"""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.domain.imports import ImportReference, cells
from oee_pipelines.domain.imports.sensor_log import SENSOR_LOG
from oee_pipelines.domain.telemetry import to_telemetry_table

NUMBER_CELLS = [
    "-0", "+5", "-00", "0", "-0.0", "-0.000", "1e5", "inf", "nan", "NaN", "1,5", "abc", "12345678901234567",
    "123456789012345", "1234567890123456", "1.5.5", ".5", "5.", "007", "-12.25", "50.123", "0.1", "100",
    "99999999999999.9", "-9007199254740993", "18446744073709551616", "١٢", "1_000", None,
]  # fmt: skip
TIMESTAMP_CELLS = [
    "2025-10-01T00:00:00Z", "2025-10-01 00:00:00", "2025-10-01T12:30", "2025-10-01 12:30Z",
    "2025-10-01 12:30:45.1", "2025-10-01 12:30:45.123456", "2025-10-01 12:30:45.1234567",
    "2025-10-01T12:30:45+02:00", "2025-10-01T12:30:45-05:30", "2025-10-01T12:30:45+14:59",
    "2025-10-01T12:30:45+0200", "2025-10-01T12:30:45 +02:00", "2025-10-01t12:30:45", "2025-10-01",
    "2025-02-29 10:00:00", "2024-02-29 10:00:00", "2025-04-31T00:00:00Z", "2100-02-29 00:00:00",
    "2000-02-29 00:00:00", "2025-13-01 00:00:00", "2025-10-01 24:00:00", "2025-10-01 12:60:00",
    "2025-03-30 02:30:00", "2025-10-26 02:30:00", "2025-03-09 02:30:00", "2025-11-02 01:30:00",
    "2025-10-26T02:30:00+01:00", "1699-12-31 23:59:59", "1700-01-01 00:00:00", "2259-12-31 23:59:59",
    "2262-04-12 00:00:00", "2300-01-01 00:00:00Z", "45000.5", "45000", "abc", "12:30", None,
]  # fmt: skip


REFERENCE = ImportReference(
    org_id="acme", plant_timezone="UTC", machine_ids=frozenset(), line_ids=frozenset()
)


def _text(values: list[str | None]) -> pd.Series:
    return cells.clean_text(pd.Series(values, dtype=cells.TEXT_DTYPE))


def _random_numbers(rng: np.random.Generator, size: int) -> list[str | None]:
    picked: list[str | None] = []
    for _ in range(size):
        kind = rng.integers(0, 5)
        if kind == 0:
            picked.append(NUMBER_CELLS[rng.integers(0, len(NUMBER_CELLS))])
        elif kind == 1:
            picked.append(repr(float(rng.normal(0, 1e6))))
        else:
            digits = "".join(rng.choice(list("0123456789"), rng.integers(1, 17)))
            point = int(rng.integers(0, len(digits) + 1))
            written = digits[:point] + "." + digits[point:] if 0 < point < len(digits) else digits
            picked.append(("-" if rng.random() < 0.3 else "") + written)
    return picked


def _same_floats(first: np.ndarray, second: np.ndarray) -> bool:
    """Equal bit for bit (so -0.0 differs from 0.0), NaN equal to NaN."""
    return bool(np.array_equal(first.view(np.int64), second.view(np.int64)))


@pytest.mark.parametrize("slice_rows", [7, 100_000])
def test_numbers_are_parsed_as_pandas_parsed_them(monkeypatch: pytest.MonkeyPatch, slice_rows: int) -> None:
    monkeypatch.setattr(cells, "PARSE_SLICE_ROWS", slice_rows)
    rng = np.random.default_rng(5)
    # Parts made only of plain decimals and `-0`, so `-0` reads as 0.0 in some and -0.0 in others.
    column = _text([*NUMBER_CELLS, "1", "2", "-0", "3", "4", "5", "6", *_random_numbers(rng, 3_000)])

    numbers, bad = cells.parse_numbers(column)

    expected = cells._pandas_numbers(column)
    assert _same_floats(numbers, expected)
    assert np.array_equal(bad, cells.present(column) & ~np.isfinite(expected))
    assert bad.any() and (~bad).any()


def test_a_negative_zero_reads_as_pandas_read_it_in_its_part() -> None:
    whole_numbers, _ = cells.parse_numbers(_text(["-0", "1"]))
    with_a_decimal, _ = cells.parse_numbers(_text(["-0", "1.5"]))

    assert _same_floats(whole_numbers, np.array([0.0, 1.0]))
    assert _same_floats(with_a_decimal, np.array([-0.0, 1.5]))


def _random_timestamps(rng: np.random.Generator, size: int) -> list[str | None]:
    picked: list[str | None] = []
    for _ in range(size):
        if rng.random() < 0.2:
            picked.append(TIMESTAMP_CELLS[rng.integers(0, len(TIMESTAMP_CELLS))])
            continue
        year, month, day = rng.integers(1690, 2270), rng.integers(1, 13), rng.integers(1, 32)
        written = f"{year:04d}-{month:02d}-{day:02d}{rng.choice(['T', ' '])}"
        written += f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"
        if rng.random() < 0.8:
            written += f":{rng.integers(0, 60):02d}"
            if rng.random() < 0.3:
                written += "." + "".join(rng.choice(list("0123456789"), rng.integers(1, 8)))
        zone = rng.random()
        if zone < 0.3:
            written += "Z"
        elif zone < 0.5:
            written += f"{rng.choice(['+', '-'])}{rng.integers(0, 16):02d}:{rng.integers(0, 60):02d}"
        picked.append(written)
    return picked


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("excel_epoch", [None, datetime(1899, 12, 30)])
def test_timestamps_are_parsed_as_pandas_parsed_them(zone: str, excel_epoch: datetime | None) -> None:
    column = _text(TIMESTAMP_CELLS + _random_timestamps(np.random.default_rng(7), 4_000))

    stamps, reasons = cells.parse_timestamps(column, zone, excel_epoch)

    expected_stamps, expected_reasons = cells._pandas_timestamps(column, zone, excel_epoch)
    expected_stamps = expected_stamps.astype(cells.UTC_MICROS)
    assert stamps.dtype == expected_stamps.dtype
    assert stamps.index.equals(column.index) and reasons.index.equals(column.index)
    assert np.array_equal(stamps.array.asi8, expected_stamps.array.asi8)
    assert reasons.astype(object).where(reasons.notna(), None).tolist() == (
        expected_reasons.astype(object).where(expected_reasons.notna(), None).tolist()
    )
    # The awkward cells reach pandas: each kind of reason is there.
    found = set(reasons.dropna())
    assert any(reason.startswith("not a timestamp") for reason in found)
    if zone != "UTC":
        assert any("daylight-saving" in reason for reason in found)


def _pandas_landing(
    valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None
) -> pa.Table:
    """How sensor logs landed before they landed through Arrow: a pandas frame cast to the schema."""
    valid = valid.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            "site_id": None,
            "line_id": None,
            "machine_id": valid["machine_id"],
            "signal": valid["sensor_type"],
            "ts": valid["timestamp"],
            "value": valid["value"],
            "text_value": None,
            "unit": valid["unit"],
            "quality": valid["quality"].fillna(100).astype(np.int16),
            "source_system": "import",
            "source_ref": file_name,
            "ingest_run_id": run_id,
        }
    )
    return to_telemetry_table(frame)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=256_000)
    return sink.getvalue()


@pytest.mark.parametrize("run_id", [None, "import-7"])
def test_sensor_log_rows_land_as_the_pandas_landing_did(run_id: str | None) -> None:
    size = 500
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2025-10-01", periods=size, freq="37s", tz="UTC").astype(cells.UTC_MICROS)
    valid = pd.DataFrame(
        {
            "timestamp": stamps,
            "machine_id": pd.array(rng.choice(["M-1", "M-2", "M-3"], size), dtype=cells.TEXT_DTYPE),
            "sensor_type": pd.array(rng.choice(["temperature", "speed"], size), dtype=cells.TEXT_DTYPE),
            "value": np.where(rng.random(size) < 0.1, np.nan, rng.normal(50, 5, size)),
            "unit": pd.array(np.where(rng.random(size) < 0.3, None, "degC"), dtype=cells.TEXT_DTYPE),
            "quality": np.where(rng.random(size) < 0.4, np.nan, rng.choice([0.0, 50.0, 100.0], size)),
        },
        # The valid rows of a sheet keep the sheet's index, with the rejected rows' numbers missing.
        index=np.arange(0, 2 * size, 2),
    )
    reference = ImportReference(
        org_id="acme", plant_timezone="UTC", machine_ids=frozenset(), line_ids=frozenset()
    )

    landed = SENSOR_LOG.land(valid, reference, "readings.csv", run_id)

    expected = _pandas_landing(valid, reference, "readings.csv", run_id)
    assert landed.schema == expected.schema and landed.schema.metadata == expected.schema.metadata
    assert landed.equals(expected)
    assert _parquet_bytes(landed) == _parquet_bytes(expected)


def test_an_empty_landing_is_the_pandas_landing() -> None:
    valid = pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype=cells.UTC_MICROS),
            "machine_id": pd.Series([], dtype=cells.TEXT_DTYPE),
            "sensor_type": pd.Series([], dtype=cells.TEXT_DTYPE),
            "value": np.array([], dtype=np.float64),
            "unit": pd.Series([], dtype=cells.TEXT_DTYPE),
            "quality": np.array([], dtype=np.float64),
        }
    )
    reference = ImportReference(
        org_id="acme", plant_timezone="UTC", machine_ids=frozenset(), line_ids=frozenset()
    )

    assert SENSOR_LOG.land(valid, reference, "f.csv", None).equals(
        _pandas_landing(valid, reference, "f.csv", None)
    )


def _first_rows_row_by_row(keys: list[pd.Series], row_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The duplicates, found one row at a time with a dict: the reference."""
    seen: dict[tuple[object, ...], int] = {}
    repeated = np.zeros(len(row_numbers), dtype=bool)
    first = np.zeros(len(row_numbers), dtype=np.int64)
    for position, row in enumerate(row_numbers.tolist()):
        key = tuple(column.iloc[position] for column in keys)
        if any(pd.isna(value) for value in key):
            continue
        if key in seen:
            repeated[position], first[position] = True, seen[key]
        else:
            seen[key] = row
    return repeated, first


@pytest.mark.parametrize("in_order", [True, False])
@pytest.mark.parametrize("slices", [1, 3, 7])
def test_duplicates_across_slices_are_the_row_by_row_ones(in_order: bool, slices: int) -> None:
    size = 3_000
    rng = np.random.default_rng(slices)
    seconds = np.sort(rng.integers(0, size // 2, size)) if in_order else rng.integers(0, size // 2, size)
    stamps = pd.Series(
        pd.DatetimeIndex(np.datetime64("2025-10-01", "us") + seconds * 1_000_000).tz_localize("UTC")
    )
    stamps[rng.random(size) < 0.02] = pd.NaT
    machines = pd.Series(rng.choice(["M-1", "M-2", "M-3"], size), dtype=cells.TEXT_DTYPE)
    machines[rng.random(size) < 0.02] = pd.NA
    sensors = pd.Series(rng.choice(["temperature", "speed"], size), dtype=cells.TEXT_DTYPE)
    row_numbers = np.arange(2, size + 2, dtype=np.int64)
    keys = [machines, sensors, stamps]

    finder = cells.DuplicateFinder(len(keys))
    found = [
        finder.find([column.iloc[part].reset_index(drop=True) for column in keys], row_numbers[part])
        for part in np.array_split(np.arange(size), slices)
    ]
    repeated = np.concatenate([part[0] for part in found])
    first_rows = np.concatenate([part[1] for part in found])

    expected_repeated, expected_first_rows = _first_rows_row_by_row(keys, row_numbers)
    assert repeated.any()
    assert np.array_equal(repeated, expected_repeated)
    assert np.array_equal(first_rows[repeated], expected_first_rows[expected_repeated])


def test_text_codes_number_values_by_first_appearance_across_calls() -> None:
    book = cells.Codebook()
    first = book.codes(pd.Series(["b", None, "a", "b"], dtype=cells.TEXT_DTYPE))
    second = book.codes(pd.Series(["c", "a", None, "d", "c"], dtype=cells.TEXT_DTYPE))

    assert first.tolist() == [0, -1, 1, 0]
    assert second.tolist() == [2, 1, -1, 3, 2]


def test_timestamp_codes_of_a_log_in_order_and_out_of_order_agree() -> None:
    stamps = pd.Series(pd.date_range("2025-10-01", periods=6, freq="s", tz="UTC").astype(cells.UTC_MICROS))
    in_order, shuffled = cells.Codebook(), cells.Codebook()

    assert in_order.codes(stamps.iloc[[0, 0, 1, 2]]).tolist() == [0, 0, 1, 2]
    assert shuffled.codes(stamps.iloc[[2, 0, 2, 1]]).tolist() == [0, 1, 0, 2]
    # Later values, some new, some known: appended in place or inserted, the codes stay put.
    assert in_order.codes(stamps.iloc[[3, 1, 4]]).tolist() == [3, 1, 4]
    assert in_order.codes(stamps.iloc[[5, 4]]).tolist() == [5, 4]
    assert shuffled.codes(stamps.iloc[[5, 3, 0]]).tolist() == [3, 4, 1]
