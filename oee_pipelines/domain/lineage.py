"""Lineage of a snapshot: the source systems and ingest runs of the readings inside its window.

A snapshot's figures come from the machine-state and counter readings of its machine time-stamped in
`[window_start, snapshot_time]` (a counter at `ts` counts the pieces of `(ts - interval, ts]`; both
ends are taken, so the lineage is never short of a contributor), and from the machine-state reading
in effect at `window_start` (the last one at or before it: states are sent on change only).
`source_systems` and `ingest_runs` are the sorted distinct `source_system` and `ingest_run_id` values
of those readings; a reading without an ingest run id (written outside any run) adds none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.intervals import to_utc_datetimes
from oee_pipelines.domain.telemetry import MACHINE_STATE

LINEAGE_COLUMNS = ["source_systems", "ingest_runs"]
_KEYS = ["machine_id", "window_start"]


def _sorted_unique_per_window(placed: pd.DataFrame, column: str) -> pd.Series:
    """Per (machine_id, window_start), the sorted distinct non-empty texts of `column`'s non-null values.

    A window without any is left out (the caller gives it an empty list). The pairs are de-duplicated
    before they are grouped: a window holds thousands of readings but only a few distinct values.
    """
    values = placed[column]
    present = values.notna().to_numpy()
    pairs = placed.loc[present, _KEYS].assign(_text=values[present].map(str).to_numpy())
    pairs = pairs[pairs["_text"] != ""].drop_duplicates().sort_values("_text", kind="stable")
    return pairs.groupby(_KEYS, sort=False)["_text"].agg(list)


def window_lineage(snapshots: pd.DataFrame, readings: pd.DataFrame) -> pd.DataFrame:
    """`snapshots` (machine_id, window_start, snapshot_time, ...) with `source_systems` and `ingest_runs`
    (lists of text, empty when no reading lies in the window) appended.

    `readings`: machine_id, ts, source_system, ingest_run_id. The windows must all be as long as the
    first one (the OEE's fixed grid).
    """
    out = snapshots.copy()
    if out.empty:
        for column in LINEAGE_COLUMNS:
            out[column] = pd.Series([], dtype=object)
        return out
    starts = to_utc_datetimes(out["window_start"])
    step = to_utc_datetimes(out["snapshot_time"]).iloc[0] - starts.iloc[0]
    ts = to_utc_datetimes(readings["ts"])
    origin = starts.min()
    index = np.floor((ts - origin) / step)
    on_boundary = (ts - origin) % step == pd.Timedelta(0)
    own = readings.assign(window_start=origin + index * step)
    previous = readings[on_boundary.to_numpy()].assign(window_start=origin + (index[on_boundary] - 1) * step)
    placed = pd.concat(
        [own, previous, _state_in_effect(out.assign(window_start=starts), readings)],
        ignore_index=True,
    )
    if placed.empty:
        lineage = pd.DataFrame(columns=[*_KEYS, *LINEAGE_COLUMNS])
    else:
        lineage = pd.DataFrame(
            {
                "source_systems": _sorted_unique_per_window(placed, "source_system"),
                "ingest_runs": _sorted_unique_per_window(placed, "ingest_run_id"),
            }
        ).reset_index()
    lineage["window_start"] = to_utc_datetimes(lineage["window_start"])
    keyed = out.assign(window_start=starts).merge(lineage, on=_KEYS, how="left")
    for column in LINEAGE_COLUMNS:
        keyed[column] = [value if isinstance(value, list) else [] for value in keyed[column]]
    keyed["window_start"] = out["window_start"].to_numpy()
    return keyed


def _state_in_effect(windows: pd.DataFrame, readings: pd.DataFrame) -> pd.DataFrame:
    """Per window, the last machine-state reading of its machine at or before `window_start`."""
    states = readings[readings["signal"] == MACHINE_STATE].assign(
        ts=lambda frame: to_utc_datetimes(frame["ts"])
    )
    if states.empty:
        return pd.DataFrame(columns=[*_KEYS, "source_system", "ingest_run_id"])
    keys = windows[_KEYS].drop_duplicates().sort_values("window_start", kind="stable")
    # A tie on ts (two sources sending the same state change) keeps the last row only: rare and harmless.
    found = pd.merge_asof(
        keys,
        states[["machine_id", "ts", "source_system", "ingest_run_id"]].sort_values("ts", kind="stable"),
        left_on="window_start",
        right_on="ts",
        by="machine_id",
        direction="backward",
    )
    return found.dropna(subset=["ts"]).drop(columns="ts")
