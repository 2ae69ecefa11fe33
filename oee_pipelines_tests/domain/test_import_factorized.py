"""`cells._factorized` numbers values as `pd.factorize` does, also on its shortcut for values that are
all new and in order (a log's times, and the key codes combined from them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain.imports import cells

SECONDS = np.datetime64("2025-10-01T00:00:00", "us") + np.arange(500) * 1_000_000


def times(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(values).tz_localize("UTC"))


def with_missing_first() -> pd.Series:
    series = times(SECONDS)
    series.iloc[0] = pd.NaT
    return series


@pytest.mark.parametrize(
    "values",
    [
        times(SECONDS),  # strictly increasing: the shortcut
        with_missing_first(),  # a missing time sorts first: factorize gives it -1
        times(np.repeat(SECONDS, 2)),  # in order with repeats
        times(SECONDS[::-1].copy()),  # out of order
        np.arange(1000, dtype=np.int64) * 7,  # combined key codes, in order
        np.array([5, 3, 3, 9], dtype=np.int64),
    ],
    ids=["increasing", "missing-first", "repeats", "descending", "codes", "unordered-codes"],
)
def test_numbers_values_as_pandas_factorize(values: pd.Series | np.ndarray) -> None:
    codes, uniques = cells._factorized(values)
    expected_codes, expected_uniques = pd.factorize(values)
    assert np.array_equal(codes, expected_codes)
    as_numbers = uniques.asi8 if isinstance(uniques, pd.DatetimeIndex) else np.asarray(uniques)
    expected = (
        pd.DatetimeIndex(expected_uniques).asi8
        if isinstance(values, pd.Series)
        else np.asarray(expected_uniques)
    )
    assert np.array_equal(as_numbers, expected)


def test_the_shortcut_keeps_no_view_of_the_column() -> None:
    column = np.arange(10, dtype=np.int64)
    _, uniques = cells._factorized(column)
    column[0] = 99  # the codebook keeps `uniques`: changing the slice later must not change them
    assert np.asarray(uniques)[0] == 0
