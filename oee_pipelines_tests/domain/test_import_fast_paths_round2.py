"""The second round of import shortcuts (issue 19) gives exactly what the paths they skip gave.

Each shortcut is compared with the path it avoids on the same awkward input: `clean_text` keeping a
column whose cells' edges are all printable ASCII, whole-number cells parsed without the regex,
the zone of a timestamp read from its bytes, a codebook numbering values that come in order, the
UTF-8 check skipping ASCII chunks, and the day lookup's first row of each day.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.connectors.files import encodings
from oee_pipelines.domain.imports import cells
from oee_pipelines.services.imports import landings

PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
EDGE_CELLS = [
    "a", "ab", "a b", " a", "a ", "\ta", "a\t", "a\n", "\r\na", "\u00a0a", "a\u00a0", "a\u3000", "\u2003a",
    "é", "aé", "éa", "a\u0085", "x\x1f", "\x7fx", "", "   ", None, "MACHINE-001", "50.123", "~!", "a\x0b",
]  # fmt: skip


def _slow_clean_text(monkeypatch: pytest.MonkeyPatch, series: pd.Series) -> pd.Series:
    with monkeypatch.context() as patched:
        patched.setattr(cells, "_may_need_cleaning", lambda _: True)
        return cells.clean_text(series)


def _columns(rng: np.random.Generator) -> list[list[str | None]]:
    """Columns of printable cells, each with at most one awkward cell somewhere."""
    printable = ["MACHINE-001", "temperature", "50.5", "x", "2025-10-01T00:00:00Z", "a-b", "Ü-1"[1:]]
    columns: list[list[str | None]] = [list(rng.choice(printable, 50)) for _ in range(3)]
    for edge in EDGE_CELLS:
        column: list[str | None] = list(rng.choice(printable, 50))
        column[int(rng.integers(0, 50))] = edge
        columns.append(column)
    return columns


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()])
def test_clean_text_keeps_exactly_the_columns_the_full_check_keeps(
    monkeypatch: pytest.MonkeyPatch, arrow_type: pa.DataType
) -> None:
    kept = changed = 0
    for column in _columns(np.random.default_rng(3)):
        # Several chunks, the later ones slices of a larger array (a non-zero offset into its buffers).
        whole = pa.array(["padding", *column, "padding"], arrow_type)
        chunked = pa.chunked_array([whole.slice(1, 20), whole.slice(21, len(column) - 20)])
        series = pd.Series(pd.arrays.ArrowStringArray(chunked))

        fast, slow = cells.clean_text(series), _slow_clean_text(monkeypatch, series)

        pd.testing.assert_series_equal(fast, slow)
        assert fast.tolist() == slow.tolist()
        shortcut = not cells._may_need_cleaning(chunked)
        kept += shortcut
        changed += not shortcut
        if shortcut:  # what the shortcut keeps, the full check would have kept unchanged too
            assert [value.strip() or None for value in column] == column  # type: ignore[union-attr]
    assert kept >= 3 and changed >= 10


def test_clean_text_of_an_all_missing_or_empty_column_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    for values in ([None, None], ["", ""], [], ["", None, " "]):
        series = pd.Series(values, dtype=cells.TEXT_DTYPE)
        pd.testing.assert_series_equal(cells.clean_text(series), _slow_clean_text(monkeypatch, series))


def _same_floats(first: np.ndarray, second: np.ndarray) -> bool:
    return bool(np.array_equal(first.view(np.int64), second.view(np.int64)))


@pytest.mark.parametrize(
    "values",
    [
        ["100", "50", "0", "007", "123456789012345"],  # whole numbers only: no regex at all
        ["100", "50", "1234567890123456", "99999999999999999999", "-0", "+5", "", None, "5"],
        ["50.125", "-1.5", "3", "0.000", "1e5", ".5", "5.", "-", "--1", "1-2", "١٢", "12 "],
        ["-0", "-00", "-0.0", "-0.10", "-01", "0"],
        ["1.5", "2.25", "3.125"],  # decimals only: the regex over the whole column
    ],
)
def test_numbers_without_the_regex_are_what_pandas_gives(values: list[str | None]) -> None:
    text = cells.clean_text(pd.Series(values, dtype=cells.TEXT_DTYPE))

    numbers, bad = cells.parse_numbers(text)

    expected = cells._pandas_numbers(text)
    assert _same_floats(numbers, expected)
    assert np.array_equal(bad, cells.present(text) & ~np.isfinite(expected))


def test_plain_decimals_match_the_regex_cell_for_cell() -> None:
    rng = np.random.default_rng(11)
    alphabet = list("0123456789.-+e ")
    written = ["".join(rng.choice(alphabet, rng.integers(0, 18))) for _ in range(5_000)]
    column = pa.chunked_array([pa.array([*written, None, "", "0" * 15, "0" * 16], pa.large_string())])

    fast = cells._plain_decimals(column)

    expected = [
        cell is not None and len(cell) <= cells.FAST_NUMBER_CHARS and bool(PLAIN_DECIMAL.fullmatch(cell))
        for cell in column.to_pylist()
    ]
    assert fast.tolist() == expected
    assert fast.any() and (~fast).any()


@pytest.mark.parametrize(
    "values",
    [
        ["2025-10-01T00:00:00Z", "2025-10-01T00:00:01+02:00", "2025-10-01T00:00:02-05:30"],  # all aware
        ["2025-10-01 00:00:00", "2025-10-01T00:00:01", "2025-10-01 00:00:02.5"],  # all wall-clock
        ["2025-10-01T00:00:00Z", "2025-10-01 00:00:01", None, "", "x", "2025-10-01T00:00:02+01:00"],
        ["2025-03-30 02:30:00", "2025-10-26 02:30:00", "2025-10-26T02:30:00+01:00", "2025-02-30 10:00"],
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_timestamp_zones_read_from_bytes_are_what_pandas_gives(values: list[str | None], zone: str) -> None:
    # Two chunks, the second a slice with an offset into its buffers.
    whole = pa.array(["pad", *values], pa.large_string())
    text = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([whole.slice(1, 1), whole.slice(2)])))
    text = cells.clean_text(text)

    stamps, reasons = cells.parse_timestamps(text, zone)

    expected, why = cells._pandas_timestamps(text, zone, None)
    assert stamps.astype(cells.UTC_MICROS).tolist() == expected.astype(cells.UTC_MICROS).tolist()
    assert reasons.tolist() == why.tolist()


def test_codes_of_values_in_order_are_the_searched_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    # In order, then a slice going back in time, then in order again past everything.
    parts = [
        np.arange(0, 1_000, 3),
        np.arange(3_000, 4_000, 2),
        rng.integers(0, 5_000, 700),
        np.arange(5_000, 6_000),
        np.array([6_000, 6_000, 6_001]),
    ]
    fast_book = cells.Codebook()
    fast = [fast_book.codes(part.astype(np.int64)) for part in parts]
    with monkeypatch.context() as patched:
        patched.setattr(cells, "_all_after", lambda numbers, known: False)
        slow_book = cells.Codebook()
        slow = [slow_book.codes(part.astype(np.int64)) for part in parts]

    for got, expected in zip(fast, slow, strict=True):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("in_order", [True, False])
def test_duplicates_of_logs_in_order_are_the_searched_ones(
    monkeypatch: pytest.MonkeyPatch, in_order: bool
) -> None:
    rng = np.random.default_rng(4)
    size = 3_000
    seconds = np.arange(size) if in_order else rng.integers(0, size // 2, size)
    stamps = pd.Series(pd.to_datetime(seconds, unit="s", utc=True).astype(cells.UTC_MICROS))
    machines = pd.Series(rng.choice(["M1", "M2"], size), dtype=cells.TEXT_DTYPE)
    signals = pd.Series(rng.choice(["t", "p"], size), dtype=cells.TEXT_DTYPE)
    rows = np.arange(2, size + 2)

    def found() -> list[tuple[np.ndarray, np.ndarray]]:
        finder = cells.DuplicateFinder(3)
        return [
            finder.find([machines[part], signals[part], stamps[part]], rows[part])
            for part in (slice(0, 1_000), slice(1_000, 2_000), slice(2_000, size))
        ]

    fast = found()
    with monkeypatch.context() as patched:
        patched.setattr(cells, "_all_after", lambda numbers, known: False)
        slow = found()
    for (repeated, first), (expected_repeated, expected_first) in zip(fast, slow, strict=True):
        assert np.array_equal(repeated, expected_repeated)
        assert np.array_equal(first, expected_first)
    assert any(repeated.any() for repeated, _ in fast) != in_order


@pytest.mark.parametrize(
    "content",
    [
        b"a,b\n" * 10,
        "é".encode() + b"a,b\n" * 10,
        b"abc" + "€".encode() + b"x" * 20,  # a character across the first chunks' edge
        b"abcd" + "€".encode()[:2] + b"x" * 20,  # cut short, then ASCII: not UTF-8
        b"x" * 20 + b"\xff" + b"y" * 5,
        b"x" * 15 + "é".encode()[:1],  # cut short at the very end
        b"\xef\xbb\xbfa,b\n" + b"c,d\n" * 5,
    ],
)
def test_the_ascii_shortcut_of_the_utf8_check_agrees_with_decoding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes
) -> None:
    monkeypatch.setattr(encodings, "_UTF8_CHECK_BYTES", 5)
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    try:
        content.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False

    assert encodings.is_utf8_file(path) is expected
    assert encodings.is_utf8(content) is expected


def _telemetry(seconds: list[int]) -> pa.Table:
    stamps = pa.array(
        np.array(seconds, dtype="datetime64[s]").astype("datetime64[us]"), pa.timestamp("us", "UTC")
    )
    return pa.table({"ts": stamps, "row": pa.array(range(len(seconds)))})


@pytest.mark.parametrize(
    "seconds",
    [
        [0, 10, 86_400, 86_401, 3 * 86_400],  # in day order
        [3 * 86_400, 5, 86_400, 6, 2 * 86_400, 86_401, 4 * 86_400 + 1],  # days out of order
        [],
        [-86_400, -1, 0],  # before 1970
    ],
)
def test_first_row_of_each_day_is_what_dropping_duplicate_days_keeps(seconds: list[int]) -> None:
    rows = _telemetry(seconds)
    days = rows.column("ts").cast(pa.date32()).to_pandas()

    first = landings._first_row_of_each_day(rows)

    assert first.column("row").to_pylist() == days.drop_duplicates().index.tolist()
    assert first.schema == rows.schema


def test_text_codes_of_a_first_column_are_its_factorized_codes() -> None:
    rng = np.random.default_rng(8)
    first = [str(value) if value >= 0 else None for value in rng.integers(-1, 40, 2_000)]
    later = [str(value) if value >= 0 else None for value in rng.integers(-1, 60, 2_000)]
    book = cells.Codebook()
    # Several chunks, as a column read in blocks.
    chunked = pa.chunked_array(
        [pa.array(first[:700], pa.large_string()), pa.array(first[700:], pa.large_string())]
    )

    codes = book.codes(pd.Series(pd.arrays.ArrowStringArray(chunked)))
    again = book.codes(pd.Series(later + first, dtype=cells.TEXT_DTYPE))

    expected, uniques = pd.factorize(pd.Series(first + later + first, dtype=object))
    assert codes.tolist() == expected[: len(first)].tolist()
    assert again.tolist() == expected[len(first) :].tolist()
    assert (codes == -1).any() and len(set(codes.tolist())) == len(set(first) - {None}) + 1
    assert len(uniques) == len(set(first + later) - {None})
