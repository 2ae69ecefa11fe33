"""The demo's fault manifest matched with the alerts that found each fault (pure, hand-computed)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from oee_pipelines.defs.telemetry import checks as telemetry_checks
from oee_pipelines.domain.injected_faults import CHECK_OF_ALERT, fault_lines, injected_totals, manifest

DOCUMENT = manifest(
    [
        {"day": "2025-01-12", "signal": "temperature", "fault": "spike", "count": 100},  # before the demo
        {"day": "2025-01-13", "signal": "temperature", "fault": "spike", "count": 7},
        {"day": "2025-01-14", "signal": "pressure", "fault": "spike", "count": 5},
        {"day": "2025-01-13", "signal": "pressure", "fault": "duplicate", "count": 3},
        {"day": "2025-01-14", "signal": "humidity", "fault": "dropout", "count": 4},
        {"day": "2025-01-14", "signal": "humidity", "fault": "questionable", "count": 9},
    ],
    seed=42,
)


def test_totals_cover_the_demo_days_only() -> None:
    totals = injected_totals(DOCUMENT, date(2025, 1, 13), date(2025, 1, 14))
    assert totals == {"spike": 12, "duplicate": 3, "dropout": 4, "questionable": 9}
    assert "simulator" in DOCUMENT["note"] and DOCUMENT["seed"] == 42


def test_each_fault_is_put_beside_the_check_that_caught_it() -> None:
    totals = injected_totals(DOCUMENT, date(2025, 1, 13), date(2025, 1, 14))
    found = {"OUT_OF_RANGE": (10, 12), "GAP": (1, 1), "LOW_COMPLETENESS": (2, 30)}
    lines = fault_lines(totals, found)
    assert len(lines) == 4
    spike, duplicate, dropout, questionable = lines
    assert spike.startswith("out-of-range spikes") and spike.endswith(
        "-> caught by readings_within_range: 12 readings in 10 OUT_OF_RANGE"
    )
    assert duplicate.endswith("-> not caught by any check")  # no DUPLICATE alert was found
    assert dropout.endswith(
        "-> caught by telemetry_complete: 1 gaps in 1 GAP, 30 missing readings in 2 LOW_COMPLETENESS "
        "(gaps are looked for only on sensors with a polling interval (iot_sensors))"
    )
    assert questionable.endswith("-> no check: the readings are kept with quality 50")


def test_the_named_checks_are_the_checks_on_enriched_telemetry() -> None:
    checks = {
        key.name
        for value in vars(telemetry_checks).values()
        if isinstance(value, dg.AssetChecksDefinition)
        for key in value.check_keys
        if key.asset_key == dg.AssetKey("enriched_telemetry")
    }
    assert set(CHECK_OF_ALERT.values()) <= checks and len(checks) == 4
