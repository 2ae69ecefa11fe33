"""The demo's step code made faster (issue 19 item 7) gives the very results of the code it replaced.

Each test runs the former implementation, kept here as the reference, and the current one on the same
frames, including the edge cases the former one handled implicitly (nulls equal to nulls, 0.0 equal to
-0.0, equal timestamps kept in row order, unsorted input, several timestamp representations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain import lineage as lineage_module
from oee_pipelines.domain.intervals import MICROS_PER_SECOND, to_micros, to_utc_datetimes
from oee_pipelines.domain.iot_mapping import parse_timestamps
from oee_pipelines.domain.quality import drop_duplicates
from oee_pipelines_tests.support.iot_timestamps import pandas_parse_timestamps


def _former_duplicate_mask(telemetry: pd.DataFrame, tolerance_seconds: float = 1.0) -> np.ndarray:
    keys = ["machine_id", "signal", "value", "text_value"]
    ts = pd.DatetimeIndex(pd.to_datetime(telemetry["ts"], utc=True)).as_unit("us").asi8
    ordered = telemetry.assign(_ts=ts).sort_values([*keys, "_ts"], kind="stable")
    previous = ordered[keys].shift()
    same = (ordered[keys].eq(previous) | (ordered[keys].isna() & previous.isna())).all(axis=1)
    close = ordered["_ts"].diff() < tolerance_seconds * MICROS_PER_SECOND
    duplicate = pd.Series(False, index=telemetry.index)
    duplicate.loc[ordered.index] = (same & close).to_numpy()
    return duplicate.to_numpy()


def _readings(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-13", tz="UTC")
    ts = start + pd.to_timedelta(rng.integers(0, 60, rows) * 400_000, unit="us")
    values = rng.choice(np.array([0.0, -0.0, 1.5, 2.0, np.nan]), rows)
    texts = rng.choice(np.array(["RUNNING", "STOPPED", None, np.nan], dtype=object), rows)
    return pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": rng.choice(["MACHINE-001", "MACHINE-002"], rows),
            "signal": rng.choice(["temperature", "machine_state"], rows),
            "ts": ts,
            "value": values,
            "text_value": texts,
            "quality": 100,
        },
        index=rng.permutation(np.arange(10, 10 + rows)),  # an index that is not 0..n-1
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_drop_duplicates_removes_exactly_the_readings_the_former_rule_removed(seed: int) -> None:
    readings = _readings(400, seed)
    expected = _former_duplicate_mask(readings)
    assert 0 < expected.sum() < len(readings)  # the data holds duplicates and kept readings

    result = drop_duplicates(readings)

    pd.testing.assert_frame_equal(result.frame, readings[~expected])
    assert result.counts == {"readings": len(readings), "duplicates": int(expected.sum())}
    assert result.alerts["metric_value"].sum() == expected.sum()


def test_drop_duplicates_keeps_the_first_of_equal_timestamps_and_handles_tiny_frames() -> None:
    stamp = pd.Timestamp("2025-01-13 08:00", tz="UTC")
    readings = pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": ["M", "M", "M"],
            "signal": ["s", "s", "s"],
            "ts": [stamp, stamp, stamp + pd.Timedelta(seconds=1)],
            "value": [-0.0, 0.0, 0.0],
            "text_value": [None, np.nan, None],
            "quality": 100,
        }
    )

    assert drop_duplicates(readings).frame.index.tolist() == [0, 2]
    assert drop_duplicates(readings.iloc[:1]).frame.index.tolist() == [0]
    assert drop_duplicates(readings.iloc[:0]).counts["duplicates"] == 0


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(pd.date_range("2025-01-13", periods=6000, freq="s", tz="UTC")),
        pd.Series(pd.date_range("2025-01-13", periods=6000, freq="s", tz="Europe/Berlin")),
        pd.Series(pd.date_range("2025-01-13", periods=6000, freq="s")),
        pd.Series(["2025-01-13T00:00:00Z", "2025-01-13T01:00:00+01:00"] * 40),
    ],
)
def test_to_micros_and_utc_datetimes_equal_pandas_to_datetime(values: pd.Series) -> None:
    expected = pd.to_datetime(values, utc=True)

    pd.testing.assert_series_equal(to_utc_datetimes(values), expected)
    assert (to_micros(values) == pd.DatetimeIndex(expected).as_unit("us").asi8).all()


def _former_window_lineage(snapshots: pd.DataFrame, readings: pd.DataFrame) -> pd.DataFrame:
    def sorted_unique(values: pd.Series) -> list[str]:
        return sorted({str(value) for value in values.dropna() if str(value)})

    keys = ["machine_id", "window_start"]
    out = snapshots.copy()
    starts = pd.to_datetime(out["window_start"], utc=True)
    step = pd.to_datetime(out["snapshot_time"], utc=True).iloc[0] - starts.iloc[0]
    ts = pd.to_datetime(readings["ts"], utc=True)
    origin = starts.min()
    index = np.floor((ts - origin) / step)
    on_boundary = (ts - origin) % step == pd.Timedelta(0)
    own = readings.assign(window_start=origin + index * step)
    previous = readings[on_boundary.to_numpy()].assign(window_start=origin + (index[on_boundary] - 1) * step)
    placed = pd.concat(
        [own, previous, lineage_module._state_in_effect(out.assign(window_start=starts), readings)],
        ignore_index=True,
    )
    grouped = placed.groupby(keys, sort=False)
    lineage = pd.DataFrame(
        {
            "source_systems": grouped["source_system"].agg(sorted_unique),
            "ingest_runs": grouped["ingest_run_id"].agg(sorted_unique),
        }
    ).reset_index()
    lineage["window_start"] = pd.to_datetime(lineage["window_start"], utc=True)
    keyed = out.assign(window_start=starts).merge(lineage, on=keys, how="left")
    for column in lineage_module.LINEAGE_COLUMNS:
        keyed[column] = [value if isinstance(value, list) else [] for value in keyed[column]]
    keyed["window_start"] = out["window_start"].to_numpy()
    return keyed


@pytest.mark.parametrize("seed", [4, 5])
def test_window_lineage_lists_what_the_former_grouping_listed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2025-01-13", tz="UTC")
    machines = ["MACHINE-001", "MACHINE-002", "MACHINE-003"]
    starts = pd.date_range(day, periods=96, freq="15min")
    snapshots = pd.DataFrame(
        {
            "machine_id": np.repeat(machines, len(starts)),
            "window_start": np.tile(starts, len(machines)),
        }
    )
    snapshots["snapshot_time"] = snapshots["window_start"] + pd.Timedelta(minutes=15)
    rows = 3000
    readings = pd.DataFrame(
        {
            "machine_id": rng.choice([*machines[:2], "MACHINE-009"], rows),  # MACHINE-003 reads nothing
            # Whole minutes in the first 20 hours: boundaries included, the last hours empty.
            "ts": day + pd.to_timedelta(rng.integers(0, 20 * 60, rows), unit="min"),
            "signal": rng.choice(["machine_state", "pieces_good"], rows),
            "source_system": rng.choice(np.array(["mqtt", "pi", "aveva", "", None], dtype=object), rows),
            "ingest_run_id": rng.choice(np.array(["run-b", "run-a", None, np.nan], dtype=object), rows),
        }
    )

    result = lineage_module.window_lineage(snapshots, readings)

    pd.testing.assert_frame_equal(result, _former_window_lineage(snapshots, readings))
    assert result["source_systems"].map(len).max() > 1  # windows with several sources are compared
    assert (result["ingest_runs"].map(len) == 0).any()


@pytest.mark.parametrize(
    "stamps",
    [
        # The simulator's and most sensors' shape: the fast path.
        ["2025-01-13T08:00:00.123456Z", "2025-01-13T08:00:00Z", "2025-01-13T08:00:00.5Z"] * 20,
        # One impossible date in the batch: the whole batch goes to pandas, which makes it NaT.
        ["2025-01-13T08:00:00.123456Z", "2025-02-30T00:00:00.000000Z", "2025-01-13T23:59:60Z"],
        # Shapes outside the fast path: offsets, no zone, a space, 7 digits, old years, not a time.
        [
            "2025-01-13T09:00:00+01:00",
            "2025-01-13T08:00:00",
            "2025-01-13 08:00:00Z",
            "2025-01-13T08:00:00.1234567Z",
            "1500-01-13T08:00:00Z",
            "junk",
        ],
        # Mixed with epoch numbers and missing values.
        ["2025-01-13T08:00:00.000001Z", 1736755200, 1736755200123.0, None, np.nan, "2025-01-13T08:00:00Z"],
    ],
)
def test_parse_timestamps_reads_what_the_pandas_only_parse_read(stamps: list[object]) -> None:
    raw_ts = pd.Series(stamps, dtype=object, index=np.arange(100, 100 + len(stamps)))

    pd.testing.assert_series_equal(parse_timestamps(raw_ts), pandas_parse_timestamps(raw_ts))


def test_window_lineage_without_any_source_or_run_gives_empty_lists_as_before() -> None:
    day = pd.Timestamp("2025-01-13", tz="UTC")
    snapshots = pd.DataFrame(
        {"machine_id": ["M"] * 4, "window_start": pd.date_range(day, periods=4, freq="15min")}
    )
    snapshots["snapshot_time"] = snapshots["window_start"] + pd.Timedelta(minutes=15)
    readings = pd.DataFrame(
        {
            "machine_id": ["M", "M"],
            "ts": [day, day + pd.Timedelta(minutes=20)],
            "signal": ["machine_state", "pieces_good"],
            "source_system": [None, ""],
            "ingest_run_id": [None, None],
        }
    )

    result = lineage_module.window_lineage(snapshots, readings)

    pd.testing.assert_frame_equal(result, _former_window_lineage(snapshots, readings))
    assert result["source_systems"].tolist() == [[], [], [], []]
