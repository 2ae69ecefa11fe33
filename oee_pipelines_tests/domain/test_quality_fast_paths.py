"""The range rule and the duplicate grouping without pandas merges / groupbys (issue 19 item 7) give
the very results of the code they replaced, kept here as the reference: rules missing, inactive or
given twice, readings of machines and signals without a rule, null qualities, NaN values, no rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain.alerts import OUT_OF_RANGE, alert_rows, group_hourly
from oee_pipelines.domain.quality import (
    ACTION_SEVERITY,
    DEGRADED_QUALITY,
    RuleResult,
    _group_codes,
    check_ranges,
)


def _former_check_ranges(telemetry: pd.DataFrame, sensor_range_config: pd.DataFrame) -> RuleResult:
    rules = sensor_range_config[sensor_range_config["is_active"].astype(bool)]
    rules = rules.drop_duplicates(["machine_id", "signal_type"], keep="last")
    limits = telemetry[["machine_id", "signal"]].merge(
        rules[["machine_id", "signal_type", "min_value", "max_value", "violation_action"]].rename(
            columns={"signal_type": "signal"}
        ),
        on=["machine_id", "signal"],
        how="left",
    )
    value = telemetry["value"].to_numpy(dtype=float)
    low, high = limits["min_value"].to_numpy(dtype=float), limits["max_value"].to_numpy(dtype=float)
    violated = (value < low) | (value > high)
    action = limits["violation_action"].to_numpy(dtype=object)
    degrade, reject = violated & (action == "DEGRADE"), violated & (action == "REJECT")
    result = telemetry.copy()
    result["quality"] = np.where(
        degrade, np.minimum(result["quality"].fillna(100), DEGRADED_QUALITY), result["quality"]
    )
    result = result[~reject]
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
    counts = {
        "checked": int((~np.isnan(low)).sum()),
        "violations": int(violated.sum()),
        "alerted": int((violated & (action == "ALERT")).sum()),
        "degraded": int(degrade.sum()),
        "rejected": int(reject.sum()),
    }
    return RuleResult(frame=result, alerts=group_hourly(findings, metric="worst"), counts=counts)


RULES = pd.DataFrame(
    {
        "machine_id": ["M1", "M1", "M1", "M2", "M2", "M3", "M1"],
        "signal_type": [
            "temperature",
            "pressure",
            "vibration",
            "temperature",
            "pressure",
            "speed",
            "pressure",
        ],
        "min_value": [10.0, 1.0, 0.0, 10.0, None, 5.0, 2.0],
        "max_value": [90.0, 5.0, 2.0, 90.0, 3.0, 50.0, 4.0],
        "violation_action": ["ALERT", "DEGRADE", "REJECT", "REJECT", "DEGRADE", "REJECT", "DEGRADE"],
        "is_active": [True, True, True, True, True, False, True],
    }
)


def _readings(rows: int, seed: int, with_null_quality: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    quality = rng.choice(np.array([100, 80, 30]), rows).astype(float if with_null_quality else np.int16)
    if with_null_quality:
        quality[rng.random(rows) < 0.2] = np.nan
    frame = pd.DataFrame(
        {
            "org_id": "demo",
            "machine_id": rng.choice(np.array(["M1", "M2", "M3", "M9"], dtype=object), rows),
            "signal": rng.choice(
                np.array(["temperature", "pressure", "vibration", "speed"], dtype=object), rows
            ),
            "ts": pd.Timestamp("2025-01-13", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 7200, rows), unit="s"),
            "value": rng.choice(np.array([-1.0, 0.5, 1.5, 3.5, 4.5, 6.0, 60.0, 95.0, np.nan]), rows),
            "text_value": None,
            "quality": quality,
        }
    )
    # A shuffled, non-default index: the rules keep their rows' labels.
    return frame.set_axis(rng.permutation(rows) * 3 + 7)


@pytest.mark.parametrize(("seed", "with_null_quality"), [(1, False), (2, True), (3, True)])
def test_check_ranges_gives_what_the_merge_gave(seed: int, with_null_quality: bool) -> None:
    telemetry = _readings(2_000, seed, with_null_quality)
    expected = _former_check_ranges(telemetry, RULES)
    result = check_ranges(telemetry, RULES)
    assert result.counts == expected.counts
    assert expected.counts["rejected"] and expected.counts["degraded"] and expected.counts["alerted"]
    pd.testing.assert_frame_equal(result.frame, expected.frame)
    pd.testing.assert_frame_equal(result.alerts, expected.alerts)


def test_check_ranges_without_any_rule_keeps_every_reading_unchanged() -> None:
    telemetry = _readings(50, 4, with_null_quality=True)
    no_rules = RULES.iloc[0:0]
    expected = _former_check_ranges(telemetry, no_rules)
    result = check_ranges(telemetry, no_rules)
    assert (
        result.counts
        == expected.counts
        == {
            "checked": 0,
            "violations": 0,
            "alerted": 0,
            "degraded": 0,
            "rejected": 0,
        }
    )
    pd.testing.assert_frame_equal(result.frame, expected.frame)
    pd.testing.assert_frame_equal(result.frame, telemetry)


def test_check_ranges_of_no_readings() -> None:
    telemetry = _readings(10, 5, with_null_quality=False).iloc[0:0]
    result = check_ranges(telemetry, RULES)
    assert result.frame.empty and result.alerts.empty and result.counts["checked"] == 0


@pytest.mark.parametrize("seed", [11, 12])
def test_group_codes_split_rows_exactly_as_groupby_ngroup(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 3_000
    frame = pd.DataFrame(
        {
            "machine_id": rng.choice(np.array(["M1", "M2", None], dtype=object), rows),
            "signal": rng.choice(np.array(["a", "b", "c"], dtype=object), rows),
            "value": rng.choice(np.array([0.0, -0.0, 1.5, np.nan, 7.25]), rows),
            "text_value": rng.choice(np.array(["RUNNING", None, np.nan, "IDLE"], dtype=object), rows),
        }
    )
    keys = list(frame.columns)
    expected = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    codes = _group_codes(frame, keys)
    # The same partition: a one-to-one map between the two numberings.
    pairs = set(zip(codes.tolist(), expected.tolist(), strict=True))
    assert len(pairs) == len(set(codes.tolist())) == len(set(expected.tolist()))
    assert len(pairs) > 20
