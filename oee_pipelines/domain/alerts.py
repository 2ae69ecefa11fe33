"""Rows for the `data_quality_alerts` table, built the same way by every data-quality rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

ALERT_COLUMNS = [
    "org_id",
    "machine_id",
    "alert_type",
    "timestamp_utc",
    "metric_name",
    "metric_value",
    "expected_min",
    "expected_max",
    "severity",
    "details",
    "partition_date",
]

OUT_OF_RANGE = "OUT_OF_RANGE"
DUPLICATE = "DUPLICATE"
GAP = "GAP"
LOW_COMPLETENESS = "LOW_COMPLETENESS"
PERFORMANCE_ABOVE_LIMIT = "PERFORMANCE_ABOVE_LIMIT"
UNKNOWN_TIME = "UNKNOWN_TIME"
UNKNOWN_REASON_CODE = "UNKNOWN_REASON_CODE"


def empty_alerts() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in ALERT_COLUMNS})
    frame["timestamp_utc"] = pd.Series(dtype="datetime64[us, UTC]")
    for column in ("metric_value", "expected_min", "expected_max"):
        frame[column] = pd.Series(dtype="float64")
    return frame


def alert_rows(
    *,
    org_id: pd.Series,
    machine_id: pd.Series,
    alert_type: str,
    timestamp_utc: pd.Series,
    metric_name: pd.Series | str,
    metric_value: pd.Series | float | None = None,
    expected_min: pd.Series | float | None = None,
    expected_max: pd.Series | float | None = None,
    severity: pd.Series | str = "WARNING",
    details: pd.Series | None = None,
) -> pd.DataFrame:
    """Alert rows aligned on the given series; `details` holds one dict per row (jsonb)."""
    if len(timestamp_utc) == 0:
        return empty_alerts()
    timestamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamp_utc), utc=True)).as_unit("us")
    frame = pd.DataFrame(
        {
            "org_id": np.asarray(org_id, dtype=object),
            "machine_id": np.asarray(machine_id, dtype=object),
            "alert_type": alert_type,
            "timestamp_utc": timestamps,
            "metric_name": np.asarray(metric_name, dtype=object)
            if not isinstance(metric_name, str)
            else metric_name,
            "metric_value": _floats(metric_value, len(timestamps)),
            "expected_min": _floats(expected_min, len(timestamps)),
            "expected_max": _floats(expected_max, len(timestamps)),
            "severity": severity if isinstance(severity, str) else np.asarray(severity, dtype=object),
            "details": list(details) if details is not None else [{} for _ in range(len(timestamps))],
            "partition_date": timestamps.date,
        }
    )
    return frame[ALERT_COLUMNS]


def _floats(values: pd.Series | float | None, length: int) -> np.ndarray:
    if values is None:
        return np.full(length, np.nan)
    if np.isscalar(values):
        return np.full(length, float(values))  # type: ignore[arg-type]
    return pd.to_numeric(np.asarray(values), errors="coerce").astype("float64")


def concat_alerts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else empty_alerts()
