"""Rows for the `data_quality_alerts` table, built the same way by every data-quality rule.

A rule first states its findings (one row per offending reading, gap or short hour) with
`alert_rows`; `group_hourly` then makes one alert per sensor, rule and hour of them, carrying the
number of offending readings (`reading_count`) and the first and last offending reading (time and
value). `summarize_alerts` turns a day's alerts into what a failed check says: the rule, the
counts, the worst sensors and where to look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

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
    "reading_count",
    "first_reading_at",
    "first_value",
    "last_reading_at",
    "last_value",
]
FLOAT_COLUMNS = ("metric_value", "expected_min", "expected_max", "first_value", "last_value")
TIME_COLUMNS = ("timestamp_utc", "first_reading_at", "last_reading_at")

OUT_OF_RANGE = "OUT_OF_RANGE"
DUPLICATE = "DUPLICATE"
GAP = "GAP"
LOW_COMPLETENESS = "LOW_COMPLETENESS"
PERFORMANCE_ABOVE_LIMIT = "PERFORMANCE_ABOVE_LIMIT"
UNKNOWN_TIME = "UNKNOWN_TIME"
UNKNOWN_REASON_CODE = "UNKNOWN_REASON_CODE"


def empty_alerts() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in ALERT_COLUMNS})
    for column in TIME_COLUMNS:
        frame[column] = pd.Series(dtype="datetime64[us, UTC]")
    for column in FLOAT_COLUMNS:
        frame[column] = pd.Series(dtype="float64")
    frame["reading_count"] = pd.Series(dtype="int64")
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
    reading_count: pd.Series | int = 1,
    first_reading_at: pd.Series | None = None,
    first_value: pd.Series | float | None = None,
    last_reading_at: pd.Series | None = None,
    last_value: pd.Series | float | None = None,
) -> pd.DataFrame:
    """Alert rows aligned on the given series; `details` holds one dict per row (jsonb).

    `reading_count` is how many readings the row stands for (missing ones for a short hour); the
    first / last reading (time and value) are the offending readings that open and close it.
    """
    if len(timestamp_utc) == 0:
        return empty_alerts()
    timestamps = _times(timestamp_utc)
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
            "reading_count": np.asarray(reading_count, dtype=np.int64)
            if not np.isscalar(reading_count)
            else np.full(len(timestamps), int(reading_count), dtype=np.int64),  # type: ignore[arg-type]
            "first_reading_at": _times(first_reading_at, len(timestamps)),
            "first_value": _floats(first_value, len(timestamps)),
            "last_reading_at": _times(last_reading_at, len(timestamps)),
            "last_value": _floats(last_value, len(timestamps)),
        }
    )
    return frame[ALERT_COLUMNS]


def _times(values: pd.Series | None, length: int = 0) -> pd.DatetimeIndex:
    if values is None:
        return pd.DatetimeIndex(np.full(length, np.datetime64("NaT", "us")), tz="UTC").as_unit("us")
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(values), utc=True)).as_unit("us")


def _floats(values: pd.Series | float | None, length: int) -> np.ndarray:
    if values is None:
        return np.full(length, np.nan)
    if np.isscalar(values):
        return np.full(length, float(values))  # type: ignore[arg-type]
    return pd.to_numeric(np.asarray(values), errors="coerce").astype("float64")


def concat_alerts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else empty_alerts()


GROUP_KEYS = ["org_id", "machine_id", "alert_type", "metric_name", "hour"]
SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "ERROR": 2}
HOURLY_METRICS = ("worst", "sum", "max", "min")


def group_hourly(findings: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One alert per sensor (machine and metric_name), rule and UTC hour of `findings` (`alert_rows`).

    `timestamp_utc` becomes the start of the hour and `reading_count` the findings' sum; the first /
    last reading are those of the earliest / latest finding. `metric_value` is, per `metric`: "worst"
    the value furthest outside [expected_min, expected_max], or the "sum", "max" or "min" of the
    findings' values. Severity is the most severe finding's; details are the earliest finding's.
    """
    if metric not in HOURLY_METRICS:
        raise ValueError(f"metric must be one of {', '.join(HOURLY_METRICS)}, not {metric!r}")
    if findings.empty:
        return empty_alerts()
    frame = findings.reset_index(drop=True)
    frame = frame.assign(hour=pd.DatetimeIndex(frame["timestamp_utc"]).floor("h"))
    frame["_group"] = frame.groupby(GROUP_KEYS, dropna=False, sort=True).ngroup()
    by_first = frame.sort_values(["first_reading_at", "timestamp_utc"], na_position="last", kind="stable")
    first = by_first.drop_duplicates("_group").set_index("_group").sort_index()
    by_last = frame.sort_values(["last_reading_at", "timestamp_utc"], na_position="first", kind="stable")
    last = by_last.drop_duplicates("_group", keep="last").set_index("_group").sort_index()
    grouped = frame.groupby("_group", sort=True)
    result = first[["org_id", "machine_id", "alert_type", "metric_name", "hour"]].copy()
    result["timestamp_utc"] = result.pop("hour")
    result["metric_value"] = _group_metric(frame, grouped, metric)
    result["expected_min"] = first["expected_min"]
    result["expected_max"] = first["expected_max"]
    rank = grouped["severity"].agg(lambda values: max(values, key=lambda name: SEVERITY_RANK.get(name, 1)))
    result["severity"] = rank
    result["details"] = first["details"]
    result["partition_date"] = pd.DatetimeIndex(result["timestamp_utc"]).date
    result["reading_count"] = grouped["reading_count"].sum().astype("int64")
    result["first_reading_at"] = first["first_reading_at"]
    result["first_value"] = first["first_value"]
    result["last_reading_at"] = last["last_reading_at"]
    result["last_value"] = last["last_value"]
    return result.reset_index(drop=True)[ALERT_COLUMNS]


