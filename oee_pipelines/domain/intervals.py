"""Vectorised interval arithmetic for the OEE domain: time as int64 microseconds, groups as bands.

Every interval is half-open `[start, end)`. Intervals of many groups (machines, lines, sites) are
handled in one numpy pass by laying each group on its own band of one time axis
(`group_code * span + (t - origin)`), so no function here loops over rows or groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
_MAX_AXIS = 2**62


def as_utc(value: pd.Timestamp | str | object) -> pd.Timestamp:
    """A timestamp in UTC; a naive one is read as UTC."""
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def to_utc_datetimes(values: pd.Series | pd.Index | Sequence | np.ndarray) -> pd.Series | pd.Index:
    """`pd.to_datetime(values, utc=True)`, without its cache check on values that already are datetimes.

    The check boxes up to 10,000 values as Timestamps on every call, which is wasted on a datetime
    column (the conversion is a cast); the result is the same either way.
    """
    already_datetimes = pd.api.types.is_datetime64_any_dtype(getattr(values, "dtype", None))
    return pd.to_datetime(values, utc=True, cache=not already_datetimes)  # type: ignore[no-any-return]


def to_micros(values: pd.Series | pd.Index | Sequence | np.ndarray) -> np.ndarray:
    """UTC timestamps (tz-aware, naive UTC or ISO strings) as int64 microseconds since the epoch."""
    index = pd.DatetimeIndex(to_utc_datetimes(values))
    return index.as_unit("us").asi8.copy()


def from_micros(values: np.ndarray) -> pd.DatetimeIndex:
    """int64 microseconds back to tz-aware UTC timestamps (unit us)."""
    return pd.DatetimeIndex(np.asarray(values, dtype="int64").astype("datetime64[us]")).tz_localize("UTC")


def group_codes(values: pd.Series | np.ndarray, categories: Sequence | pd.Index) -> np.ndarray:
    """Position of each value in `categories` (-1 where absent or null)."""
    return pd.Categorical(values, categories=pd.Index(categories).unique()).codes.astype(np.int64)


@dataclass(frozen=True)
class TimeAxis:
    """One int64 axis holding a band of `span` microseconds per group, starting at `origin`."""

    origin: int
    span: int

    @classmethod
    def covering(cls, *micros: np.ndarray, groups: int) -> TimeAxis:
        """An axis wide enough for every given time (plus one microsecond) in each of `groups` bands."""
        present = [m for m in micros if len(m)]
        if not present:
            return cls(origin=0, span=2)
        low = min(int(m.min()) for m in present)
        high = max(int(m.max()) for m in present)
        span = high - low + 2
        if span * max(groups, 1) >= _MAX_AXIS:
            raise ValueError(f"time range too wide for {groups} groups: split the range into smaller parts")
        return cls(origin=low, span=span)

    def encode(self, codes: np.ndarray, micros: np.ndarray) -> np.ndarray:
        clipped = np.clip(micros, self.origin, self.origin + self.span - 1)
        return codes.astype(np.int64) * self.span + (clipped - self.origin)

    def decode(self, keys: np.ndarray) -> np.ndarray:
        return keys % self.span + self.origin


def overlapping_pairs(
    starts: np.ndarray, ends: np.ndarray, bin_starts: np.ndarray, bin_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (interval, bin) pair overlapping with positive length, and the overlap.

    Bins must be sorted and must not overlap each other; intervals may be in any order.
    Returns (interval index, bin index, overlap start, overlap end).
    """
    first = np.searchsorted(bin_ends, starts, side="right")
    last = np.searchsorted(bin_starts, ends, side="left") - 1
    counts = np.clip(last - first + 1, 0, None)
    interval_index = np.repeat(np.arange(len(starts)), counts)
    run_offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    bin_index = np.repeat(first, counts) + run_offsets
    overlap_start = np.maximum(starts[interval_index], bin_starts[bin_index])
    overlap_end = np.minimum(ends[interval_index], bin_ends[bin_index])
    keep = overlap_end > overlap_start
    return interval_index[keep], bin_index[keep], overlap_start[keep], overlap_end[keep]


