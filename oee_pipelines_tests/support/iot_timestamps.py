"""The IoT mapping's timestamp parse as it was before its fast paths: the tests' reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.iot_mapping import EPOCH_MILLISECONDS_FROM, OFFSET_SUFFIX


def pandas_parse_timestamps(raw_ts: pd.Series) -> pd.Series:
    """`parse_timestamps` as it was before any fast path: pandas alone, the reference its fast paths match."""
    kinds = raw_ts.map(type)
    is_number = kinds.isin((int, float)).to_numpy()
    is_text = kinds.isin((str,)).to_numpy()
    parsed = pd.Series(pd.NaT, index=raw_ts.index, dtype="datetime64[ns, UTC]")
    if is_text.any():
        texts = raw_ts[is_text].astype(str)
        in_utc = texts.str.endswith("Z").to_numpy()
        with_offset = in_utc if in_utc.all() else texts.str.contains(OFFSET_SUFFIX, regex=True).to_numpy()
        for group in (texts[with_offset], texts[~with_offset]):
            if len(group):
                parsed[group.index] = pd.to_datetime(group, utc=True, format="ISO8601", errors="coerce")
    if is_number.any():
        numbers = raw_ts[is_number].astype(np.float64)
        seconds = numbers.where(numbers.abs() < EPOCH_MILLISECONDS_FROM, numbers / 1000.0)
        parsed[is_number] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    return parsed