def _group_metric(frame: pd.DataFrame, grouped: pd.core.groupby.DataFrameGroupBy, metric: str) -> pd.Series:
    if metric != "worst":
        return grouped["metric_value"].agg(metric)
    value = frame["metric_value"].to_numpy(dtype=float)
    below = frame["expected_min"].to_numpy(dtype=float) - value
    above = value - frame["expected_max"].to_numpy(dtype=float)
    excess = pd.Series(np.fmax(below, above), index=frame.index).fillna(-np.inf)
    worst = frame.assign(_excess=excess).sort_values("_excess", ascending=False, kind="stable")
    return worst.drop_duplicates("_group").set_index("_group")["metric_value"].sort_index()


@dataclass(frozen=True)
class RuleGuide:
    meaning: str  # what one finding of the rule is
    where_to_look: str  # the usual causes, in the order to rule them out


RULE_GUIDES = {
    OUT_OF_RANGE: RuleGuide(
        "readings outside their sensor's range in sensor_range_config (ALERT kept, DEGRADE kept at "
        "quality 50, REJECT removed)",
        "Short spikes on one sensor point at the sensor or its wiring; a sensor out of range for hours "
        "points at the range itself (the plant model's sensor ranges) or a unit / scale in the tag "
        "mapping.",
    ),
    DUPLICATE: RuleGuide(
        "readings repeating the same value of the same sensor within 1 s (removed before enrichment)",
        "Repeats come from the source: an MQTT publisher re-sending (QoS 1), a historian returning a "
        "boundary point twice, a file imported twice. Compare the raw readings' source_system.",
    ),
    GAP: RuleGuide(
        "sensors silent for longer than 3x their polling interval (iot_sensors)",
        "The device, its network, the broker or the IoT ingester at that time; first_reading_at .. "
        "last_reading_at bound the silence.",
    ),
    LOW_COMPLETENESS: RuleGuide(
        "hours with under 90 % of a sensor's expected readings (reading_count: the missing ones)",
        "Usually the same silence as a GAP alert of that hour; otherwise a polling interval in "
        "iot_sensors that does not match the device.",
    ),
}
WORST_SENSORS = 5


@dataclass(frozen=True)
class AlertSummary:
    """What a data-quality check reports about a run's days: counts, the worst sensors, where to look."""

    passed: bool
    counts: dict[str, int]
    what_failed: str
    worst_sensors: pd.DataFrame  # machine_id, metric_name, alert_type, alerts, readings, first/last
    where_to_look: str

    def worst_sensors_markdown(self) -> str:
        header = (
            "| machine | sensor | rule | alerts (hours) | readings | first | last | largest value | range |"
        )
        lines = [header, "|---|---|---|---:|---:|---|---|---:|---|"]
        for row in self.worst_sensors.itertuples(index=False):
            lines.append(
                f"| {row.machine_id} | {row.metric_name} | {row.alert_type} | {row.alerts} | {row.readings} "
                f"| {_moment(row.first_reading_at)} | {_moment(row.last_reading_at)} "
                f"| {_number(row.worst_value)} | {_number(row.expected_min)} .. {_number(row.expected_max)} |"
            )
        return "\n".join(lines)