def lookup(query_keys: np.ndarray, sorted_starts: np.ndarray, sorted_ends: np.ndarray) -> np.ndarray:
    """Index of the (sorted, non-overlapping) interval containing each query key, -1 where none."""
    position = np.searchsorted(sorted_starts, query_keys, side="right") - 1
    safe = np.clip(position, 0, None)
    found = (position >= 0) & (query_keys < sorted_ends[safe]) if len(sorted_ends) else position >= 0
    return np.where(found, position, -1)


def paint(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten layers of intervals (on one axis) into non-overlapping pieces, earlier layers on top.

    Each layer is (starts, ends); intervals inside one layer may overlap, the one starting last wins.
    Returns (piece start, piece end, layer index, row index in that layer); adjacent pieces from the
    same row are merged, uncovered time yields no piece.
    """
    points = np.unique(np.concatenate([np.concatenate([s, e]) for s, e in layers] or [np.empty(0, np.int64)]))
    if len(points) < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    seg_starts, seg_ends = points[:-1], points[1:]
    owner_layer = np.full(len(seg_starts), -1, dtype=np.int64)
    owner_row = np.full(len(seg_starts), -1, dtype=np.int64)
    for layer_index in reversed(range(len(layers))):
        starts, ends = layers[layer_index]
        # Rows sorted by start so that, among overlapping rows, the latest start is written last.
        order = np.argsort(starts, kind="stable")
        rows, segments, _, _ = overlapping_pairs(starts[order], ends[order], seg_starts, seg_ends)
        owner_layer[segments] = layer_index
        owner_row[segments] = order[rows]
    covered = owner_layer >= 0
    seg_starts, seg_ends = seg_starts[covered], seg_ends[covered]
    owner_layer, owner_row = owner_layer[covered], owner_row[covered]
    continues = np.zeros(len(seg_starts), dtype=bool)
    continues[1:] = (
        (seg_starts[1:] == seg_ends[:-1])
        & (owner_layer[1:] == owner_layer[:-1])
        & (owner_row[1:] == owner_row[:-1])
    )
    first_of_piece = np.flatnonzero(~continues)
    last_of_piece = np.append(first_of_piece[1:] - 1, len(seg_starts) - 1).astype(np.int64)
    return (
        seg_starts[first_of_piece],
        seg_ends[last_of_piece],
        owner_layer[first_of_piece],
        owner_row[first_of_piece],
    )


def split_by_grid(
    starts: np.ndarray, ends: np.ndarray, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut intervals at multiples of `step` (e.g. 15-minute windows from the epoch).

    Returns (interval index, window start, piece start, piece end).
    """
    first = starts // step
    last = (ends - 1) // step
    counts = np.clip(last - first + 1, 0, None)
    interval_index = np.repeat(np.arange(len(starts)), counts)
    run_offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    window_start = (np.repeat(first, counts) + run_offsets) * step
    piece_start = np.maximum(starts[interval_index], window_start)
    piece_end = np.minimum(ends[interval_index], window_start + step)
    return interval_index, window_start, piece_start, piece_end


def flatten_latest(frame: pd.DataFrame, group: str, start: str = "start", end: str = "end") -> pd.DataFrame:
    """Non-overlapping pieces of possibly overlapping intervals per group; the latest start wins.

    Returns the rows of `frame` repeated per piece, with `start`/`end` replaced by the piece bounds.
    """
    if frame.empty:
        return frame.iloc[0:0].copy()
    groups = frame[group].unique()
    codes = group_codes(frame[group], groups)
    starts, ends = to_micros(frame[start]), to_micros(frame[end])
    axis = TimeAxis.covering(starts, ends, groups=len(groups))
    piece_starts, piece_ends, _, rows = paint([(axis.encode(codes, starts), axis.encode(codes, ends))])
    result = frame.iloc[rows].reset_index(drop=True)
    result[start] = from_micros(axis.decode(piece_starts))
    result[end] = from_micros(axis.decode(piece_ends))
    return result


def overlap_join(left: pd.DataFrame, right: pd.DataFrame, on: str, suffix: str = "_right") -> pd.DataFrame:
    """Pairs of `left` and `right` rows with equal `on` whose `[start, end)` overlap, cut to the overlap.

    `right` must not overlap itself within one `on` value (flatten it first).
    The result holds the left columns, the right columns (clashing names get `suffix`), and
    `start`/`end` replaced by the overlap.
    """
    keys = pd.Index(pd.concat([left[on], right[on]]).unique())
    left_codes, right_codes = group_codes(left[on], keys), group_codes(right[on], keys)
    left_starts, left_ends = to_micros(left["start"]), to_micros(left["end"])
    right_starts, right_ends = to_micros(right["start"]), to_micros(right["end"])
    axis = TimeAxis.covering(left_starts, left_ends, right_starts, right_ends, groups=len(keys))
    right_start_keys = axis.encode(right_codes, right_starts)
    order = np.argsort(right_start_keys, kind="stable")
    left_index, right_pos, overlap_start, overlap_end = overlapping_pairs(
        axis.encode(left_codes, left_starts),
        axis.encode(left_codes, left_ends),
        right_start_keys[order],
        axis.encode(right_codes, right_ends)[order],
    )
    valid = left_codes[left_index] >= 0
    left_part = left.iloc[left_index[valid]].reset_index(drop=True)
    right_part = right.iloc[order[right_pos[valid]]].reset_index(drop=True)
    right_part = right_part.drop(columns=[on, "start", "end"])
    right_part.columns = [c + suffix if c in left_part.columns else c for c in right_part.columns]
    joined = pd.concat([left_part, right_part], axis=1)
    joined["start"] = from_micros(axis.decode(overlap_start[valid]))
    joined["end"] = from_micros(axis.decode(overlap_end[valid]))
    return joined


def merge_adjacent(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Join rows with equal `keys` whose intervals touch (`end == next start`) into one row."""
    if frame.empty:
        return frame.copy()
    ordered = frame.sort_values([*keys, "start"], kind="stable").reset_index(drop=True)
    previous = ordered[keys].shift()
    same_keys = (ordered[keys].eq(previous) | (ordered[keys].isna() & previous.isna())).all(axis=1)
    touches = ordered["start"].eq(ordered["end"].shift())
    run = (~(same_keys & touches)).cumsum()
    merged = ordered.groupby(run, sort=False).agg({**{c: "first" for c in ordered.columns}, "end": "last"})
    return merged.reset_index(drop=True)


def silences(
    codes: np.ndarray, micros: np.ndarray, max_gap: np.ndarray, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaps between consecutive readings of a group longer than that group's `max_gap`.

    `codes` index `max_gap` (one threshold per group, microseconds); readings with code -1 are
    ignored. The range bounds count as readings for a group with none before `start` (or after
    `end`), so a group silent since the range began has a gap from `start`.
    Returns (group code, gap start, gap end).
    """
    groups = len(max_gap)
    keep = codes >= 0
    codes, micros = codes[keep], micros[keep]
    first = np.full(groups, np.iinfo(np.int64).max)
    last = np.full(groups, np.iinfo(np.int64).min)
    np.minimum.at(first, codes, micros)
    np.maximum.at(last, codes, micros)
    every_group = np.arange(groups)
    lead, trail = first > start, last < end
    codes = np.concatenate([codes, every_group[lead], every_group[trail]])
    micros = np.concatenate([micros, np.full(lead.sum(), start), np.full(trail.sum(), end)])
    order = np.lexsort((micros, codes))
    codes, micros = codes[order], micros[order]
    is_gap = (codes[1:] == codes[:-1]) & (np.diff(micros) > max_gap[codes[1:]])
    return codes[1:][is_gap], micros[:-1][is_gap], micros[1:][is_gap]
