"""Data-quality rules on telemetry and snapshots; each returns the data after the rule, counts and alerts.

- ranges: readings outside `sensor_range_config` get the configured action (ALERT keeps the
  reading, DEGRADE sets its quality to 50, REJECT removes it);
- duplicates: same machine, signal, value (and text value) within 1 s of an earlier reading are
  removed;
- completeness: silences longer than a multiple of a sensor's expected interval (gaps) and the
  share of expected readings present per sensor per hour;
- performance above 105 %: one alert per snapshot (a wrong ideal cycle time is the usual cause).

The telemetry rules give one alert per sensor, rule and UTC hour (`alerts.group_hourly`), whose
`reading_count` is the offending readings (ranges, duplicates), the silences (gaps) or the
missing readings (completeness), with the first and last offending reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oee_pipelines.domain.alerts import (
    DUPLICATE,
    GAP,
    LOW_COMPLETENESS,
    OUT_OF_RANGE,
    PERFORMANCE_ABOVE_LIMIT,
    alert_rows,
    concat_alerts,
    group_hourly,
)
from oee_pipelines.domain.intervals import MICROS_PER_SECOND, as_utc, from_micros, silences, to_micros
from oee_pipelines.domain.oee import PERFORMANCE_ALERT_PCT

DEGRADED_QUALITY = 50
ACTION_SEVERITY = {"ALERT": "WARNING", "DEGRADE": "WARNING", "REJECT": "ERROR"}


@dataclass(frozen=True)
class RuleResult:
    frame: pd.DataFrame
    alerts: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def check_ranges(telemetry: pd.DataFrame, sensor_range_config: pd.DataFrame) -> RuleResult:
    """Apply each active range rule (machine_id + signal_type) to the matching readings."""
    rules = sensor_range_config[sensor_range_config["is_active"].astype(bool)]
    rules = rules.drop_duplicates(["machine_id", "signal_type"], keep="last").reset_index(drop=True)
    # Each reading's rule row; -1 (no rule) takes the NaN appended after the rules' values.
    rule = _rule_of_each_reading(telemetry, rules)
    value = telemetry["value"].to_numpy(dtype=float)
    low = np.append(rules["min_value"].to_numpy(dtype=float), np.nan)[rule]
    high = np.append(rules["max_value"].to_numpy(dtype=float), np.nan)[rule]
    violated = (value < low) | (value > high)
    action = np.append(rules["violation_action"].to_numpy(dtype=object), np.nan)[rule]
    degrade, reject = violated & (action == "DEGRADE"), violated & (action == "REJECT")
    quality = np.where(
        degrade, np.minimum(telemetry["quality"].fillna(100), DEGRADED_QUALITY), telemetry["quality"]
    )
    # One gather of the kept rows (not a copy of the whole day, then a second one without the rejected).
    result = telemetry.take(np.flatnonzero(~reject))
    result["quality"] = quality[~reject]
    bad = telemetry[violated]
    bad_action = pd.Series(action[violated], dtype=object)
    findings = alert_rows(
        org_id=bad["org_id"],
        machine_id=bad["machine_id"],
        alert_type=OUT_OF_RANGE,
        timestamp_utc=bad["ts"],
        metric_name=bad["signal"],
        metric_value=bad["value"],
        expected_min=pd.Series(low[violated]),
        expected_max=pd.Series(high[violated]),
        severity=bad_action.map(ACTION_SEVERITY),
        details=pd.Series([{"action": name} for name in bad_action], dtype=object),
        first_reading_at=bad["ts"],
        first_value=bad["value"],
        last_reading_at=bad["ts"],
        last_value=bad["value"],
    )
    alerts = group_hourly(findings, metric="worst")
    counts = {
        "checked": int((~np.isnan(low)).sum()),
        "violations": int(violated.sum()),
        "alerted": int((violated & (action == "ALERT")).sum()),
        "degraded": int(degrade.sum()),
        "rejected": int(reject.sum()),
    }
    return RuleResult(frame=result, alerts=alerts, counts=counts)


def _rule_of_each_reading(telemetry: pd.DataFrame, rules: pd.DataFrame) -> np.ndarray:
    """Row of `rules` (unique machine_id, signal_type) matching each reading's machine and signal, -1 if none.

    The readings' keys are coded once each (not merged as pairs): a rule is found on a machines x
    signals grid of those codes."""
    machine_codes, machines = pd.factorize(telemetry["machine_id"])
    signal_codes, signals = pd.factorize(telemetry["signal"])
    rule_machine = pd.Index(machines).get_indexer(rules["machine_id"])
    rule_signal = pd.Index(signals).get_indexer(rules["signal_type"])
    known = (rule_machine >= 0) & (rule_signal >= 0)
    # A last row and column of -1: a reading without machine or signal (code -1) finds no rule.
    grid = np.full((len(machines) + 1, len(signals) + 1), -1, dtype=np.int64)
    grid[rule_machine[known], rule_signal[known]] = np.flatnonzero(known)
    return grid[machine_codes, signal_codes]


def drop_duplicates(telemetry: pd.DataFrame, tolerance_seconds: float = 1.0) -> RuleResult:
    """Remove readings equal to an earlier one of the same machine and signal less than 1 s before it."""
    keys = ["machine_id", "signal", "value", "text_value"]
    # Readings of one (machine, signal, value, text_value) form a group (nulls equal to nulls); within a
    # group, in time order (ties in row order), a reading closer than the tolerance to the one before
    # it is a duplicate. Group codes sorted with numpy, not the key columns themselves (issue 19).
    group = _group_codes(telemetry, keys)
    micros = to_micros(telemetry["ts"])
    order = np.lexsort((np.arange(len(telemetry)), micros, group))
    duplicate_in_order = np.zeros(len(telemetry), dtype=bool)
    if len(telemetry) > 1:
        same = group[order][1:] == group[order][:-1]
        close = np.diff(micros[order]) < tolerance_seconds * MICROS_PER_SECOND
        duplicate_in_order[1:] = same & close
    duplicate = np.empty(len(telemetry), dtype=bool)
    duplicate[order] = duplicate_in_order
    removed = telemetry[duplicate]
    findings = alert_rows(
        org_id=removed["org_id"],
        machine_id=removed["machine_id"],
        alert_type=DUPLICATE,
        timestamp_utc=removed["ts"],
        metric_name=removed["signal"],
        metric_value=1.0,  # summed per hour: the duplicates removed
        first_reading_at=removed["ts"],
        first_value=removed["value"],
        last_reading_at=removed["ts"],
        last_value=removed["value"],
    )
    alerts = group_hourly(findings, metric="sum")
    frame = telemetry[~duplicate]
    return RuleResult(
        frame=frame, alerts=alerts, counts={"readings": len(telemetry), "duplicates": len(removed)}
    )


def _group_codes(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """A code per row, equal where all `keys` are equal (nulls equal to nulls): the groups of
    `groupby(keys, dropna=False)`, from each column's factorize codes (as groupby codes them)
    combined in int64; re-coded only when the next product could overflow."""
    combined = np.zeros(len(frame), dtype=np.int64)
    bound = 1  # combined < bound
    for key in keys:
        codes, uniques = pd.factorize(frame[key], sort=False, use_na_sentinel=False)
        width = max(len(uniques), 1)
        if bound > (1 << 62) // width:
            combined = pd.factorize(combined, sort=False)[0].astype(np.int64, copy=False)
            bound = max(len(frame), 1)
        combined = combined * width + codes
        bound *= width
    return combined


def expected_intervals_from_iot_sensors(iot_sensors: pd.DataFrame) -> pd.DataFrame:
    """machine_id, signal, expected_interval_s of active polled sensors (`iot_sensors` table)."""
    active = iot_sensors[
        iot_sensors["is_active"].astype(bool) & iot_sensors["polling_interval_seconds"].notna()
    ]
    return pd.DataFrame(
        {
            "org_id": active["org_id"].to_numpy(),
            "machine_id": active["machine_id"].to_numpy(),
            "signal": active["sensor_type"].to_numpy(),
            "expected_interval_s": active["polling_interval_seconds"].astype(float).to_numpy(),
        }
    )


def check_completeness(
    telemetry: pd.DataFrame,
    expected_intervals: pd.DataFrame,
    range_start: pd.Timestamp,
    range_end: pd.Timestamp,
    gap_multiple: float = 3.0,
    min_hourly_share: float = 0.9,
) -> RuleResult:
    """Gaps longer than `gap_multiple` x the expected interval, and per-hour shares of readings present.

    `expected_intervals`: org_id, machine_id, signal, expected_interval_s. The frame returned holds
    one row per sensor and hour: expected, present (distinct timestamps, at most expected), share.
    """
    start, end = as_utc(range_start), as_utc(range_end)
    sensors = expected_intervals.reset_index(drop=True)
    sensor_keys = pd.MultiIndex.from_frame(sensors[["machine_id", "signal"]])
    reading_keys = pd.MultiIndex.from_frame(telemetry[["machine_id", "signal"]])
    codes = sensor_keys.get_indexer(reading_keys).astype(np.int64)
    micros = to_micros(telemetry["ts"])
    interval_us = sensors["expected_interval_s"].to_numpy(dtype=float) * MICROS_PER_SECOND
    start_us, end_us = int(to_micros([start])[0]), int(to_micros([end])[0])
    gap_codes, gap_starts, gap_ends = silences(
        codes, micros, (gap_multiple * interval_us).astype(np.int64), start_us, end_us
    )
    gap_sensors = sensors.iloc[gap_codes]
    # A gap is found in the hour it starts: first / last reading are the readings around the silence.
    gap_findings = alert_rows(
        org_id=gap_sensors["org_id"],
        machine_id=gap_sensors["machine_id"],
        alert_type=GAP,
        timestamp_utc=pd.Series(from_micros(gap_starts)),
        metric_name=gap_sensors["signal"],
        metric_value=pd.Series((gap_ends - gap_starts) / MICROS_PER_SECOND),
        expected_max=pd.Series(gap_multiple * gap_sensors["expected_interval_s"].to_numpy()),
        first_reading_at=pd.Series(from_micros(gap_starts)),
        last_reading_at=pd.Series(from_micros(gap_ends)),
    )
    gap_alerts = group_hourly(gap_findings, metric="max")
    hourly = _hourly_share(sensors, codes, micros, start_us, end_us)
    low = hourly[hourly["share"] < min_hourly_share]
    low_alerts = alert_rows(
        org_id=low["org_id"],
        machine_id=low["machine_id"],
        alert_type=LOW_COMPLETENESS,
        timestamp_utc=low["hour"],
        metric_name=low["signal"],
        metric_value=low["share"],
        expected_min=min_hourly_share,
        reading_count=(low["expected"] - low["present"]).astype("int64"),
        details=pd.Series(
            [
                {"present": int(p), "expected": int(e)}
                for p, e in zip(low["present"], low["expected"], strict=True)
            ],
            dtype=object,
        ),
    )
    counts = {"sensors": len(sensors), "gaps": len(gap_codes), "hours_below_share": len(low)}
    return RuleResult(frame=hourly, alerts=concat_alerts([gap_alerts, low_alerts]), counts=counts)


def _hourly_share(
    sensors: pd.DataFrame, codes: np.ndarray, micros: np.ndarray, start_us: int, end_us: int
) -> pd.DataFrame:
    hour_us = 3600 * MICROS_PER_SECOND
    inside = (codes >= 0) & (micros >= start_us) & (micros < end_us)
    readings = pd.DataFrame(
        {"sensor": codes[inside], "hour": micros[inside] // hour_us, "ts": micros[inside]}
    )
    present = readings.drop_duplicates().groupby(["sensor", "hour"]).size()
    hours = np.arange(start_us // hour_us, -(-end_us // hour_us))
    grid = pd.MultiIndex.from_product([np.arange(len(sensors)), hours], names=["sensor", "hour"])
    frame = present.reindex(grid, fill_value=0).rename("present").reset_index()
    hour_start = np.maximum(frame["hour"].to_numpy() * hour_us, start_us)
    hour_end = np.minimum((frame["hour"].to_numpy() + 1) * hour_us, end_us)
    interval_us = sensors["expected_interval_s"].to_numpy(dtype=float)[frame["sensor"]] * MICROS_PER_SECOND
    frame["expected"] = np.floor((hour_end - hour_start) / interval_us).astype(np.int64)
    frame["present"] = np.minimum(frame["present"], frame["expected"])
    frame["share"] = np.where(frame["expected"] > 0, frame["present"] / frame["expected"].clip(lower=1), 1.0)
    labels = sensors.iloc[frame["sensor"]][["org_id", "machine_id", "signal"]].reset_index(drop=True)
    frame["hour"] = from_micros(frame["hour"].to_numpy() * hour_us)
    return pd.concat([labels, frame[["hour", "expected", "present", "share"]]], axis=1)


def check_performance(snapshots: pd.DataFrame, limit_pct: float = PERFORMANCE_ALERT_PCT) -> RuleResult:
    """Snapshots whose raw performance exceeds the limit (usually a wrong ideal cycle time)."""
    flagged = snapshots[snapshots["performance_raw_pct"] > limit_pct]
    alerts = alert_rows(
        org_id=flagged["org_id"],
        machine_id=flagged["machine_id"],
        alert_type=PERFORMANCE_ABOVE_LIMIT,
        timestamp_utc=flagged["snapshot_time"],
        metric_name="performance_raw_pct",
        metric_value=flagged["performance_raw_pct"],
        expected_max=limit_pct,
        details=pd.Series([{"work_order_id": w} for w in flagged["work_order_id"]], dtype=object),
    )
    return RuleResult(
        frame=flagged, alerts=alerts, counts={"snapshots": len(snapshots), "above_limit": len(flagged)}
    )