def summarize_alerts(alerts: pd.DataFrame, alert_types: Sequence[str], days: Sequence[date]) -> AlertSummary:
    """The alerts of `alert_types` on `days` (grouped rows, as stored) as a check reports them."""
    alerts = alerts[alerts["alert_type"].isin(list(alert_types))]
    counts: dict[str, int] = {}
    for alert_type in alert_types:
        rows = alerts[alerts["alert_type"] == alert_type]
        counts[f"{alert_type.lower()}_alerts"] = len(rows)
        counts[f"{alert_type.lower()}_readings"] = int(rows["reading_count"].sum())
    sensors = alerts.assign(worst_value=alerts["metric_value"]).groupby(
        ["machine_id", "metric_name", "alert_type"], dropna=False, as_index=False
    )
    worst = (
        sensors.agg(
            alerts=("reading_count", "size"),
            readings=("reading_count", "sum"),
            first_reading_at=("first_reading_at", "min"),
            last_reading_at=("last_reading_at", "max"),
            worst_value=("worst_value", "max"),  # the largest value the hours report
            expected_min=("expected_min", "first"),
            expected_max=("expected_max", "first"),
        )
        .sort_values(
            ["readings", "alerts", "machine_id", "metric_name"], ascending=[False, False, True, True]
        )
        .head(WORST_SENSORS)
        .reset_index(drop=True)
    )
    span = _span(days)
    failed = [
        f"{alert_type}: {counts[f'{alert_type.lower()}_alerts']:,} alerts (sensor-hours), "
        f"{counts[f'{alert_type.lower()}_readings']:,} {_unit(alert_type)} on "
        f"{_sensors(alerts, alert_type)} sensors, {span}: {RULE_GUIDES[alert_type].meaning}"
        for alert_type in alert_types
        if counts[f"{alert_type.lower()}_alerts"]
    ]
    return AlertSummary(
        passed=alerts.empty,
        counts=counts,
        what_failed="\n".join(failed),
        worst_sensors=worst,
        where_to_look=_where_to_look(alert_types, days, worst),
    )


def _where_to_look(alert_types: Sequence[str], days: Sequence[date], worst: pd.DataFrame) -> str:
    first, last = min(days), max(days)
    types = ", ".join(f"'{alert_type}'" for alert_type in alert_types)
    lines = [f"- {alert_type}: {RULE_GUIDES[alert_type].where_to_look}" for alert_type in alert_types]
    if not worst.empty:
        top = worst.iloc[0]
        lines.append(
            f"- Start with {top['machine_id']} {top['metric_name']} ({top['alert_type']}, "
            f"{int(top['readings'])} readings, first at {_moment(top['first_reading_at'])}): its raw "
            f"readings are in the lake under telemetry/source=*/date={_day(top['first_reading_at'], first)}/."
        )
    lines.append(
        "- Every alert, one row per sensor, rule and hour:\n\n"
        "```sql\n"
        "SELECT machine_id, metric_name, alert_type, timestamp_utc AS hour, reading_count,\n"
        "       first_reading_at, first_value, last_reading_at, last_value, expected_min, expected_max\n"
        f"FROM data_quality_alerts\nWHERE alert_type IN ({types})\n"
        f"  AND partition_date BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'\n"
        "ORDER BY reading_count DESC;\n```"
    )
    return "\n".join(lines)


def _sensors(alerts: pd.DataFrame, alert_type: str) -> int:
    rows = alerts[alerts["alert_type"] == alert_type]
    return len(rows[["machine_id", "metric_name"]].drop_duplicates())


def _unit(alert_type: str) -> str:
    return {GAP: "silences", LOW_COMPLETENESS: "missing readings"}.get(alert_type, "readings")


def _span(days: Sequence[date]) -> str:
    first, last = min(days), max(days)
    return first.isoformat() if first == last else f"{first.isoformat()} .. {last.isoformat()}"


def _day(moment: object, fallback: date) -> str:
    return fallback.isoformat() if pd.isna(moment) else pd.Timestamp(moment).date().isoformat()  # type: ignore[arg-type]


def _moment(moment: object) -> str:
    return "" if pd.isna(moment) else pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]


def _number(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):g}"  # type: ignore[arg-type]
